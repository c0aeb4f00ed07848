#include "server/mock_text.h"

#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>

namespace dg::server::mock {
namespace {

std::string take(prose_generator& g, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += g.next_token();
  return out;
}

TEST(mock_text, rng_is_deterministic_and_seed_dependent) {
  rng a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) {
    const auto x = a.next();
    EXPECT_EQ(x, b.next());
    EXPECT_NE(x, c.next());
  }
  rng u(7);
  for (int i = 0; i < 1000; ++i) {
    const double v = u.uniform();
    EXPECT_GE(v, 0.0);
    EXPECT_LT(v, 1.0);
  }
}

TEST(mock_text, same_seed_gives_same_prose) {
  prose_generator a(99, {"volcano"}), b(99, {"volcano"}), c(100, {"volcano"});
  const std::string ta = take(a, 200);
  EXPECT_EQ(ta, take(b, 200));
  EXPECT_NE(ta, take(c, 200));
  EXPECT_EQ(a.natural_length(), b.natural_length());
}

TEST(mock_text, prose_reads_as_sentences_and_paragraphs) {
  prose_generator g(1234, {"photosynthesis", "chlorophyll"});
  const std::string text = take(g, 600);
  ASSERT_FALSE(text.empty());
  EXPECT_TRUE(std::isupper(static_cast<unsigned char>(text[0])));
  EXPECT_NE(text.find(". "), std::string::npos);
  EXPECT_NE(text.find("\n\n"), std::string::npos);  // paragraphs
  // The prompt's words show up in the answer.
  EXPECT_TRUE(text.find("photosynthesis") != std::string::npos || text.find("chlorophyll") != std::string::npos);
  // Every token but the first starts with a separator, so tokens concatenate to text.
  prose_generator h(1234, {});
  EXPECT_FALSE(h.next_token().starts_with(" "));
  for (int i = 0; i < 300; ++i) {
    const std::string t = h.next_token();
    ASSERT_FALSE(t.empty());
    EXPECT_TRUE(t[0] == ' ' || t[0] == '\n') << "token '" << t << "'";
  }
}

TEST(mock_text, natural_length_varies_within_bounds) {
  std::set<std::size_t> lengths;
  for (std::uint64_t s = 0; s < 200; ++s) {
    prose_generator g(s, {});
    EXPECT_GE(g.natural_length(), 24u);
    EXPECT_LE(g.natural_length(), 900u);
    lengths.insert(g.natural_length());
  }
  EXPECT_GT(lengths.size(), 100u);
}

TEST(mock_text, topic_words_keeps_long_content_words) {
  const auto t = topic_words("Please explain how Photosynthesis works in the chloroplast, step-by-step, please!");
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0], "photosynthesis");
  EXPECT_EQ(t[1], "chloroplast");
  EXPECT_EQ(topic_words("a b c").size(), 0u);
  EXPECT_LE(topic_words("alphabet elephant mountain language currency printer bottle wallet carpet", 3).size(), 3u);
}

TEST(mock_text, token_counts) {
  EXPECT_EQ(count_words("  the quick\nbrown  fox "), 4u);
  EXPECT_EQ(count_words(""), 0u);
  EXPECT_EQ(prompt_tokens_for_words(10), 13u);
  EXPECT_EQ(prompt_tokens_for_words(0), 0u);
}

}  // namespace
}  // namespace dg::server::mock
