// scoring: detector scores -> one risk.
//
// Detectors fall in three groups, because they mean different things:
//  - breadth (volume, cadence, coverage, templates, prada, mmd, conversation):
//    automated, wide, systematic querying. Benign automation has it too, so
//    breadth counts only as far as the traffic is stateless single-turn
//    querying (the "stateless gate": a multi-turn product backend is broad but
//    is not a harvest) and only harvest_floor of itself when the answers are
//    too short to be worth distilling (a batch classification job);
//  - reasoning: a reasoning-trace demand, under the same stateless gate;
//  - extraction: logit/logprob probing, which is never benign at scale.
// weighted (default): noisy-OR of weight_i * score_i, so one strong detector
// suffices and weak ones add up. fisher: Fisher's method on p_i = 1 - the same
// effective scores, the risk being the chi-square CDF of -2 sum ln p_i.
// Linking is not combined here: a member's risk is max(own, its cluster's).
// Thread safety: immutable after construction.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

#include "detectors/detector_options.h"
#include "enforcement/verdict.h"

namespace dg::detectors {

enum detector_id : std::uint8_t {
  det_volume,
  det_cadence,
  det_coverage,
  det_templates,
  det_prada,
  det_mmd,
  det_reasoning,
  det_conversation,
  det_extraction,
  det_linking,
};
inline constexpr std::size_t detector_count = 10;
inline constexpr std::array<std::string_view, detector_count> detector_names = {
    "volume", "cadence", "coverage", "templates", "prada", "mmd", "reasoning", "conversation",
    "extraction", "linking"};

using score_array = std::array<double, detector_count>;

class scorer {
 public:
  explicit scorer(const detector_options& o);

  bool enabled(std::size_t d) const { return enabled_[d]; }
  double weight(std::size_t d) const { return weight_[d]; }

  // Stateless gate in [0, 1] from the share of stateless requests.
  double stateless_gate(double stateless_share) const;
  // Harvest factor in [harvest_floor, 1] from the mean answer length (-1: unknown -> 1).
  double harvest_factor(double mean_completion_tokens) const;
  // Effective contribution of each detector (0 for linking and disabled ones).
  score_array effective(const score_array& scores, double stateless_share, double mean_completion_tokens) const;
  // The risk from the detector scores (linking excluded).
  double combine(const score_array& scores, double stateless_share, double mean_completion_tokens) const;

  // Verdict from the risk by the configured thresholds (no policy attached), with a
  // 0.1 hysteresis on the way down.
  enforcement::verdict threshold_verdict(double risk, enforcement::verdict current) const;

 private:
  scoring_options o_;
  std::array<bool, detector_count> enabled_{};
  std::array<double, detector_count> weight_{};
};

// P(chi-square with 2k degrees of freedom <= x).
double chi2_cdf_even(double x, std::size_t k);

}  // namespace dg::detectors
