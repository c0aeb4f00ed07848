// reasoning: reasoning-trace harvesting (Orca, DeepSeek-R1 and s1-style
// distillation). Counts prompts whose user turn or system prompt demands a
// reasoning trace, tracks the client's dominant system prompt (Misra-Gries,
// one slot) and whether it carries such a demand, and the output/input token
// ratio: long traces from short prompts are what a harvest wants.
// Thread safety: a detector is immutable; states belong to the engine's thread.
#pragma once

#include "detectors/detector_common.h"
#include "detectors/detector_options.h"
#include "detectors/population.h"
#include "detectors/state_codec.h"

namespace dg::detectors {

struct reasoning_state {
  std::uint32_t prompts = 0;
  std::uint32_t marked = 0;          // markers in the user turn or the system prompt
  std::uint32_t user_marked = 0;     // markers in the user turn
  std::uint64_t system_hash = 0;     // dominant system prompt (Misra-Gries, one slot)
  std::uint32_t system_weight = 0;   // its Misra-Gries counter
  std::uint32_t system_count = 0;    // prompts seen with it since it took the slot
  std::uint32_t system_markers = 0;

  void save(state_writer& w) const;
  bool load(state_reader& r);
};

class reasoning_detector {
 public:
  explicit reasoning_detector(const reasoning_options& o) : o_(o) {}
  void update(reasoning_state& s, const event_view& e, population& pop) const;
  detector_result score(const reasoning_state& s, const population& pop, const client_facts& c,
                        bool explain = true) const;

 private:
  reasoning_options o_;
};

}  // namespace dg::detectors
