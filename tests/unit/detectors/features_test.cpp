#include "detectors/features.h"

#include <algorithm>
#include <bit>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "detectors/minhash.h"
#include "detectors/ngram_sketch.h"
#include "detectors/reasoning_markers.h"
#include "detectors/simhash.h"
#include "detectors/skeleton.h"
#include "detectors/text_normalise.h"
#include "traffic.h"

namespace dg::detectors {
namespace {

constexpr std::uint64_t seed = 42;

pb::Features features_of(const std::string& prompt, const std::string& system = {}) {
  static feature_extractor fx(seed);
  pb::QueryEvent ev = testing::single("c", 1, prompt, system);
  pb::Features f;
  fx.extract(ev, f);
  return f;
}

TEST(TextNormalise, LowercasesAndSeparates) {
  std::string out;
  normalise_text("  Hello, World!!  It's 2024\n\tnaïve ", out);
  EXPECT_EQ(out, "hello world it s 2024 na\xC3\xAFve");
  std::vector<word> ws;
  split_words(out, seed, ws);
  ASSERT_EQ(ws.size(), 6u);
  EXPECT_EQ(ws[0].text, "hello");
  EXPECT_EQ(ws[0].hash, word_hash("hello", seed));
  EXPECT_NE(word_hash("hello", seed), word_hash("hello", seed + 1));
  EXPECT_TRUE(is_common_word("the"));
  EXPECT_FALSE(is_common_word("photosynthesis"));
}

TEST(MinHash, EstimatesJaccardOfShingleSets) {
  minhasher mh(seed);
  std::vector<std::uint32_t> a, b;
  for (std::uint32_t i = 0; i < 300; ++i) a.push_back(i * 2654435761u);
  b.assign(a.begin() + 100, a.end());                                   // J(a, b) = 200 / 300
  for (std::uint32_t i = 0; i < 100; ++i) b.push_back(i * 40503u + 7);  // J = 200 / 400 = 0.5
  minhash_signature sa, sb;
  mh.sign(a, sa);
  mh.sign(b, sb);
  EXPECT_NEAR(jaccard(sa, sb), 0.5, 0.15);
  EXPECT_DOUBLE_EQ(jaccard(sa, sa), 1.0);
  auto ba = to_bbit(sa), bb = to_bbit(sb);
  EXPECT_NEAR(jaccard_bbit(ba, bb), 0.5, 0.2);
}

TEST(MinHash, BbitJaccardCountsEqualLanesExactly) {
  std::uint64_t r = 7;
  for (int trial = 0; trial < 500; ++trial) {
    bbit_signature a{}, b{};
    for (std::size_t k = 0; k < bbit_size; ++k) {
      r = mix64(r + 1);
      a[k] = static_cast<std::uint8_t>(r);
      // About half the lanes equal, the others differ in one or more bits (0x80 and 0x01 included).
      b[k] = (r >> 8) & 1 ? a[k] : static_cast<std::uint8_t>(a[k] ^ (1u << ((r >> 16) % 8)) ^ ((r >> 24) & 0x80));
    }
    std::size_t eq = 0;
    for (std::size_t k = 0; k < bbit_size; ++k) eq += a[k] == b[k];
    const double p = static_cast<double>(eq) / bbit_size, chance = 1.0 / 256;
    EXPECT_DOUBLE_EQ(jaccard_bbit(a, b), std::clamp((p - chance) / (1 - chance), 0.0, 1.0));
  }
  bbit_signature z{};
  EXPECT_DOUBLE_EQ(jaccard_bbit(z, z), 1.0);
}

TEST(TextNormalise, CommonWordByHashAgreesWithCommonWordByText) {
  DG_REQUIRE_DATASETS();
  std::string norm;
  std::vector<word> ws;
  for (const auto& q : testing::questions()) {
    normalise_text(q, norm);
    split_words(norm, seed, ws);
    for (const auto& w : ws) ASSERT_EQ(w.common, is_common_word(w.text)) << w.text;
  }
  EXPECT_TRUE(is_common_hash(word_hash("the", 99), 99));
  EXPECT_FALSE(is_common_hash(word_hash("the", 99), 98));
  EXPECT_FALSE(is_common_hash(word_hash("volcano", 99), 99));
}

// The common-word table finds room for every common word whatever the seed (a seed that crowds
// five words on one slot takes other high bits of the hash).
TEST(TextNormalise, CommonWordTableHoldsEveryCommonWordForManySeeds) {
  DG_REQUIRE_DATASETS();
  std::set<std::string> common, content;
  std::string norm;
  std::vector<word> ws;
  for (const auto& q : testing::questions()) {
    normalise_text(q, norm);
    split_words(norm, 1, ws);
    for (const auto& w : ws) (is_common_word(w.text) ? common : content).emplace(w.text);
    if (common.size() > 150 && content.size() > 2000) break;
  }
  ASSERT_GT(common.size(), 100u);
  for (std::uint64_t s = 0; s < 2000; ++s) {
    const std::uint64_t k = mix64(s);
    for (const auto& w : common) ASSERT_TRUE(is_common_hash(word_hash(w, k), k)) << w << " seed " << k;
  }
  for (std::uint64_t s = 0; s < 20; ++s) {
    const std::uint64_t k = mix64(s);
    for (const auto& w : content) ASSERT_FALSE(is_common_hash(word_hash(w, k), k)) << w << " seed " << k;
  }
}

TEST(SimHash, BitCountAgreesWithPopcount) {
  std::uint64_t r = 11;
  for (std::uint64_t x : {0ULL, ~0ULL, 1ULL, 1ULL << 63, 0x8000000000000001ULL}) EXPECT_EQ(bit_count(x), std::popcount(x));
  for (int trial = 0; trial < 10000; ++trial) {
    r = mix64(r + 1);
    const std::uint64_t x = r & mix64(r) & (trial % 2 ? ~0ULL : mix64(r + 7));  // sparse and dense words
    ASSERT_EQ(bit_count(x), std::popcount(x)) << x;
  }
}

TEST(SimHash, NearTextsAreNear) {
  auto a = features_of("Explain the causes of the French Revolution and its effects on European politics");
  auto b = features_of("Explain the causes of the French Revolution and its effects on European society");
  auto c = features_of("What is the boiling point of water at the top of Mount Everest in Celsius?");
  EXPECT_LT(hamming(a.simhash(), b.simhash()), hamming(a.simhash(), c.simhash()));
  EXPECT_GT(hamming(a.simhash(), c.simhash()), 16);
}

TEST(Skeleton, TemplateFillsShareOneSkeleton) {
  std::string t1, t2, t3;
  auto a = make_skeleton("Write a detailed essay about the history of Rome, in 500 words, for a student.", seed, &t1);
  auto b = make_skeleton("Write a detailed essay about the history of the Ming dynasty, in 300 words, for a student.",
                         seed, &t2);
  auto c = make_skeleton("Translate \"good morning\" into French and give 3 examples of its use.", seed, &t3);
  EXPECT_EQ(a.hash, b.hash) << t1 << " | " << t2;
  EXPECT_NE(a.hash, c.hash);
  EXPECT_GE(a.constant, 5u);
  // A short question keeps few fixed words: not a template by itself.
  auto q = make_skeleton("Who wrote Hamlet?", seed);
  EXPECT_LT(q.constant, 5u);
  EXPECT_EQ(make_skeleton("", seed).hash, 0u);
}

// A long prompt's tail is read from its last bytes: a template whose fixed words end a long
// document still has one tail skeleton, and different endings differ.
TEST(Skeleton, LongPromptsKeepTheirTemplateTail) {
  DG_REQUIRE_DATASETS();
  const auto& docs = testing::alpaca();
  std::set<std::uint64_t> tails, heads;
  for (std::size_t i = 0; i < 40; ++i) {
    std::string doc;
    while (doc.size() < 900) doc += docs[(i * 7 + doc.size()) % docs.size()] + " ";
    skeleton sk = make_skeleton("Classify the sentiment of the following text.\n\nText: " + doc +
                                    "\nAnswer with one word: positive, negative or neutral.",
                                seed);
    tails.insert(sk.tail_hash);
    heads.insert(sk.hash);
  }
  EXPECT_EQ(tails.size(), 1u);
  EXPECT_GT(heads.size(), 1u);  // the head reaches into the document
  std::string doc(2000, 'x');
  for (std::size_t k = 5; k < doc.size(); k += 6) doc[k] = ' ';
  skeleton a = make_skeleton("Please summarize: " + doc + " and then list the key points as bullets", seed);
  skeleton b = make_skeleton("Please summarize: " + doc + " and then write it as a short poem for kids", seed);
  skeleton c = make_skeleton("Please summarize: " + doc.substr(0, 1500) + " and then list the key points as bullets", seed);
  EXPECT_NE(a.tail_hash, b.tail_hash);
  EXPECT_EQ(a.tail_hash, c.tail_hash);
}

TEST(ReasoningMarkers, FindsDemandsForTraces) {
  reasoning_matcher m(seed);
  auto bits = [&](const std::string& raw) {
    std::string n;
    std::vector<word> ws;
    normalise_text(raw, n);
    split_words(n, seed, ws);
    return m.match(ws, raw);
  };
  EXPECT_TRUE(bits("Solve this. Let's think step by step.") & marker_step_by_step);
  EXPECT_TRUE(bits("Solve this. Let's think step by step.") & marker_lets_think);
  EXPECT_TRUE(bits("Please show your work.") & marker_show_reasoning);
  EXPECT_TRUE(bits("Explain your reasoning before giving the answer") & marker_explain_reasoning);
  EXPECT_TRUE(bits("Use <thinking> tags for your chain of thought") & marker_thinking_tag);
  EXPECT_TRUE(bits("Use <thinking> tags for your chain of thought") & marker_chain_of_thought);
  EXPECT_TRUE(bits("THINK CAREFULLY about it") & marker_think_carefully);
  EXPECT_EQ(bits("What is the capital of France?"), 0u);
  EXPECT_EQ(bits("The steps of the staircase"), 0u);
}

TEST(Features, FillsEverythingAndSystemMarkers) {
  auto f = features_of("Describe how photosynthesis converts light into chemical energy in plants",
                       "You are a tutor. Always explain your reasoning step by step before the final answer.");
  EXPECT_EQ(f.version(), feature_extractor::version);
  EXPECT_EQ(f.seed(), seed);
  EXPECT_EQ(f.minhash_size(), 64);
  EXPECT_NE(f.simhash(), 0u);
  EXPECT_NE(f.skeleton_hash(), 0u);
  EXPECT_NE(f.text_hash(), 0u);
  EXPECT_EQ(f.reasoning_markers(), 0u);
  EXPECT_TRUE(f.system_reasoning_markers() & marker_step_by_step);
  EXPECT_NE(f.system_prompt_skeleton(), 0u);
  EXPECT_EQ(f.topic_buckets_size(), 4);
  EXPECT_LT(f.topic_class(), 64u);
  EXPECT_GT(f.ngram_sketch_size(), 0);
  EXPECT_LE(f.ngram_sketch_size(), 16);
  EXPECT_EQ(f.word_count(), 10u);
}

TEST(Features, SameTopicSharesBucketsOftenAndSweepsDoNot) {
  DG_REQUIRE_DATASETS();
  // Two phrasings over the same content words land in a common band bucket.
  auto a = features_of("photosynthesis chlorophyll sunlight plants energy");
  auto b = features_of("How do plants use sunlight, chlorophyll and photosynthesis for energy?");
  std::set<std::uint32_t> ab(a.topic_buckets().begin(), a.topic_buckets().end());
  int shared = 0;
  for (auto x : b.topic_buckets()) shared += ab.count(x) ? 1 : 0;
  EXPECT_GE(shared, 3);
  // Different Alpaca instructions reach different buckets.
  std::set<std::uint32_t> seen;
  const auto& al = testing::alpaca();
  ASSERT_GE(al.size(), 500u);
  for (std::size_t i = 0; i < 500; ++i) seen.insert(features_of(al[i]).topic_buckets_size() ? features_of(al[i]).topic_buckets(0) : 0);
  EXPECT_GT(seen.size(), 400u);
}

TEST(Features, EnsureKeepsCarriedFeaturesAndRecomputesForeignOnes) {
  feature_extractor fx(seed);
  pb::QueryEvent ev = testing::single("c", 1, "hello there general");
  EXPECT_TRUE(fx.ensure(ev));
  EXPECT_FALSE(fx.ensure(ev));  // already computed
  ev.mutable_features()->set_simhash(12345);
  EXPECT_FALSE(fx.ensure(ev));
  EXPECT_EQ(ev.features().simhash(), 12345u);  // an export's features are used as they are
  feature_extractor other(seed + 1);
  EXPECT_TRUE(other.ensure(ev));  // another seed: recomputed from the text
  ev.clear_prompt_text();
  ev.mutable_features()->set_seed(999);
  EXPECT_FALSE(fx.ensure(ev));  // no text: whatever was stored is all there is
}

TEST(NgramSketch, KernelAndMmd) {
  DG_REQUIRE_DATASETS();
  auto a = features_of("Write a poem about the ocean at night with stars");
  auto b = features_of("Write a poem about the ocean at night with stars");
  auto c = features_of("Compute the derivative of x squared times sine x");
  std::vector<std::uint32_t> va(a.ngram_sketch().begin(), a.ngram_sketch().end());
  std::vector<std::uint32_t> vb(b.ngram_sketch().begin(), b.ngram_sketch().end());
  std::vector<std::uint32_t> vc(c.ngram_sketch().begin(), c.ngram_sketch().end());
  EXPECT_DOUBLE_EQ(sketch_kernel(va, vb), 1.0);
  EXPECT_LT(sketch_kernel(va, vc), 0.2);
  std::vector<std::vector<std::uint32_t>> same, diverse;
  const auto& q = testing::questions();
  for (int i = 0; i < 12; ++i) {
    auto f = features_of("Write a poem about the ocean at night with " + std::to_string(i) + " stars");
    same.emplace_back(f.ngram_sketch().begin(), f.ngram_sketch().end());
  }
  for (int i = 0; i < 12; ++i) {
    auto f = features_of(q[static_cast<std::size_t>(i) * 997 % q.size()]);
    diverse.emplace_back(f.ngram_sketch().begin(), f.ngram_sketch().end());
  }
  std::vector<std::vector<std::uint32_t>> pop;
  for (int i = 0; i < 32; ++i) {
    auto f = features_of(q[static_cast<std::size_t>(i) * 1231 % q.size() + 7]);
    pop.emplace_back(f.ngram_sketch().begin(), f.ngram_sketch().end());
  }
  auto spans = [](const auto& v) {
    std::vector<std::span<const std::uint32_t>> s;
    for (const auto& x : v) s.emplace_back(x);
    return s;
  };
  EXPECT_GT(mmd2(spans(same), spans(pop)), 0.5);
  EXPECT_LT(mmd2(spans(diverse), spans(pop)), 0.1);
}

}  // namespace
}  // namespace dg::detectors
