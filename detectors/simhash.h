// simhash: Charikar's 64-bit SimHash over hashed shingles (unit weights). Near
// texts have near hashes in Hamming distance; the engine keys exact-repeat and
// near-repeat checks on it.
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <span>

#include "common/bits.h"

namespace dg::detectors {

std::uint64_t simhash(std::span<const std::uint64_t> shingle_hashes);

inline int hamming(std::uint64_t a, std::uint64_t b) { return bit_count(a ^ b); }

}  // namespace dg::detectors
