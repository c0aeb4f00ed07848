#include "detectors/extraction.h"

#include <algorithm>

namespace dg::detectors {

void extraction_state::save(state_writer& w) const {
  w.put(requests); w.put(logprobs_bias); w.put(tiny_probe); w.put(repeat_bias); w.put(bias_max);
  w.put(bias_tokens_max); w.put(recent); w.put(next);
}

bool extraction_state::load(state_reader& r) {
  return r.get(requests) && r.get(logprobs_bias) && r.get(tiny_probe) && r.get(repeat_bias) &&
         r.get(bias_max) && r.get(bias_tokens_max) && r.get(recent) && r.get(next) && next < recent.size();
}

void extraction_detector::update(extraction_state& s, const event_view& e, population&) const {
  if (s.requests >= 0x40000000u) {
    s.requests /= 2;
    s.logprobs_bias /= 2;
    s.tiny_probe /= 2;
    s.repeat_bias /= 2;
  }
  ++s.requests;
  const auto& ev = e.ev;
  const bool logprobs = ev.logprobs() || (ev.has_top_logprobs() && ev.top_logprobs() > 0);
  const bool bias = ev.logit_bias_count() > 0;
  const bool tiny = ev.has_max_tokens() && ev.max_tokens() <= o_.tiny_max_tokens;
  if (logprobs && bias) ++s.logprobs_bias;
  if (tiny && (logprobs || bias)) ++s.tiny_probe;
  if (bias) {
    s.bias_max = std::max(s.bias_max, static_cast<float>(ev.logit_bias_max_abs()));
    s.bias_tokens_max = std::max(s.bias_tokens_max, ev.logit_bias_count());
  }
  const std::uint64_t h = e.f.text_hash();
  if (bias && h != 0 && std::find(s.recent.begin(), s.recent.end(), h) != s.recent.end()) ++s.repeat_bias;
  s.recent[s.next] = h;
  s.next = static_cast<std::uint8_t>((s.next + 1) % s.recent.size());
}

detector_result extraction_detector::score(const extraction_state& s, const population&,
                                           const client_facts& c, bool explain) const {
  detector_result r;
  if (c.events < o_.min_events || s.requests == 0) return r;
  const double n = s.requests;
  const double lb = s.logprobs_bias / n, rep = s.repeat_bias / n, tiny = s.tiny_probe / n;
  r.score = std::max({ramp(lb, o_.share_start, o_.share_full), ramp(rep, o_.share_start, o_.share_full),
                      0.5 * ramp(tiny, o_.share_start, o_.share_full)});
  if (explain && r.score > 0) {
    r.reason = format("of %u requests, %.0f%% ask for logprobs with a logit_bias (up to %u tokens, |bias| %.0f), "
                      "%.0f%% repeat a recent prompt with a bias, %.0f%% are probes of max_tokens <= %u",
                      s.requests, 100 * lb, s.bias_tokens_max, s.bias_max, 100 * rep, 100 * tiny,
                      o_.tiny_max_tokens);
  }
  return r;
}

}  // namespace dg::detectors
