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

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
// Inline: the engine calls it for each of a client's 32 earlier prompts on every event.
inline std::size_t equal_bbit_lanes(const bbit_signature& a, const bbit_signature& b) {
  static_assert(bbit_size == 32);
#if defined(__SSE2__)
  // Equal bytes are 0xff after the compare; 0 - 0xff = 1 per equal byte, summed by SAD.
  const __m128i zero = _mm_setzero_si128();
  const __m128i e0 = _mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a.data())),
                                    _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.data())));
  const __m128i e1 = _mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a.data() + 16)),
                                    _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.data() + 16)));
  const __m128i ones = _mm_sub_epi8(_mm_sub_epi8(zero, e0), e1);  // 0, 1 or 2 per byte pair
  const __m128i sums = _mm_sad_epu8(ones, zero);
  return static_cast<std::size_t>(_mm_cvtsi128_si32(sums) + _mm_extract_epi16(sums, 4));
#else
  std::size_t eq = 0;
  for (std::size_t k = 0; k < bbit_size; ++k) eq += a[k] == b[k];
  return eq;
#endif
}
double jaccard_from_equal_lanes(std::size_t equal);

}  // namespace dg::detectors
