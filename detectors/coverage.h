// coverage: how fast a client reaches new topics (the Extraction Monitor's
// idea: an extractor must cover the input space, a user keeps to a few
// subjects). Each prompt's first LSH band bucket goes into a 2048-bit bitmap;
// linear counting turns the fill into a distinct-topic estimate, and its growth
// per prompt over windows of 32 prompts is the new-topic rate. A 64-class
// histogram gives the topic entropy. The score needs many distinct topics, a
// high new-topic rate and a spread of classes, and is scaled down when the
// answers are too short to be worth harvesting.
// Thread safety: a detector is immutable; states belong to the engine's thread.
#pragma once

#include <array>

#include "detectors/detector_common.h"
#include "detectors/detector_options.h"
#include "detectors/population.h"
#include "detectors/state_codec.h"

namespace dg::detectors {

struct coverage_state {
  static constexpr std::size_t bitmap_bits = 2048;
  std::array<std::uint64_t, bitmap_bits / 64> bitmap{};
  std::uint32_t set_bits = 0;
  std::uint32_t prompts = 0;           // prompts with topic buckets
  std::uint32_t window_prompts = 0;    // since the last checkpoint
  float checkpoint_distinct = 0;
  float new_rate = -1;                 // EWMA of new topics per prompt; -1 before the first window
  std::array<std::uint16_t, 64> classes{};

  double distinct() const;             // linear-counting estimate
  double entropy() const;              // normalised to [0, 1]
  void save(state_writer& w) const;
  bool load(state_reader& r);
};

class coverage_detector {
 public:
  explicit coverage_detector(const coverage_options& o) : o_(o) {}
  void update(coverage_state& s, const event_view& e, population& pop) const;
  detector_result score(const coverage_state& s, const population& pop, const client_facts& c,
                        bool explain = true) const;

 private:
  coverage_options o_;
};

}  // namespace dg::detectors
