// cidr: an address range (10.0.0.0/8, ::1/128, or a bare address), used to
// decide which peers may set X-Forwarded-For. Immutable, thread safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include <boost/asio/ip/address.hpp>

namespace dg::server {

class cidr {
 public:
  // Parses "ADDR/BITS" or "ADDR"; nullopt if malformed.
  static std::optional<cidr> parse(std::string_view text);
  // True if `a` lies in the range; an IPv4-mapped IPv6 address matches IPv4 ranges.
  bool contains(const boost::asio::ip::address& a) const;

 private:
  bool v6_ = false;
  std::array<std::uint8_t, 16> bytes_{};
  int bits_ = 0;
};

}  // namespace dg::server
