// text_normalise: the normalised form of a prompt that every text feature reads:
// ASCII lower-cased, every ASCII character that is not a letter or digit turned
// into a separator, UTF-8 sequences kept (they are letters in most scripts), and
// the words cut out with their seeded 64-bit hashes.
// Thread safety: pure functions.
#pragma once

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

// word_hash of the n bytes at p, when at least 8 bytes past p + n may be read: whole 8-byte
// loads, the last one masked (no loop over the tail bytes).
inline std::uint64_t word_hash_padded(const unsigned char* p, std::size_t n, std::uint64_t seed) {
  std::uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);
  if (n < 8) {  // most words: one masked load, one mix
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return mix64(h ^ (v & (~0ULL >> (64 - 8 * n))) ^ 0x5555555555555555ULL);
  }
  for (; n >= 8; n -= 8, p += 8) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    h = mix64(h ^ v);
  }
  std::uint64_t tail = 0;
  if (n > 0) {
    std::memcpy(&tail, p, 8);
    tail &= ~0ULL >> (64 - 8 * n);
  }
  return mix64(h ^ tail ^ 0x5555555555555555ULL);
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
  // text), in a 4 KiB table that stays in the first-level cache.
  bool contains(std::uint64_t h) const {
    const std::uint32_t* s = slots_ + (h >> (64 - bits));
    const std::uint32_t f = fingerprint(h);
    return ((s[0] == f) | (s[1] == f) | (s[2] == f) | (s[3] == f)) != 0;
  }

 private:
  static constexpr unsigned bits = 10;
  static constexpr std::size_t size = std::size_t{1} << bits;
  static constexpr std::size_t probes = 4;
  // The low 32 bits (the slot comes from the top ones), never 0 (0 marks an empty slot).
  static std::uint32_t fingerprint(std::uint64_t h) { return static_cast<std::uint32_t>(h) | 1u; }
  void build(std::uint64_t seed);
  std::uint64_t seed_ = 0;
  bool built_ = false;
  std::uint32_t slots_[size + probes - 1] = {};  // a word lives in one of the four slots from its own
};

// Whether h == word_hash(w, seed) for a common word w.
inline bool is_common_hash(std::uint64_t h, std::uint64_t seed) {
  return common_hashes::for_seed(seed).contains(h);
}

}  // namespace dg::detectors
