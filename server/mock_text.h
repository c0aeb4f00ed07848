// mock_text: the prose of the demo model behind `distillguard mock-upstream`.
// English-looking sentences drawn from built-in word lists and sentence
// templates, deterministic from a 64-bit seed, with words taken from the
// prompt mixed in so that an answer reads as if it were about the question.
// No data files are read at run time.
//
// Thread safety: a prose_generator is a value owned by one request; the word
// lists it reads are immutable.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace dg::server::mock {

// splitmix64: small, fast, and good enough to pick words; never for secrets.
class rng {
 public:
  explicit rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next();
  // Uniform in [0, n); n > 0.
  std::uint64_t below(std::uint64_t n) { return next() % n; }
  // Uniform in [0, 1).
  double uniform();
  // Standard normal (Box-Muller).
  double normal();

 private:
  std::uint64_t state_;
};

// Content words of a prompt (long, alphabetic, not stop words), lower-cased,
// unique, in order of appearance, at most `limit`.
std::vector<std::string> topic_words(std::string_view prompt, std::size_t limit = 8);

// Whitespace-separated words of a text; the basis of the mock's token counts.
std::size_t count_words(std::string_view text);
// Tokens a prompt of this many words costs: about 1.3 tokens a word.
std::size_t prompt_tokens_for_words(std::size_t words);

// The words of a random sample of the vocabulary, with a leading space, as a
// model's tokenizer would spell them (for top_logprobs alternatives).
std::string random_vocabulary_token(rng& r);

// Produces an answer one token at a time. A token is a word with its leading
// space (" model"), punctuation attached, or a line break before the first
// word of a paragraph or list item ("\n\nHowever,").
class prose_generator {
 public:
  prose_generator(std::uint64_t seed, std::vector<std::string> topics);

  std::string next_token();
  // True when the last token returned ended a sentence, and not a list's
  // introduction (or nothing was returned yet): where an answer may stop.
  bool at_sentence_end() const { return pending_.empty() && list_items_left_ == 0; }
  // How long this answer wants to be, in tokens, before any max_tokens cap:
  // log-normal around 180, between 24 and 900, as chat answers are.
  std::size_t natural_length() const { return natural_length_; }

 private:
  void fill_sentence();
  std::string expand(std::string_view pattern);
  std::string topic();

  rng rng_;
  std::vector<std::string> topics_;
  std::deque<std::string> pending_;
  std::size_t natural_length_ = 0;
  std::size_t sentences_in_paragraph_ = 0;
  std::size_t paragraph_target_ = 0;
  std::size_t list_items_left_ = 0;
  std::size_t list_number_ = 0;
  bool first_ = true;
};

}  // namespace dg::server::mock
