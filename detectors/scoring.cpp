#include "detectors/scoring.h"

#include <algorithm>
#include <cmath>

#include "detectors/detector_common.h"

namespace dg::detectors {

scorer::scorer(const detector_options& o) : o_(o.scoring) {
  const detector_common* c[detector_count] = {&o.volume,    &o.cadence, &o.coverage,
                                              &o.templates, &o.prada,   &o.mmd,
                                              &o.reasoning, &o.conversation, &o.extraction,
                                              &o.linking};
  for (std::size_t i = 0; i < detector_count; ++i) {
    enabled_[i] = c[i]->enabled;
    weight_[i] = std::clamp(c[i]->weight, 0.0, 1.0);
  }
}

double scorer::stateless_gate(double share) const {
  return o_.stateless_gate ? ramp(share, 0.5, 0.85) : 1.0;
}

double scorer::harvest_factor(double mean_out) const {
  if (mean_out < 0) return 1.0;
  return o_.harvest_floor + (1 - o_.harvest_floor) * ramp(mean_out, o_.harvest_tokens_low, o_.harvest_tokens_full);
}

score_array scorer::effective(const score_array& s, double stateless_share, double mean_out) const {
  const double gate = stateless_gate(stateless_share);
  const double harvest = harvest_factor(mean_out);
  score_array e{};
  for (std::size_t i = 0; i < detector_count; ++i) {
    if (!enabled_[i] || i == det_linking) continue;
    double v = weight_[i] * std::clamp(s[i], 0.0, 1.0);
    if (i == det_reasoning) v *= gate;
    else if (i != det_extraction) v *= gate * harvest;
    e[i] = v;
  }
  return e;
}

double chi2_cdf_even(double x, std::size_t k) {
  if (x <= 0) return 0;
  // 1 - e^{-x/2} sum_{j<k} (x/2)^j / j!
  double half = x / 2, term = 1, sum = 1;
  for (std::size_t j = 1; j < k; ++j) {
    term *= half / static_cast<double>(j);
    sum += term;
  }
  return std::clamp(1 - std::exp(-half) * sum, 0.0, 1.0);
}

double scorer::combine(const score_array& s, double stateless_share, double mean_out) const {
  const score_array e = effective(s, stateless_share, mean_out);
  if (o_.method == "fisher") {
    double x = 0;
    std::size_t k = 0;
    for (std::size_t i = 0; i < detector_count; ++i) {
      if (!enabled_[i] || i == det_linking) continue;
      x += -2 * std::log(std::clamp(1 - e[i], 1e-12, 1.0));
      ++k;
    }
    return k ? chi2_cdf_even(x, k) : 0;
  }
  double keep = 1;
  for (double v : e) keep *= 1 - v;
  return std::clamp(1 - keep, 0.0, 1.0);
}

enforcement::verdict scorer::threshold_verdict(double risk, enforcement::verdict current) const {
  using enforcement::verdict;
  auto level = [&](double r) {
    if (r >= o_.block_at) return verdict::block;
    if (r >= o_.throttle_at) return verdict::throttle;
    if (r >= o_.watermark_at) return verdict::watermark;
    return verdict::allow;
  };
  verdict up = level(risk);
  if (up >= current) return up;
  return std::max(up, std::min(current, level(risk + 0.1)));  // fall only 0.1 below a threshold
}

}  // namespace dg::detectors
