#include "server/identity.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include <boost/beast/core/string.hpp>

#include "common/crypto.h"
#include "common/log.h"

namespace dg::server {

namespace http = boost::beast::http;
namespace ip = boost::asio::ip;

std::string_view to_string(credential_kind k) {
  switch (k) {
    case credential_kind::address: return "address";
    case credential_kind::bearer: return "bearer";
    case credential_kind::api_key: return "api_key";
    case credential_kind::header: return "header";
  }
  return "address";
}

namespace {
std::atomic<std::uint64_t> next_instance{1};

// The ids of the credentials an I/O thread saw last. HMAC-SHA256 through
// OpenSSL 3 costs about 3 us a call, a tenth of the proxy's own work per
// request, while a client sends the same key again and again.
struct id_cache {
  static constexpr std::size_t max_entries = 4096;
  std::uint64_t owner = 0;
  std::unordered_map<std::string, std::string> ids;  // kind byte + credential -> id
};
}  // namespace

identity_resolver::identity_resolver(std::string secret, std::string header,
                                     std::vector<cidr> trusted)
    : instance_(next_instance.fetch_add(1, std::memory_order_relaxed)),
      secret_(std::move(secret)),
      header_(std::move(header)),
      trusted_(std::move(trusted)) {}

std::string identity_resolver::client_id(credential_kind kind, std::string_view credential) const {
  thread_local id_cache cache;
  if (cache.owner != instance_ || cache.ids.size() >= id_cache::max_entries) {
    cache.ids.clear();
    cache.owner = instance_;
  }
  std::string key;
  key.reserve(credential.size() + 1);
  key.push_back(static_cast<char>(kind == credential_kind::api_key ? credential_kind::bearer : kind));
  key.append(credential);
  auto it = cache.ids.find(key);
  if (it == cache.ids.end()) it = cache.ids.emplace(std::move(key), derive_id(kind, credential)).first;
  return it->second;
}

std::string identity_resolver::derive_id(credential_kind kind, std::string_view credential) const {
  // An API key is one client whether it came as a bearer token or as x-api-key
  // (else one key would count as two clients and double its limits). The
  // configured header and the address keep their own domains, so that nobody
  // can present another user's header value or address as a key.
  std::string data;
  data.reserve(credential.size() + 10);
  data.append(kind == credential_kind::api_key ? to_string(credential_kind::bearer) : to_string(kind));
  data.push_back(':');
  data.append(credential);
  return to_hex(hmac_sha256(secret_, data), 16);
}

bool identity_resolver::trusted(const ip::address& a) const {
  for (const auto& c : trusted_) {
    if (c.contains(a)) return true;
  }
  return false;
}

namespace {
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

client_identity identity_resolver::identify(const http::fields& f, const ip::address& peer,
                                            std::string_view peer_text) const {
  client_identity out;
  ip::address addr = peer;
  if (!trusted_.empty() && trusted(peer)) {
    auto xff = f.find("x-forwarded-for");
    if (xff != f.end()) {
      addr = client_address(xff->value(), peer, trusted_);
      out.via_trusted_proxy = true;
    }
  }
  if (addr == peer && !peer_text.empty()) {
    out.peer_address.assign(peer_text);
  } else {
    out.peer_address = addr.to_string();
  }

  std::string_view credential;
  auto auth = f.find(http::field::authorization);
  if (auth != f.end()) {
    std::string_view v = trim(auth->value());
    if (v.size() > 7 && boost::beast::iequals(v.substr(0, 7), "bearer ")) v = trim(v.substr(7));
    if (!v.empty()) {
      out.kind = credential_kind::bearer;
      credential = v;
    }
  }
  if (credential.empty()) {
    auto key = f.find("x-api-key");
    if (key != f.end() && !trim(key->value()).empty()) {
      out.kind = credential_kind::api_key;
      credential = trim(key->value());
    }
  }
  if (credential.empty() && !header_.empty()) {
    auto h = f.find(header_);
    if (h != f.end() && !trim(h->value()).empty()) {
      out.kind = credential_kind::header;
      credential = trim(h->value());
    }
  }
  if (credential.empty()) {
    out.kind = credential_kind::address;
    out.client_id = client_id(out.kind, out.peer_address);
    out.hint = out.peer_address;
    return out;
  }
  out.client_id = client_id(out.kind, credential);
  out.hint = credential_hint(credential);
  return out;
}

std::string credential_hint(std::string_view credential) {
  if (credential.size() < 16) return "***";
  std::string out;
  const auto dash = credential.find('-');
  if (dash != std::string_view::npos && dash > 0 && dash <= 4) {
    out.append(credential.substr(0, dash + 1));
  }
  out.append("...");
  out.append(credential.substr(credential.size() - 4));
  return out;
}

ip::address client_address(std::string_view xff, const ip::address& peer,
                           const std::vector<cidr>& trusted) {
  // Walk from the right: each trusted hop vouches for the one before it.
  ip::address last = peer;
  while (!xff.empty()) {
    const auto comma = xff.rfind(',');
    std::string_view item = comma == std::string_view::npos ? xff : xff.substr(comma + 1);
    xff = comma == std::string_view::npos ? std::string_view() : xff.substr(0, comma);
    item = trim(item);
    // Accept "[v6]:port" and "v4:port" forms some proxies write.
    if (item.starts_with("[")) {
      const auto close = item.find(']');
      item = close == std::string_view::npos ? std::string_view() : item.substr(1, close - 1);
    } else if (std::count(item.begin(), item.end(), ':') == 1) {
      item = item.substr(0, item.find(':'));
    }
    boost::system::error_code ec;
    const auto a = ip::make_address(std::string(item), ec);
    if (ec) return last;  // garbage: trust no further
    last = a;
    bool is_trusted = false;
    for (const auto& c : trusted) is_trusted = is_trusted || c.contains(a);
    if (!is_trusted) return a;
  }
  return last;
}

status load_or_create_secret(const std::string& path, std::string& secret) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(path, ec)) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && (st.st_mode & S_IROTH) != 0) {
      log::warn("secret file is world-readable", {{"path", path}});
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) return status::io_error("cannot read the secret file " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    if (s.size() < 16) return status::invalid_argument("the secret in " + path + " is shorter than 16 bytes");
    secret = std::move(s);
    return status::ok();
  }
  const fs::path p(path);
  if (p.has_parent_path()) {
    fs::create_directories(p.parent_path(), ec);
    if (ec) return status::io_error("cannot create " + p.parent_path().string() + ": " + ec.message());
  }
  const std::string bytes = random_bytes(32);
  const std::string hex = to_hex(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return status::io_error("cannot create the secret file " + path + ": " + std::strerror(errno));
  const std::string line = hex + "\n";
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return status::io_error("cannot write the secret file " + path);
  log::info("generated a new identity secret", {{"path", path}});
  secret = hex;
  return status::ok();
}

}  // namespace dg::server
