// minhash: MinHash signatures over hashed word shingles, and the b-bit form the
// near-duplicate reservoir keeps. One hash per shingle, remixed by a seeded
// permutation (xor, odd multiply, xor-shift); the 64 lanes are filled by
// one-permutation hashing (Li, Owen and Zhang 2012: the top 6 bits choose the
// lane, each lane keeps its minimum) with optimal densification (Shrivastava
// 2017: an empty lane borrows the value of the lane a seeded probe sequence
// finds first), which estimates Jaccard similarity as 64 permutations would,
// in O(shingles + 64) instead of O(64 x shingles).
// Thread safety: a minhasher is immutable after construction.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace dg::detectors {

inline constexpr std::size_t minhash_size = 64;
using minhash_signature = std::array<std::uint32_t, minhash_size>;

// b-bit MinHash (Li and Koenig 2010): the low 8 bits of the first 32 lanes. Two random
// values agree with probability 1/256, which jaccard_bbit corrects for.
inline constexpr std::size_t bbit_size = 32;
using bbit_signature = std::array<std::uint8_t, bbit_size>;

class minhasher {
 public:
  explicit minhasher(std::uint64_t seed);
  // Signature of a set of 32-bit shingle hashes; all lanes 0xffffffff when empty.
  void sign(std::span<const std::uint32_t> shingles, minhash_signature& out) const;

 private:
  // Lane `from` an empty lane borrows: the first filled lane of its probe sequence.
  std::uint32_t borrow(std::uint32_t lane, std::uint64_t filled) const;

  std::uint32_t xor_ = 0, mul_ = 1;
  std::uint64_t probe_seed_ = 0;
  // The start of each lane's probe sequence, computed once (short prompts fill few lanes, and
  // every empty lane walks its sequence).
  static constexpr std::size_t probes_kept = 24;
  std::array<std::array<std::uint8_t, probes_kept>, minhash_size> probes_{};
};

// Share of equal lanes: an unbiased estimate of the Jaccard similarity.
double jaccard(const minhash_signature& a, const minhash_signature& b);
bbit_signature to_bbit(std::span<const std::uint32_t> sig);
double jaccard_bbit(const bbit_signature& a, const bbit_signature& b);
// The two halves of jaccard_bbit: lanes equal, and the estimate from that count (monotone, so
// the best of many comparisons is found on the counts alone).
std::size_t equal_bbit_lanes(const bbit_signature& a, const bbit_signature& b);
double jaccard_from_equal_lanes(std::size_t equal);

}  // namespace dg::detectors
