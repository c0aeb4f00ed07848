// The skeleton's word scan (16 bytes classified at a time) held to the byte-at-a-time loop it
// replaced, which stays here as the definition.
#include "detectors/skeleton.h"

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "detectors/text_normalise.h"
#include "traffic.h"

namespace dg::detectors {
namespace reference {
namespace {

constexpr std::size_t head_tokens = 10;
constexpr std::size_t tail_tokens = 6;
constexpr std::size_t max_quote = 400;
// The tail is read from the last this many bytes of a long prompt (six tokens take far fewer).
constexpr std::size_t tail_scan_bytes = 160;

constexpr std::array<bool, 256> make_word_bytes() {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) {
    t[static_cast<std::size_t>(c)] = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
  }
  return t;
}
constexpr auto word_bytes = make_word_bytes();

inline bool is_word_byte(unsigned char c) { return word_bytes[c]; }

// Mask token ids (kept words carry their hash instead).
constexpr std::uint64_t slot = 0x2a2a2a2a2a2a2a2aULL;

}  // namespace

skeleton reference_skeleton(std::string_view raw, std::uint64_t seed, std::string* text) {
  // Only the first head_tokens and the last tail_tokens matter: a fixed array and a ring, no heap.
  std::array<std::uint64_t, head_tokens> head{};
  std::array<std::uint8_t, head_tokens> head_kept{};
  std::array<std::uint64_t, tail_tokens> ring{};
  std::array<std::uint8_t, tail_tokens> ring_kept{};
  std::size_t n = 0;
  bool last_kept = true;
  if (text) text->clear();
  auto push = [&](std::uint64_t h, bool k, std::string_view w) {
    if (!k && n > 0 && !last_kept) return;  // a run of masks is one slot
    if (n < head_tokens) {
      head[n] = h;
      head_kept[n] = k;
    }
    ring[n % tail_tokens] = h;
    ring_kept[n % tail_tokens] = k;
    ++n;
    last_kept = k;
    if (text) {
      if (!text->empty()) text->push_back(' ');
      text->append(k ? w : std::string_view("*"));
    }
  };
  bool sentence_start = true;
  std::array<char, 24 + 8> lower{};  // 8 bytes past the longest word: hashed by whole loads
  const std::size_t len = raw.size();
  std::size_t i = 0;
  std::size_t jump_at = len > 2 * tail_scan_bytes ? len - tail_scan_bytes : 0;
  while (i < len) {
    unsigned char c = static_cast<unsigned char>(raw[i]);
    if (c == '"' || c == '`') {
      std::size_t close = raw.find(static_cast<char>(c), i + 1);
      if (close != std::string_view::npos && close - i <= max_quote) {
        push(slot, false, {});
        i = close + 1;
        continue;
      }
      ++i;
      continue;
    }
    if (c == 0xE2 && raw.substr(i, 3) == "\xE2\x80\x9C") {  // “ ... ”
      std::size_t close = raw.find("\xE2\x80\x9D", i + 3);
      if (close != std::string_view::npos && close - i <= max_quote) {
        push(slot, false, {});
        i = close + 3;
        continue;
      }
    }
    if (!is_word_byte(c)) {
      if (c == '.' || c == '!' || c == '?' || c == ':' || c == '\n' || c == ';') sentence_start = true;
      ++i;
      continue;
    }
    std::size_t j = i;
    bool digit = false, ascii_only = true;
    while (j < len) {
      unsigned char d = static_cast<unsigned char>(raw[j]);
      if (is_word_byte(d)) {
        digit |= d >= '0' && d <= '9';
        ascii_only &= d < 0x80;
        ++j;
      } else if ((d == '\'' || d == '-') && j + 1 < len &&
                 is_word_byte(static_cast<unsigned char>(raw[j + 1]))) {
        ++j;
      } else {
        break;
      }
    }
    std::string_view w = raw.substr(i, j - i);
    bool capital = c >= 'A' && c <= 'Z';
    bool masked = true;
    std::string_view lw;
    std::uint64_t lw_hash = 0;
    if (!digit && !(capital && !sentence_start) && ascii_only && w.size() <= lower.size() - 8) {
      for (std::size_t k = 0; k < w.size(); ++k) {
        char ch = w[k];
        lower[k] = (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch + ('a' - 'A')) : ch;
      }
      lw = std::string_view(lower.data(), w.size());
      lw_hash = word_hash_padded(reinterpret_cast<const unsigned char*>(lower.data()), lw.size(), seed);
      masked = !is_common_hash(lw_hash, seed);
    }
    if (!masked && (lw == "a" || lw == "an" || lw == "the")) {
      // Articles go with whatever fills a slot ("of Rome", "of the Ming dynasty"): not template words.
      sentence_start = false;
      i = j;
      continue;
    }
    if (masked) push(slot, false, {});
    else push(lw_hash, true, lw);
    sentence_start = false;
    i = j;
    // Only the first head_tokens and the last tail_tokens count: once the head is complete, skip
    // to the last tail_scan_bytes (at a word boundary) instead of reading the middle of a long
    // prompt. The skipped middle is one more masked slot, as a run of masks would be.
    if (n >= head_tokens && jump_at > i) {
      i = jump_at;
      while (i < len && is_word_byte(static_cast<unsigned char>(raw[i]))) ++i;  // finish the cut word
      push(slot, false, {});
      jump_at = 0;
    }
  }
  skeleton out;
  out.tokens = static_cast<std::uint32_t>(n);
  if (n == 0) return out;
  // Token k of the prompt (valid for k < head_tokens or k >= n - tail_tokens).
  auto token = [&](std::size_t k, bool& kept) {
    if (k < head_tokens) {
      kept = head_kept[k];
      return head[k];
    }
    kept = ring_kept[k % tail_tokens];
    return ring[k % tail_tokens];
  };
  auto hash_range = [&](std::size_t from, std::size_t to, std::uint64_t salt, std::uint32_t& constant) {
    std::uint64_t h = seed ^ salt;
    for (std::size_t k = from; k < to; ++k) {
      bool kept = false;
      h = mix64(h ^ token(k, kept));
      constant += kept ? 1u : 0u;
    }
    return h | 1u;
  };
  if (n <= head_tokens + tail_tokens) {
    out.hash = hash_range(0, n, 0x736b656c65746f6eULL, out.constant);
    out.tail_hash = out.hash;
    out.tail_constant = out.constant;
  } else {
    out.hash = hash_range(0, head_tokens, 0x736b656c65746f6eULL ^ 1, out.constant);
    out.tail_hash = hash_range(n - tail_tokens, n, 0x736b656c65746f6eULL ^ 2, out.tail_constant);
  }
  return out;
}

}  // namespace reference

namespace {

void expect_same(std::string_view raw, std::uint64_t seed = 42) {
  std::string want_text, got_text;
  const skeleton want = reference::reference_skeleton(raw, seed, &want_text);
  const skeleton got = make_skeleton(raw, seed, &got_text);
  ASSERT_EQ(got.hash, want.hash) << raw;
  ASSERT_EQ(got.constant, want.constant) << raw;
  ASSERT_EQ(got.tail_hash, want.tail_hash) << raw;
  ASSERT_EQ(got.tail_constant, want.tail_constant) << raw;
  ASSERT_EQ(got.tokens, want.tokens) << raw;
  ASSERT_EQ(got_text, want_text) << raw;
}

TEST(SkeletonScan, AgreesWithTheByteLoopOverTheCorpora) {
  DG_REQUIRE_DATASETS();
  std::size_t n = 0;
  std::string long_prompt;
  std::vector<std::string> texts = testing::questions();
  texts.insert(texts.end(), testing::alpaca().begin(), testing::alpaca().end());
  for (const auto& q : texts) {
    expect_same(q);
    ++n;
    // And prompts of about 1 KB, where the scan skips from the head to the tail.
    long_prompt += q;
    long_prompt += n % 2 ? "\n" : " ";
    if (long_prompt.size() > 1024) {
      expect_same(long_prompt);
      long_prompt.clear();
    }
  }
  EXPECT_GT(n, 100u);
}

TEST(SkeletonScan, AgreesAtBlockEdgesAndOnAwkwardBytes) {
  // Words of every length placed at every offset of a 16-byte block, with the joiners (' and -),
  // digits, capitals, UTF-8 and quotes next to the edges.
  const std::vector<std::string> words = {"a", "the", "write", "explain", "Rome", "don't", "well-known",
                                          "x-", "-y", "it's'", "3rd", "a1b2", "caf\xc3\xa9", "\xe2\x80\x9cq\xe2\x80\x9d",
                                          "\"quoted text\"", "`code`", "ALLCAPS", "abcdefghijklmnopqrstuvwxyz",
                                          "abcdefghijklmnopqrstuvwxyzabcdefghij", "o'-k", "--", "''", "a'b'c-d-e"};
  for (std::size_t pad = 0; pad < 20; ++pad) {
    for (const auto& w : words) {
      for (const char* sep : {" ", ". ", "\n", ", ", "?"}) {
        std::string s(pad, 'x');
        s += sep;
        for (int k = 0; k < 24; ++k) {
          s += w;
          s += k % 3 ? " the " : sep;
        }
        expect_same(s);
        expect_same(s.substr(0, s.size() - 1));
        expect_same(w + std::string(pad, ' ') + w);
      }
    }
  }
  expect_same("");
  expect_same("-");
  expect_same("'a");
  expect_same("a'");
  expect_same(std::string(1000, 'a'));
  expect_same(std::string(1000, '\''));
  std::string bytes;
  for (int c = 1; c < 256; ++c) bytes.push_back(static_cast<char>(c));
  expect_same(bytes + bytes + "explain the words");
}

}  // namespace
}  // namespace dg::detectors
