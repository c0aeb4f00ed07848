// text_normalise: the normalised form of a prompt that every text feature reads:
// ASCII lower-cased, every ASCII character that is not a letter or digit turned
// into a separator, UTF-8 sequences kept (they are letters in most scripts), and
// the words cut out with their seeded 64-bit hashes.
// Thread safety: pure functions.
#pragma once

#include <cstdint>
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

// Whether a normalised word is one of the few hundred most common English words (function
// words and the verbs of instructions). The skeleton keeps these; content words are the rest.
bool is_common_word(std::string_view w);

// The common words' hashes under one seed, for the loops that hash every word anyway: one probe
// of a small open-addressed table instead of a string lookup. A false yes needs a 64-bit collision.
class common_hashes {
 public:
  // The table for `seed`, built once per seed and thread (an analyzer thread uses one seed).
  static const common_hashes& for_seed(std::uint64_t seed);
  bool contains(std::uint64_t h) const {
    if (h == 0) return false;
    for (std::size_t i = static_cast<std::size_t>(h >> (64 - bits));; i = (i + 1) & (size - 1)) {
      if (slots_[i] == h) return true;
      if (slots_[i] == 0) return false;
    }
  }

 private:
  static constexpr unsigned bits = 10;
  static constexpr std::size_t size = std::size_t{1} << bits;
  void build(std::uint64_t seed);
  std::uint64_t seed_ = 0;
  bool built_ = false;
  std::uint64_t slots_[size] = {};  // 0 = empty (word hashes are never 0 here)
};

// Whether h == word_hash(w, seed) for a common word w.
inline bool is_common_hash(std::uint64_t h, std::uint64_t seed) {
  return common_hashes::for_seed(seed).contains(h);
}

}  // namespace dg::detectors
