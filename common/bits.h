// bits: bit counting without a libgcc call.
// Thread safety: pure functions.
#pragma once

#include <cstdint>

namespace dg {

// Set bits of x. Debian builds for baseline x86-64, which has no POPCNT, so std::popcount is a
// call into libgcc; the detectors count bits for every prompt, and these dozen inline
// instructions cost less than the call.
inline int bit_count(std::uint64_t x) {
  x -= (x >> 1) & 0x5555555555555555ULL;
  x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
  return static_cast<int>((x * 0x0101010101010101ULL) >> 56);
}

}  // namespace dg
