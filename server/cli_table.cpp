#include "server/cli_table.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>

namespace dg::server {

std::size_t display_width(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;  // count lead bytes only
  }
  return n;
}

namespace {
// The longest prefix of `s` (whole code points) that fits in `cols`, with "..." when cut.
std::string fit(const std::string& s, std::size_t cols) {
  if (display_width(s) <= cols) return s;
  if (cols <= 3) return std::string(cols, '.');
  std::size_t n = 0;
  std::size_t i = 0;
  for (; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) != 0x80) {
      if (n == cols - 3) break;
      ++n;
    }
  }
  return s.substr(0, i) + "...";
}
}  // namespace

std::size_t terminal_width(std::FILE* out) {
  const int fd = ::fileno(out);
  if (fd < 0 || ::isatty(fd) == 0) return 0;
  struct winsize ws {};
  if (::ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0) return 80;
  return ws.ws_col;
}

void cli_table::print(std::FILE* out, std::size_t width) const {
  const std::size_t ncols = header_.size();
  std::vector<std::size_t> w(ncols, 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < ncols && i < row.size(); ++i) w[i] = std::max(w[i], display_width(row[i]));
  };
  measure(header_);
  for (const auto& r : rows_) measure(r);

  auto line = [&](const std::vector<std::string>& row) {
    std::string s;
    std::size_t used = 0;
    for (std::size_t i = 0; i < ncols; ++i) {
      std::string cell = i < row.size() ? row[i] : "";
      const bool last = i + 1 == ncols;
      if (last && width > used) cell = fit(cell, width - used);
      s += cell;
      if (!last) {
        const std::size_t pad = w[i] - display_width(cell) + 2;
        s.append(pad, ' ');
        used += w[i] + 2;
      }
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    std::fprintf(out, "%s\n", s.c_str());
  };
  line(header_);
  for (const auto& r : rows_) line(r);
}

}  // namespace dg::server
