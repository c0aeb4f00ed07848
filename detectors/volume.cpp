#include "detectors/volume.h"

#include <cmath>

namespace dg::detectors {

void volume_state::save(state_writer& w) const {
  w.put(day); w.put(today_requests); w.put(today_tokens); w.put(prev_requests); w.put(prev_tokens);
  w.put(hour); w.put(hour_count); w.put(hours_seen); w.put(baseline); w.put(cusum); w.put(cusum_peak);
}

bool volume_state::load(state_reader& r) {
  requests_bin = tokens_bin = -1;  // population bins are not saved: re-added on the next event
  return r.get(day) && r.get(today_requests) && r.get(today_tokens) && r.get(prev_requests) &&
         r.get(prev_tokens) && r.get(hour) && r.get(hour_count) && r.get(hours_seen) &&
         r.get(baseline) && r.get(cusum) && r.get(cusum_peak);
}

void volume_detector::update(volume_state& s, const event_view& e, population& pop) const {
  const auto d = static_cast<std::int32_t>(e.ts / micros_per_day);
  pop.roll_to(d);
  if (d != s.day) {
    if (d == s.day + 1) {
      s.prev_requests = s.today_requests;
      s.prev_tokens = s.today_tokens;
    } else {
      s.prev_requests = s.prev_tokens = 0;
    }
    s.today_requests = s.today_tokens = 0;
    s.requests_bin = s.tokens_bin = -1;
    s.day = d;
  }
  ++s.today_requests;
  std::uint64_t tok = static_cast<std::uint64_t>(s.today_tokens) + e.ev.prompt_tokens() + e.ev.completion_tokens();
  s.today_tokens = static_cast<std::uint32_t>(std::min<std::uint64_t>(tok, 0xffffffffu));
  if (s.day == pop.day) {
    auto move = [](log_histogram& h, std::int16_t& bin, double count) {
      int b = log_histogram::bin_of(count);
      if (b == bin) return;
      if (bin >= 0) h.remove(bin);
      h.add(b);
      bin = static_cast<std::int16_t>(b);
    };
    move(pop.requests_today, s.requests_bin, s.today_requests);
    if (s.today_tokens > 0) move(pop.tokens_today, s.tokens_bin, s.today_tokens);
  }

  // CUSUM over closed hours.
  const std::int64_t h = e.ts / micros_per_hour;
  if (s.hour < 0) s.hour = h;
  if (h > s.hour) {
    std::int64_t gap = std::min<std::int64_t>(h - s.hour, 48);  // a long absence: 48 empty hours say it all
    double x = s.hour_count;
    for (std::int64_t i = 0; i < gap; ++i) {
      double mu = s.baseline;
      if (s.hours_seen >= 3) {
        double c = s.cusum + (x - (1 + o_.cusum_k) * mu) / std::max(mu, 1.0);
        s.cusum = static_cast<float>(std::max(0.0, c));
        s.cusum_peak = std::max(s.cusum_peak, s.cusum);
      }
      double alpha = 1.0 / std::min<double>(s.hours_seen + 1, 24);
      s.baseline = static_cast<float>(mu + alpha * (x - mu));
      ++s.hours_seen;
      x = 0;
    }
    s.hour = h;
    s.hour_count = 0;
  }
  ++s.hour_count;
}

detector_result volume_detector::score(const volume_state& s, const population& pop,
                                       const client_facts& c, bool explain) const {
  detector_result r;
  if (c.events < o_.min_events) return r;
  auto z_of = [](const log_histogram& today, const log_histogram& yesterday, double count,
                 double& median_out) {
    const log_histogram& h = yesterday.total() >= 30 ? yesterday : today;
    double median = 0, mad = 0;
    h.median_mad(median, mad);
    median_out = std::exp2(median);
    double sigma = std::max(1.4826 * mad, 0.5);
    return h.total() < 5 ? 0.0 : (std::log2(std::max(count, 1.0)) - median) / sigma;
  };
  const double req = std::max(s.today_requests, s.prev_requests);
  const double tok = std::max(s.today_tokens, s.prev_tokens);
  double req_median = 0, tok_median = 0;
  const double zr = z_of(pop.requests_today, pop.requests_yesterday, req, req_median);
  const double zt = z_of(pop.tokens_today, pop.tokens_yesterday, tok, tok_median);
  const double min_tokens = o_.min_daily_requests * 200;
  const double sr = ramp(zr, o_.z_start, o_.z_full) * ramp(req, o_.min_daily_requests, 2 * o_.min_daily_requests);
  const double st = ramp(zt, o_.z_start, o_.z_full) * ramp(tok, min_tokens, 2 * min_tokens);
  const double sc = ramp(s.cusum, o_.cusum_h, 2 * o_.cusum_h) *
                    ramp(req, o_.min_daily_requests / 2, o_.min_daily_requests);
  r.score = std::max({sr, st, sc});
  if (explain && r.score > 0) {
    r.reason = format("%.0f requests and %.0f tokens a day: robust z %.1f and %.1f against the active "
                      "clients (median %.0f requests a day)",
                      req, tok, zr, zt, req_median);
    if (sc > 0) r.reason += format("; rate ramped (CUSUM %.1f over a baseline of %.1f an hour)", s.cusum, s.baseline);
  }
  return r;
}

}  // namespace dg::detectors
