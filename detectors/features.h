// features: everything the detectors read from one request's text, computed
// once per event on the analyzer thread and stored with the event (pb::Features)
// so that replaying an export decides exactly what the live gateway decided,
// whatever prompt text the privacy mode kept:
//   normalised words, 3-word shingles, a 64-lane MinHash and a 64-bit SimHash
//   of them, the template skeleton and its hash, reasoning-elicitation markers
//   of the user turn and of the system prompt, a hashed n-gram sketch (MMD),
//   and LSH band buckets over content words (topic coverage, topic class).
// Thread safety: a feature_extractor keeps scratch buffers; one per thread.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "detectors/minhash.h"
#include "detectors/reasoning_markers.h"
#include "detectors/text_normalise.h"
#include "detectors/tokeniser.h"
#include "proto/query_event.pb.h"

namespace dg {
namespace pb = ::distillguard::pb;
}

namespace dg::detectors {

inline constexpr std::size_t topic_bands = 4;
inline constexpr std::uint32_t topic_classes = 64;

class feature_extractor {
 public:
  // Bumped when a feature's definition changes (stored features of another version are recomputed
  // when the text is there, and used as they are otherwise).
  // 2: the skeleton's tail is read from the last 160 bytes of a long prompt.
  // 3: the text hash is chained over word hashes; the n-gram sketch is the 16 smallest distinct values.
  // 4: words, shingles and bigrams are hashed by folded 128-bit multiplies (fewer instructions).
  static constexpr std::uint32_t version = 4;

  explicit feature_extractor(std::uint64_t seed);

  // Computes the features of ev's prompt_text and system_prompt into `out`.
  void extract(const pb::QueryEvent& ev, pb::Features& out);
  // Fills ev.features unless the event already carries features (replay of an export).
  // Returns true when it computed them.
  bool ensure(pb::QueryEvent& ev);

  std::uint64_t seed() const { return seed_; }

 private:
  struct system_features {
    std::uint64_t skeleton = 0;
    std::uint32_t markers = 0;
  };
  system_features system_of(const pb::QueryEvent& ev);

  std::uint64_t seed_;
  minhasher minhasher_;
  reasoning_matcher reasoning_;
  std::array<std::uint64_t, 2 * topic_bands> topic_xor_{};
  std::array<std::uint64_t, 2 * topic_bands> topic_mul_{};
  // Scratch, reused across events.
  tokeniser tokeniser_;
  std::span<const word> words_;  // the current prompt's, in tokeniser_
  std::vector<std::uint64_t> shingles64_;
  std::vector<std::uint32_t> shingles32_;
  std::vector<std::uint64_t> topic_hashes_;  // content words' hashes, for the topic LSH
  std::vector<std::uint32_t> sketch_;
  std::vector<std::uint32_t> sketch_scratch_;
  // System prompts repeat (that is the point of them): their features are cached by hash.
  std::unordered_map<std::uint64_t, system_features> system_cache_;
};

}  // namespace dg::detectors
