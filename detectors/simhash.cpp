#include "detectors/simhash.h"

#include <algorithm>
#include <array>
#include <bit>

namespace dg::detectors {

namespace {

constexpr std::size_t planes = 40;  // counts up to 2^40
using counters = std::array<std::uint64_t, planes>;

// Adds v, weighted 2^level, to the 64 bit-sliced counters, whose counts fit in `top` planes. The
// carry runs through every plane up to `top` (a fixed count per prompt) instead of stopping when it
// is spent: where it stops depends on the hash bits, and a branch on that is mispredicted.
inline void add_at(counters& plane, std::uint64_t v, std::size_t level, std::size_t top) {
  for (std::size_t l = level; l < top; ++l) {
    const std::uint64_t carry = plane[l] & v;
    plane[l] ^= v;
    v = carry;
  }
}

// Carry-save adder: a + b + c = 2 * high + low, bit by bit.
inline void csa(std::uint64_t& high, std::uint64_t& low, std::uint64_t a, std::uint64_t b, std::uint64_t c) {
  const std::uint64_t u = a ^ b;
  high = (a & b) | (u & c);
  low = u ^ c;
}

}  // namespace

std::uint64_t simhash(std::span<const std::uint64_t> shingle_hashes) {
  // Bit-sliced counters: plane[l] holds bit l of each of the 64 per-bit counts. Inputs are summed
  // eight at a time by a carry-save adder tree (Harley and Seal), so the counters, whose carries
  // ripple far, see one value per eight shingles.
  counters plane{};
  std::uint64_t ones = 0, twos = 0, fours = 0;
  const std::uint64_t* h = shingle_hashes.data();
  std::size_t n = shingle_hashes.size(), i = 0;
  // A count is at most n: bit_width(n) planes hold it.
  const std::size_t top = std::min<std::size_t>(planes, static_cast<std::size_t>(std::bit_width(n)));
  for (; i + 8 <= n; i += 8) {
    std::uint64_t twos_a, twos_b, fours_a, fours_b, eights;
    csa(twos_a, ones, ones, h[i], h[i + 1]);
    csa(twos_b, ones, ones, h[i + 2], h[i + 3]);
    csa(fours_a, twos, twos, twos_a, twos_b);
    csa(twos_a, ones, ones, h[i + 4], h[i + 5]);
    csa(twos_b, ones, ones, h[i + 6], h[i + 7]);
    csa(fours_b, twos, twos, twos_a, twos_b);
    csa(eights, fours, fours, fours_a, fours_b);
    add_at(plane, eights, 3, top);
  }
  for (; i < n; ++i) add_at(plane, h[i], 0, top);
  add_at(plane, ones, 0, top);
  add_at(plane, twos, 1, top);
  add_at(plane, fours, 2, top);
  // Bit b is set when its count exceeds half the shingles: count >= n / 2 + 1, compared
  // bit-sliced from the top plane down.
  const std::uint64_t threshold = n / 2 + 1;
  std::uint64_t greater = 0, equal = ~0ULL;
  for (std::size_t l = planes; l-- > 0;) {
    if (threshold >> l & 1) {
      equal &= plane[l];
    } else {
      greater |= equal & plane[l];
      equal &= ~plane[l];
    }
  }
  return greater | equal;
}

}  // namespace dg::detectors
