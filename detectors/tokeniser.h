// tokeniser: the feature extractor's one pass over a prompt. It gives exactly
// the words, hashes and common-word flags that split_words(normalise_text(raw))
// gives, without building the collapsed string: sixteen bytes are classified
// and lower-cased at a time (SSE2), word boundaries come from the bit masks,
// and each word is hashed from whole 8-byte loads of a padded buffer.
// normalise_text and split_words stay the definition; a unit test holds the
// two to the same output over the corpora.
// Thread safety: a tokeniser keeps its buffer; one per thread.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "detectors/text_normalise.h"

namespace dg::detectors {

struct token_counts {
  std::size_t chars = 0;  // length of the normalised text (words and one space between each)
  std::size_t words = 0;  // words in the whole text, also those past max_words
};

class tokeniser {
 public:
  // Splits raw into its first max_words words, then words() returns them; they and their views
  // point into this tokeniser and stay valid until the next call.
  token_counts split(std::string_view raw, std::uint64_t seed, std::size_t max_words);
  std::span<const word> words() const { return {words_.data(), count_}; }

  // The same, copied into `out` (for tests and callers that keep the words).
  token_counts split(std::string_view raw, std::uint64_t seed, std::vector<word>& out,
                     std::size_t max_words) {
    token_counts c = split(raw, seed, max_words);
    out.assign(words_.begin(), words_.begin() + static_cast<std::ptrdiff_t>(count_));
    return c;
  }

 private:
  std::vector<unsigned char> lowered_;  // raw with ASCII lower-cased and separators as spaces, padded
  std::vector<std::uint64_t> word_bits_;  // bit i of block i/64: byte i is a word byte
  std::vector<word> words_;  // grown, never shrunk: written by index, count_ in use
  std::size_t count_ = 0;
};

}  // namespace dg::detectors
