// text_normalise: the normalised form of a prompt that every text feature reads:
// ASCII lower-cased, every ASCII character that is not a letter or digit turned
// into a separator, UTF-8 sequences kept (they are letters in most scripts), and
// the words cut out with their seeded 64-bit hashes.
// Thread safety: pure functions.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace dg::detectors {

struct word {
  std::string_view text;  // a view into the normalised string
  std::uint64_t hash = 0;
  bool common = false;    // is_common_word(text)
};

// Writes the normalised text (words separated by one space, no leading or trailing space).
void normalise_text(std::string_view raw, std::string& out);

// Splits normalised text into words (at most max_words) and hashes each with `seed`.
void split_words(std::string_view normalised, std::uint64_t seed, std::vector<word>& out,
                 std::size_t max_words = 4096);

// The same hash split_words gives a word: cheap, seeded, well mixed.
std::uint64_t word_hash(std::string_view w, std::uint64_t seed);

inline std::uint64_t mix64(std::uint64_t h) {
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

namespace word_hash_detail {

__extension__ using u128 = unsigned __int128;

// The two halves of the 128-bit product, folded (wyhash's mixing step): one multiply spreads
// every input bit over the result.
inline std::uint64_t fold_mul(std::uint64_t a, std::uint64_t b) {
  const u128 p = static_cast<u128>(a) * b;
  return static_cast<std::uint64_t>(p) ^ static_cast<std::uint64_t>(p >> 64);
}

// The low k bytes (k in 0..8), without a branch or a shift by 64.
inline std::uint64_t bytes_mask(std::size_t k) {
  return ((std::uint64_t{1} << (8 * (k & 7))) - 1) | (std::uint64_t{0} - (k >> 3));
}

inline constexpr std::uint64_t k0 = 0x9e3779b97f4a7c15ULL, k1 = 0xa0761d6478bd642fULL,
                                k2 = 0xe7037ed1a0b428dbULL, k3 = 0x8ebc6af09c88c6e3ULL,
                                k4 = 0x589965cc75374cc3ULL;

// A word's hash from its last (up to 16) bytes, v1 and v2 masked, after `h` took the rest.
inline std::uint64_t finish(std::uint64_t h, std::uint64_t v1, std::uint64_t v2, std::uint64_t s) {
  return fold_mul(fold_mul(v1 ^ h ^ k1, v2 ^ s ^ k2) ^ k3, s ^ k4);
}

// Folds in 16 bytes of a longer word.
inline std::uint64_t step(std::uint64_t h, std::uint64_t v1, std::uint64_t v2, std::uint64_t s) {
  return fold_mul(v1 ^ h ^ k1, v2 ^ s ^ k2);
}

}  // namespace word_hash_detail

// word_hash of the n bytes at p, when the 16 bytes from the start of the last 16-byte chunk may be
// read (16 bytes of padding past p + n suffice): whole 8-byte loads, masked, and two multiplies.
// Nearly every word fits in one chunk, so no branch depends on the word's length.
inline std::uint64_t word_hash_padded(const unsigned char* p, std::size_t n, std::uint64_t seed) {
  using namespace word_hash_detail;
  const std::uint64_t s = seed ^ (n * k0);
  std::uint64_t h = s, v1, v2;
  for (; n > 16; n -= 16, p += 16) [[unlikely]] {
    std::memcpy(&v1, p, 8);
    std::memcpy(&v2, p + 8, 8);
    h = step(h, v1, v2, s);
  }
  std::memcpy(&v1, p, 8);
  std::memcpy(&v2, p + 8, 8);
  const std::size_t first = n < 8 ? n : 8;
  return finish(h, v1 & bytes_mask(first), v2 & bytes_mask(n - first), s);
}

// Whether a normalised word is one of the few hundred most common English words (function
// words and the verbs of instructions). The skeleton keeps these; content words are the rest.
bool is_common_word(std::string_view w);

// The common words' hashes under one seed, for the loops that hash every word anyway: one probe
// of a small open-addressed table instead of a string lookup. A false yes needs a 64-bit collision.
class common_hashes {
 public:
  // The table for `seed`, built once per seed and thread (an analyzer thread uses one seed).
  static const common_hashes& for_seed(std::uint64_t seed);
  // Four slots compared without branches (common and content words alternate unpredictably in
  // text), in an 8 KiB table that stays in the first-level cache.
  bool contains(std::uint64_t h) const {
    const std::uint32_t* s = slots_ + (std::rotl(h, rotation_) >> (64 - bits));
    const std::uint32_t f = fingerprint(h);
    return ((s[0] == f) | (s[1] == f) | (s[2] == f) | (s[3] == f)) != 0;
  }
  // Whether h is the hash of "a", "an" or "the" (without a branch).
  bool is_article(std::uint64_t h) const {
    return ((h == articles_[0]) | (h == articles_[1]) | (h == articles_[2])) != 0;
  }

 private:
  static constexpr unsigned bits = 11;
  static constexpr std::size_t size = std::size_t{1} << bits;
  static constexpr std::size_t probes = 4;
  // The low 32 bits (the slot comes from the high ones), never 0 (0 marks an empty slot).
  static std::uint32_t fingerprint(std::uint64_t h) { return static_cast<std::uint32_t>(h) | 1u; }
  void build(std::uint64_t seed);
  bool try_build(std::uint64_t seed, int rotation);
  std::uint64_t seed_ = 0;
  bool built_ = false;
  // Which high bits choose the slot: the first rotation under which every common word finds
  // room in its four slots (nearly always 0).
  int rotation_ = 0;
  std::uint64_t articles_[3] = {};
  std::uint32_t slots_[size + probes - 1] = {};  // a word lives in one of the four slots from its own
};

// Whether h == word_hash(w, seed) for a common word w.
inline bool is_common_hash(std::uint64_t h, std::uint64_t seed) {
  return common_hashes::for_seed(seed).contains(h);
}

}  // namespace dg::detectors
