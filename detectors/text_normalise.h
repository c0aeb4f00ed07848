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

// The same question asked of a word's hash: whether h == word_hash(w, seed) for a common word w.
// One probe of a small table of the common words' hashes (built once per seed and thread), for the
// loops that hash every word anyway. A false yes needs a 64-bit collision.
bool is_common_hash(std::uint64_t h, std::uint64_t seed);

}  // namespace dg::detectors
