#include "server/cidr.h"

#include <charconv>
#include <string>

namespace dg::server {

namespace {
// The address as 16 bytes; IPv4 in the first 4.
std::array<std::uint8_t, 16> to_bytes(const boost::asio::ip::address& a, bool& v6) {
  std::array<std::uint8_t, 16> out{};
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    const auto v4 = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6()).to_bytes();
    std::copy(v4.begin(), v4.end(), out.begin());
    v6 = false;
  } else if (a.is_v4()) {
    const auto v4 = a.to_v4().to_bytes();
    std::copy(v4.begin(), v4.end(), out.begin());
    v6 = false;
  } else {
    out = a.to_v6().to_bytes();
    v6 = true;
  }
  return out;
}
}  // namespace

std::optional<cidr> cidr::parse(std::string_view text) {
  const auto slash = text.find('/');
  const std::string addr_text(text.substr(0, slash));
  boost::system::error_code ec;
  const auto addr = boost::asio::ip::make_address(addr_text, ec);
  if (ec) return std::nullopt;
  cidr c;
  c.bytes_ = to_bytes(addr, c.v6_);
  const int max_bits = c.v6_ ? 128 : 32;
  c.bits_ = max_bits;
  if (slash != std::string_view::npos) {
    const std::string_view b = text.substr(slash + 1);
    int bits = -1;
    auto [p, e] = std::from_chars(b.data(), b.data() + b.size(), bits);
    if (b.empty() || e != std::errc() || p != b.data() + b.size() || bits < 0 || bits > max_bits) {
      return std::nullopt;
    }
    c.bits_ = bits;
  }
  return c;
}

bool cidr::contains(const boost::asio::ip::address& a) const {
  bool v6 = false;
  const auto b = to_bytes(a, v6);
  if (v6 != v6_) return false;
  int left = bits_;
  for (std::size_t i = 0; left > 0; ++i, left -= 8) {
    const std::uint8_t mask =
        left >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - left));
    if ((b[i] & mask) != (bytes_[i] & mask)) return false;
  }
  return true;
}

}  // namespace dg::server
