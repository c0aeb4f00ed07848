#include "detectors/simhash.h"

#include <array>

namespace dg::detectors {
namespace {

// expand[b]: byte b spread into eight bytes of 0 or 1, so eight counters are added at once.
constexpr std::array<std::uint64_t, 256> make_expand() {
  std::array<std::uint64_t, 256> t{};
  for (unsigned b = 0; b < 256; ++b) {
    std::uint64_t v = 0;
    for (unsigned i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>((b >> i) & 1u) << (8 * i);
    t[b] = v;
  }
  return t;
}
constexpr auto expand = make_expand();

}  // namespace

std::uint64_t simhash(std::span<const std::uint64_t> shingle_hashes) {
  std::array<std::uint32_t, 64> counts{};
  std::array<std::uint64_t, 8> packed{};  // 64 byte-wide counters, flushed before they overflow
  std::size_t in_packed = 0;
  auto flush = [&] {
    for (unsigned j = 0; j < 8; ++j) {
      for (unsigned i = 0; i < 8; ++i) counts[8 * j + i] += (packed[j] >> (8 * i)) & 0xff;
      packed[j] = 0;
    }
    in_packed = 0;
  };
  for (std::uint64_t h : shingle_hashes) {
    for (unsigned j = 0; j < 8; ++j) packed[j] += expand[(h >> (8 * j)) & 0xff];
    if (++in_packed == 255) flush();
  }
  flush();
  std::uint64_t out = 0;
  const std::size_t n = shingle_hashes.size();
  for (unsigned b = 0; b < 64; ++b) {
    if (2 * static_cast<std::size_t>(counts[b]) > n) out |= 1ULL << b;
  }
  return out;
}

}  // namespace dg::detectors
