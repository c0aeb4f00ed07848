#include "server/admin_token.h"

#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/crypto.h"

namespace dg::server {

namespace {
bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
}  // namespace

status load_admin_token(const std::string& path, std::string& token) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return status::io_error("admin.token_file " + path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return status::invalid_argument("admin.token_file " + path + " is not a regular file");
  }
  if ((st.st_mode & (S_IROTH | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return status::invalid_argument("admin.token_file " + path + " is accessible by everyone (mode " +
                                    mode + "): chmod 600 (or 640 for a group) and restart");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return status::io_error("admin.token_file " + path + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  std::size_t b = 0;
  std::size_t e = text.size();
  while (b < e && is_space(text[b])) ++b;
  while (e > b && is_space(text[e - 1])) --e;
  text = text.substr(b, e - b);
  if (text.empty()) return status::invalid_argument("admin.token_file " + path + " is empty");
  if (text.find_first_of(" \t\r\n") != std::string::npos) {
    return status::invalid_argument("admin.token_file " + path + " holds more than one token");
  }
  if (text.size() < 16) {
    return status::invalid_argument("admin.token_file " + path +
                                    ": the token is shorter than 16 characters (try `openssl rand "
                                    "-hex 32`)");
  }
  token = std::move(text);
  return status::ok();
}

std::string_view bearer_token(std::string_view authorization) {
  constexpr std::string_view scheme = "bearer";
  if (authorization.size() <= scheme.size() + 1) return {};
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != scheme[i]) return {};
  }
  if (authorization[scheme.size()] != ' ') return {};
  std::string_view t = authorization.substr(scheme.size() + 1);
  while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
  return t;
}

bool bearer_matches(std::string_view authorization, std::string_view expected) {
  const std::string_view presented = bearer_token(authorization);
  // Always run the comparison, so that "no token" and "wrong token" take the same time.
  const bool equal = constant_time_equal(presented, expected);
  return equal && !presented.empty() && !expected.empty();
}

}  // namespace dg::server
