// mmd: distribution shift. A window of the client's recent prompts (hashed
// n-gram sketches, bottom-8) against a reservoir of prompts sampled across
// the population (each client's 1st, 2nd, 4th, 8th, ... prompt, so that no
// heavy client dominates it): the unbiased MMD^2 under the resemblance
// kernel. A client asking a narrow family of prompts (a template, one
// generator's style, paraphrases of seeds) sits far from the population.
// Thread safety: a detector is immutable; states belong to the engine's thread.
#pragma once

#include <array>
#include <vector>

#include "detectors/detector_common.h"
#include "detectors/detector_options.h"
#include "detectors/population.h"
#include "detectors/state_codec.h"

namespace dg::detectors {

struct mmd_state {
  static constexpr std::size_t capacity = 64;
  struct sketch {
    std::array<std::uint32_t, 8> v{};
    std::uint8_t size = 0;
  };
  std::vector<sketch> window;  // ring
  std::uint16_t next = 0;
  std::uint32_t prompts = 0;
  std::uint32_t computed_at = 0;
  float mmd2 = 0;
  bool computed = false;

  void save(state_writer& w) const;
  bool load(state_reader& r);
  std::size_t heap_bytes() const { return window.capacity() * sizeof(sketch); }
};

class mmd_detector {
 public:
  explicit mmd_detector(const mmd_options& o) : o_(o) {}
  void update(mmd_state& s, const event_view& e, population& pop, std::uint64_t client_events) const;
  // Recomputes MMD^2 once a window of new prompts arrived (and the shared population sample when
  // the reservoir has moved on).
  void refresh(mmd_state& s, population& pop) const;
  detector_result score(const mmd_state& s, const population& pop, const client_facts& c,
                        bool explain = true) const;

 private:
  mmd_options o_;
};

}  // namespace dg::detectors
