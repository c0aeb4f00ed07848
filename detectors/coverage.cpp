#include "detectors/coverage.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace dg::detectors {
namespace {
constexpr std::uint32_t window = 32;
}

double coverage_state::distinct() const {
  constexpr double m = bitmap_bits;
  double zero = m - set_bits;
  if (zero < 1) zero = 1;  // saturated: the estimate stops at m ln m
  return -m * std::log(zero / m);
}

double coverage_state::entropy() const {
  double total = 0;
  for (auto c : classes) total += c;
  if (total <= 0) return 0;
  double h = 0;
  for (auto c : classes) {
    if (c == 0) continue;
    double p = c / total;
    h -= p * std::log(p);
  }
  // Normalised by the most a client with this many prompts could reach.
  double cap = std::log(std::min<double>(classes.size(), total));
  return cap > 0 ? std::min(1.0, h / cap) : 0;
}

void coverage_state::save(state_writer& w) const {
  w.put(bitmap); w.put(set_bits); w.put(prompts); w.put(window_prompts); w.put(checkpoint_distinct);
  w.put(new_rate); w.put(classes);
}

bool coverage_state::load(state_reader& r) {
  return r.get(bitmap) && r.get(set_bits) && r.get(prompts) && r.get(window_prompts) &&
         r.get(checkpoint_distinct) && r.get(new_rate) && r.get(classes);
}

void coverage_detector::update(coverage_state& s, const event_view& e, population&) const {
  if (e.f.topic_buckets_size() == 0) return;
  std::uint32_t b = e.f.topic_buckets(0) % coverage_state::bitmap_bits;
  std::uint64_t bit = 1ULL << (b % 64);
  auto& word = s.bitmap[b / 64];
  if (!(word & bit)) {
    word |= bit;
    ++s.set_bits;
  }
  auto& cls = s.classes[e.f.topic_class() % s.classes.size()];
  if (cls == 0xffff) {
    for (auto& c : s.classes) c = static_cast<std::uint16_t>(c / 2);
  }
  ++cls;
  ++s.prompts;
  if (++s.window_prompts >= window) {
    double d = s.distinct();
    double rate = std::clamp((d - s.checkpoint_distinct) / s.window_prompts, 0.0, 1.0);
    // A nearly full bitmap no longer sees new topics; keep the rate it measured.
    if (s.set_bits < coverage_state::bitmap_bits * 97 / 100) {
      s.new_rate = static_cast<float>(s.new_rate < 0 ? rate : 0.7 * s.new_rate + 0.3 * rate);
    }
    s.checkpoint_distinct = static_cast<float>(d);
    s.window_prompts = 0;
  }
}

detector_result coverage_detector::score(const coverage_state& s, const population&,
                                         const client_facts& c, bool explain) const {
  detector_result r;
  if (c.events < o_.min_events || s.new_rate < 0) return r;
  const double distinct = s.distinct();
  const double entropy = s.entropy();
  double output = 1;
  const double mean_out = c.mean_completion_tokens();
  if (mean_out >= 0) output = 0.3 + 0.7 * ramp(mean_out, o_.min_mean_output_tokens / 2, o_.min_mean_output_tokens * 2);
  // The evidence is what the client has reached, not only its recent pace: a pool worked through
  // a second time (fewer new topics now) has still covered thousands of topics at a high rate.
  const double lifetime_rate = s.prompts ? distinct / s.prompts : 0;
  const double rate = std::max<double>(s.new_rate, lifetime_rate);
  r.score = ramp(distinct, o_.distinct_start, o_.distinct_full) *
            ramp(rate, 0.15, o_.new_rate_full) * ramp(entropy, 0.5, 0.8) * output;
  if (explain && r.score > 0) {
    r.reason = format("reached ~%.0f topics in %u prompts (%.2f new topics a prompt, %.2f lately; topic entropy %.2f)",
                      distinct, s.prompts, lifetime_rate, s.new_rate, entropy);
    if (mean_out >= 0) r.reason += format(", answers of %.0f tokens on average", mean_out);
  }
  return r;
}

}  // namespace dg::detectors
