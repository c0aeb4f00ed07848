// The fast paths of feature extraction held to their definitions: the tokeniser to
// normalise_text + split_words, the bit-sliced SimHash to per-bit counting, the bottom-k
// n-gram sketch to sorting every value.
#include "detectors/tokeniser.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "detectors/minhash.h"
#include "detectors/ngram_sketch.h"
#include "detectors/simhash.h"
#include "detectors/text_normalise.h"
#include "traffic.h"

namespace dg::detectors {
namespace {

constexpr std::uint64_t seed = 42;

void expect_same_words(const std::string& raw, std::size_t max_words = 4096) {
  std::string norm;
  std::vector<word> want, got;
  normalise_text(raw, norm);
  split_words(norm, seed, want, max_words);
  std::vector<word> all;
  split_words(norm, seed, all, ~std::size_t{0});
  tokeniser t;
  token_counts c = t.split(raw, seed, got, max_words);
  ASSERT_EQ(got.size(), want.size()) << raw;
  for (std::size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(got[i].text, want[i].text) << raw;
    ASSERT_EQ(got[i].hash, want[i].hash) << raw;
    ASSERT_EQ(got[i].common, want[i].common) << raw;
  }
  EXPECT_EQ(c.chars, norm.size()) << raw;
  EXPECT_EQ(c.words, all.size()) << raw;
}

TEST(Tokeniser, AgreesWithNormaliseAndSplitOnEdgeCases) {
  expect_same_words("");
  expect_same_words(" ");
  expect_same_words("a");
  expect_same_words("  Hello, World!!  It's 2024\n\tnaïve ");
  expect_same_words("ALL CAPS [brackets] {braces} @at `tick` ~tilde ^caret _under \x7f del");
  // Words across and exactly at the 64-byte block edges, and a text ending inside a word.
  const std::string_view pattern = "abcdefghij KLMNOP, qr\xC3\xA9 12345.\n";
  for (std::size_t len = 1; len <= 200; ++len) {
    std::string s;
    for (std::size_t i = 0; i < len; ++i) s.push_back(pattern[i % pattern.size()]);
    expect_same_words(s);
    expect_same_words(std::string(len, 'x'));
    expect_same_words(std::string(len, 'x') + " y");
    expect_same_words("y " + std::string(len, 'Z'));
  }
  // Words of every length, so the masked tail loads are checked at each size.
  std::string lengths;
  for (std::size_t n = 1; n <= 40; ++n) lengths += std::string(n, static_cast<char>('a' + n % 26)) + " ";
  expect_same_words(lengths);
}

TEST(Tokeniser, StopsAtMaxWordsButCountsTheWholeText) {
  std::string s;
  for (int i = 0; i < 500; ++i) s += "word" + std::to_string(i) + ", ";
  expect_same_words(s, 10);
  expect_same_words(s, 0);
  expect_same_words(s, 499);
  expect_same_words(s, 500);
}

TEST(Tokeniser, AgreesWithNormaliseAndSplitOnTheCorpora) {
  DG_REQUIRE_DATASETS();
  for (const auto& q : testing::questions()) expect_same_words(q);
  for (const auto& q : testing::alpaca()) expect_same_words(q);
}

TEST(SimHash, BitSlicedCountsMatchPerBitCounting) {
  std::uint64_t r = 1;
  for (std::size_t n : {0, 1, 2, 3, 7, 64, 255, 256, 257, 1000, 2048, 5000}) {
    std::vector<std::uint64_t> hs;
    for (std::size_t i = 0; i < n; ++i) {
      r = mix64(r + i);
      hs.push_back(i % 5 == 0 ? 0xffff0000ffff0000ULL : r);  // some bits pushed to the majority edge
    }
    std::uint64_t want = 0;
    for (unsigned b = 0; b < 64; ++b) {
      std::size_t count = 0;
      for (auto h : hs) count += (h >> b) & 1;
      if (2 * count > n) want |= 1ULL << b;
    }
    EXPECT_EQ(simhash(hs), want) << n;
  }
}

TEST(NgramSketch, IsTheSmallestDistinctValues) {
  DG_REQUIRE_DATASETS();
  std::string norm;
  std::vector<word> ws;
  std::vector<std::uint32_t> got, scratch;
  for (const auto& q : testing::alpaca()) {
    normalise_text(q + " " + q, norm);  // every value twice
    split_words(norm, seed, ws);
    make_ngram_sketch(ws, got, scratch);
    std::vector<std::uint32_t> all;
    for (std::size_t i = 0; i < ws.size(); ++i) {
      if (!ws[i].common) all.push_back(static_cast<std::uint32_t>(ws[i].hash >> 32));
      if (i + 1 < ws.size() && !(ws[i].common && ws[i + 1].common)) {
        all.push_back(static_cast<std::uint32_t>(word_hash_detail::fold_mul(ws[i].hash ^ word_hash_detail::k3, ws[i + 1].hash ^ word_hash_detail::k4) >> 32));
      }
    }
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    if (all.size() > ngram_sketch_size) all.resize(ngram_sketch_size);
    ASSERT_EQ(got, all) << q;
  }
}

}  // namespace
}  // namespace dg::detectors

namespace dg::detectors {
namespace {

// MMD's sums are taken from shared values; the definition compares every pair of sketches.
TEST(NgramSketch, MmdFromSharedValuesEqualsEveryPairCompared) {
  DG_REQUIRE_DATASETS();
  std::string norm;
  std::vector<word> ws;
  std::vector<std::vector<std::uint32_t>> sketches;
  std::vector<std::uint32_t> sk, scratch;
  const auto& corpus = testing::alpaca();
  for (std::size_t i = 0; i < 200; ++i) {
    // Repeats and near-repeats, so that sketches share values; some empty ones.
    normalise_text(i % 17 == 0 ? std::string("the of and") : corpus[(i * 7) % 40], norm);
    split_words(norm, seed, ws);
    make_ngram_sketch(ws, sk, scratch);
    if (i % 3 == 0 && sk.size() > 8) sk.resize(8);
    sketches.push_back(sk);
  }
  auto spans = [&](std::size_t from, std::size_t to) {
    std::vector<std::span<const std::uint32_t>> out;
    for (std::size_t i = from; i < to; ++i) out.emplace_back(sketches[i]);
    return out;
  };
  auto x = spans(0, 64), y = spans(64, 96), z = spans(96, 200);
  auto self_by_pairs = [](const std::vector<std::span<const std::uint32_t>>& s) {
    double k = 0;
    for (std::size_t i = 0; i < s.size(); ++i)
      for (std::size_t j = i + 1; j < s.size(); ++j) k += sketch_kernel(s[i], s[j]);
    return 2 * k / (static_cast<double>(s.size()) * static_cast<double>(s.size() - 1));
  };
  auto mmd_by_pairs = [&](const std::vector<std::span<const std::uint32_t>>& a,
                          const std::vector<std::span<const std::uint32_t>>& b) {
    double kab = 0;
    for (const auto& p : a)
      for (const auto& q : b) kab += sketch_kernel(p, q);
    return self_by_pairs(a) + self_by_pairs(b) - 2 * kab / (static_cast<double>(a.size()) * static_cast<double>(b.size()));
  };
  EXPECT_GT(self_by_pairs(x), 0.005);  // the sketches do share values
  EXPECT_NEAR(mean_self_kernel(x), self_by_pairs(x), 1e-12);
  EXPECT_NEAR(mean_self_kernel(z), self_by_pairs(z), 1e-12);
  EXPECT_NEAR(mmd2(x, y), mmd_by_pairs(x, y), 1e-12);
  EXPECT_NEAR(mmd2(z, x), mmd_by_pairs(z, x), 1e-12);
  sketch_sample zs;
  zs.assign(z);
  EXPECT_NEAR(zs.self_kernel(), self_by_pairs(z), 1e-12);
  EXPECT_NEAR(mmd2_given_y(x, zs), mmd_by_pairs(x, z), 1e-12);
  EXPECT_NEAR(mmd2_given_y(y, zs), mmd_by_pairs(y, z), 1e-12);  // one prepared sample, many estimates
}

}  // namespace
}  // namespace dg::detectors

namespace dg::detectors {
namespace {

// The definition of a signature: one-permutation hashing, then each empty lane borrows from the
// first filled lane on its seeded probe sequence, walked from the start.
minhash_signature reference_signature(std::uint64_t key, std::span<const std::uint32_t> shingles) {
  std::uint64_t s = mix64(key + 0x9e3779b97f4a7c15ULL);
  const auto x = static_cast<std::uint32_t>(s), m = static_cast<std::uint32_t>(s >> 32) | 1u;
  const std::uint64_t probe_seed = mix64(s);
  minhash_signature out;
  out.fill(0xffffffffu);
  std::uint64_t filled = 0;
  for (std::uint32_t sh : shingles) {
    std::uint32_t v = (sh ^ x) * m;
    v ^= v >> 15;
    v *= 0x2c1b3c6du;
    v ^= v >> 12;
    out[v >> 26] = std::min(out[v >> 26], v & 0x03ffffffu);
    filled |= 1ULL << (v >> 26);
  }
  if (filled == 0 || filled == ~0ULL) return out;
  const minhash_signature dense = out;
  for (std::uint32_t lane = 0; lane < minhash_size; ++lane) {
    if (filled >> lane & 1) continue;
    std::uint64_t h = probe_seed ^ lane;
    for (std::uint32_t attempt = 0;; ++attempt) {
      h = mix64(h + attempt);
      const auto from = static_cast<std::uint32_t>(h & (minhash_size - 1));
      if (filled >> from & 1) {
        out[lane] = dense[from] | (lane << 26);
        break;
      }
    }
  }
  return out;
}

TEST(MinHash, KeptProbeSequencesGiveTheDefinedSignature) {
  for (std::uint64_t key : {1ULL, 42ULL, 0x5eedULL}) {
    minhasher mh(key);
    std::uint64_t r = key;
    for (std::size_t n = 0; n <= 200; n += (n < 8 ? 1 : 7)) {
      std::vector<std::uint32_t> sh;
      for (std::size_t i = 0; i < n; ++i) sh.push_back(static_cast<std::uint32_t>(r = mix64(r + i)));
      minhash_signature got;
      mh.sign(sh, got);
      ASSERT_EQ(got, reference_signature(key, sh)) << "seed " << key << " n " << n;
    }
  }
}

}  // namespace
}  // namespace dg::detectors
