#include "detectors/reasoning.h"

namespace dg::detectors {

void reasoning_state::save(state_writer& w) const {
  w.put(prompts); w.put(marked); w.put(user_marked); w.put(system_hash); w.put(system_weight);
  w.put(system_count); w.put(system_markers);
}

bool reasoning_state::load(state_reader& r) {
  return r.get(prompts) && r.get(marked) && r.get(user_marked) && r.get(system_hash) &&
         r.get(system_weight) && r.get(system_count) && r.get(system_markers);
}

void reasoning_detector::update(reasoning_state& s, const event_view& e, population&) const {
  if (s.prompts >= 0x40000000u) {
    s.prompts /= 2;
    s.marked /= 2;
    s.user_marked /= 2;
    s.system_count /= 2;
    s.system_weight /= 2;
  }
  ++s.prompts;
  const std::uint32_t user = e.f.reasoning_markers(), sys = e.f.system_reasoning_markers();
  if (user || sys) ++s.marked;
  if (user) ++s.user_marked;
  const std::uint64_t h = e.ev.system_prompt_hash();
  if (h != 0 && h == s.system_hash) {
    ++s.system_weight;
    ++s.system_count;
  } else if (s.system_weight == 0) {
    s.system_hash = h;
    s.system_weight = 1;
    s.system_count = 1;
    s.system_markers = sys;
  } else {
    --s.system_weight;
  }
}

detector_result reasoning_detector::score(const reasoning_state& s, const population&,
                                          const client_facts& c, bool explain) const {
  detector_result r;
  if (c.events < o_.min_events || s.prompts == 0) return r;
  const double share = static_cast<double>(s.marked) / s.prompts;
  double demand = ramp(share, o_.share_start, o_.share_full);
  const double fixed_share = s.system_hash ? static_cast<double>(s.system_count) / s.prompts : 0;
  const bool fixed_reasoning_system = s.system_markers != 0 && fixed_share >= 0.5;
  if (fixed_reasoning_system) demand = std::max(demand, ramp(fixed_share, 0.5, 0.9));
  // What the traces are worth: long answers, many times the prompt.
  double harvest = 1, ratio = -1;
  const double mean_out = c.mean_completion_tokens();
  if (mean_out >= 0) {
    harvest = ramp(mean_out, 64, 256);
    ratio = c.prompt_tokens ? static_cast<double>(c.completion_tokens) / static_cast<double>(c.prompt_tokens) : 0;
  }
  const double ratio_part = ratio >= 0 ? ramp(ratio, 1, o_.ratio_full) : 1;
  r.score = demand * (0.5 + 0.3 * harvest + 0.2 * ratio_part);
  if (explain && r.score > 0) {
    r.reason = format("%.0f%% of %u prompts demand a reasoning trace", 100 * share, s.prompts);
    if (fixed_reasoning_system) r.reason += format(" (a fixed reasoning system prompt on %.0f%%)", 100 * fixed_share);
    if (ratio >= 0) r.reason += format("; answers %.1fx the prompt, %.0f tokens on average", ratio, mean_out);
  }
  return r;
}

}  // namespace dg::detectors
