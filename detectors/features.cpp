#include "detectors/features.h"

#include <algorithm>
#include <bit>

#include "detectors/ngram_sketch.h"
#include "detectors/simhash.h"
#include "detectors/skeleton.h"

namespace dg::detectors {
namespace {

constexpr std::size_t max_words = 2048;        // a prompt longer than this is judged by its start
constexpr std::size_t system_cache_limit = 4096;

}  // namespace

feature_extractor::feature_extractor(std::uint64_t seed)
    : seed_(seed), minhasher_(seed ^ 0x6d696e68617368ULL), reasoning_(seed) {
  std::uint64_t s = seed ^ 0x746f706963ULL;
  for (std::size_t p = 0; p < topic_xor_.size(); ++p) {
    s = mix64(s + 0x9e3779b97f4a7c15ULL);
    topic_xor_[p] = s;
    topic_mul_[p] = mix64(s) | 1u;
  }
}

feature_extractor::system_features feature_extractor::system_of(const pb::QueryEvent& ev) {
  if (ev.system_prompt().empty()) return {};
  std::uint64_t key = ev.system_prompt_hash() != 0 ? ev.system_prompt_hash()
                                                   : word_hash(ev.system_prompt(), seed_);
  if (auto it = system_cache_.find(key); it != system_cache_.end()) return it->second;
  system_features sf;
  sf.skeleton = make_skeleton(ev.system_prompt(), seed_).hash;
  std::string norm;
  std::vector<word> ws;
  normalise_text(ev.system_prompt(), norm);
  split_words(norm, seed_, ws, max_words);
  sf.markers = reasoning_.match(ws, ev.system_prompt());
  if (system_cache_.size() >= system_cache_limit) system_cache_.clear();
  system_cache_.emplace(key, sf);
  return sf;
}

void feature_extractor::extract(const pb::QueryEvent& ev, pb::Features& out) {
  out.Clear();
  out.set_version(version);
  out.set_seed(seed_);
  const std::string& raw = ev.prompt_text();
  const token_counts counts = tokeniser_.split(raw, seed_, max_words);
  words_ = tokeniser_.words();
  out.set_char_count(static_cast<std::uint32_t>(counts.chars));
  out.set_system_prompt_chars(static_cast<std::uint32_t>(ev.system_prompt().size()));
  out.set_word_count(static_cast<std::uint32_t>(words_.size()));
  // The normalised text's hash, chained over its words' hashes (equal texts, equal hashes).
  std::uint64_t text_hash = seed_ ^ 0x74657874ULL ^ (counts.words * 0x9e3779b97f4a7c15ULL);
  for (const auto& w : words_) text_hash = std::rotl((text_hash ^ w.hash) * 0x9fb21c651e98df25ULL, 29);
  out.set_text_hash(mix64(text_hash) | 1u);

  // 3-word shingles (the words themselves for shorter prompts).
  if (words_.size() < 3) {
    shingles64_.resize(words_.size());
    for (std::size_t i = 0; i < words_.size(); ++i) shingles64_[i] = words_[i].hash;
  } else {
    shingles64_.resize(words_.size() - 2);
    for (std::size_t i = 0; i + 2 < words_.size(); ++i) {
      // One folded multiply: the word hashes are already mixed, and the shingle is order-sensitive.
      shingles64_[i] = word_hash_detail::fold_mul(words_[i].hash ^ std::rotl(words_[i + 1].hash, 21) ^ word_hash_detail::k1,
                                                  words_[i + 2].hash ^ word_hash_detail::k2);
    }
  }
  shingles32_.resize(shingles64_.size());
  for (std::size_t i = 0; i < shingles64_.size(); ++i) {
    shingles32_[i] = static_cast<std::uint32_t>(shingles64_[i] ^ (shingles64_[i] >> 32));
  }
  if (!shingles32_.empty()) {
    minhash_signature sig;
    minhasher_.sign(shingles32_, sig);
    out.mutable_minhash()->Add(sig.begin(), sig.end());
    out.set_simhash(simhash(shingles64_));
  }

  skeleton sk = make_skeleton(raw, seed_);
  out.set_skeleton_hash(sk.hash);
  out.set_skeleton_constant(sk.constant);
  out.set_skeleton_tail_hash(sk.tail_hash);
  out.set_skeleton_tail_constant(sk.tail_constant);
  out.set_reasoning_markers(reasoning_.match(words_, raw));

  system_features sf = system_of(ev);
  out.set_system_prompt_skeleton(sf.skeleton);
  out.set_system_reasoning_markers(sf.markers);

  make_ngram_sketch(words_, sketch_, sketch_scratch_);
  out.mutable_ngram_sketch()->Add(sketch_.begin(), sketch_.end());

  // Topic LSH: bands of two min-wise content words each. Prompts about the same things share
  // buckets; a sweep over topics keeps reaching new ones. The content words' hashes are gathered
  // first without a branch (content and function words alternate unpredictably), so the min-wise
  // loop runs straight.
  topic_hashes_.resize(words_.size());
  std::size_t content = 0;
  for (const auto& w : words_) {
    topic_hashes_[content] = w.hash;
    content += (w.text.size() >= 3) & !w.common;
  }
  std::array<std::uint64_t, 2 * topic_bands> mins;
  mins.fill(~0ULL);
  const bool any = content > 0;
  for (std::size_t i = 0; i < content; ++i) {
    const std::uint64_t h = topic_hashes_[i];
    for (std::size_t p = 0; p < mins.size(); ++p) {
      mins[p] = std::min(mins[p], (h ^ topic_xor_[p]) * topic_mul_[p]);
    }
  }
  if (any) {
    for (std::size_t b = 0; b < topic_bands; ++b) {
      std::uint64_t h = mix64(mins[2 * b] ^ std::rotl(mins[2 * b + 1], 17) ^ (b + 1));
      out.add_topic_buckets(static_cast<std::uint32_t>(h));
    }
    out.set_topic_class(static_cast<std::uint32_t>(mix64(mins[0]) % topic_classes));
  }
}

bool feature_extractor::ensure(pb::QueryEvent& ev) {
  const pb::Features& f = ev.features();
  bool current = f.version() == version && f.seed() == seed_;
  if (ev.has_features() && f.version() != 0 && (current || ev.prompt_text().empty())) {
    return false;
  }
  extract(ev, *ev.mutable_features());
  return true;
}

}  // namespace dg::detectors
