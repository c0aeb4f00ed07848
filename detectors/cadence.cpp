#include "detectors/cadence.h"

#include <bit>
#include <cmath>

namespace dg::detectors {
namespace {
// A day needs at least this many events to judge whether its client slept.
constexpr std::uint32_t judge_min_events = 24;
}  // namespace

void cadence_state::save(state_writer& w) const {
  w.put(last_ts); w.put(gap_mean); w.put(gap_var); w.put(gaps); w.put(day_bits); w.put(day_stamp);
  w.put(cur_day); w.put(cur_day_events); w.put(judged_days); w.put(sleepless_days); w.put(active_days);
}

bool cadence_state::load(state_reader& r) {
  return r.get(last_ts) && r.get(gap_mean) && r.get(gap_var) && r.get(gaps) && r.get(day_bits) &&
         r.get(day_stamp) && r.get(cur_day) && r.get(cur_day_events) && r.get(judged_days) &&
         r.get(sleepless_days) && r.get(active_days);
}

int cadence_detector::longest_idle_run(std::uint32_t bits) {
  bits &= 0xffffffu;
  if (bits == 0) return 24;
  int best = 0, run = 0;
  for (int i = 0; i < 48; ++i) {  // twice round the clock: circular runs
    if (bits & (1u << (i % 24))) run = 0;
    else best = std::max(best, ++run);
  }
  return std::min(best, 24);
}

void cadence_detector::update(cadence_state& s, const event_view& e, population&) const {
  if (s.last_ts != 0) {
    double gap = static_cast<double>(e.ts - s.last_ts) / 1e6;
    if (gap < 3600) {
      constexpr double alpha = 1.0 / 32;
      if (s.gaps == 0) {
        s.gap_mean = static_cast<float>(gap);
      } else {
        double d = gap - s.gap_mean;
        double mean = s.gap_mean + alpha * d;
        s.gap_var = static_cast<float>((1 - alpha) * (s.gap_var + alpha * d * d));
        s.gap_mean = static_cast<float>(mean);
      }
      ++s.gaps;
    }
  }
  s.last_ts = e.ts;

  const auto day = static_cast<std::int32_t>(e.ts / micros_per_day) + 1;  // +1: 0 means empty
  const auto hour = static_cast<int>((e.ts / micros_per_hour) % 24);
  if (day != s.cur_day) {
    if (s.cur_day != 0 && s.cur_day_events >= judge_min_events) {  // close the previous day
      std::size_t slot = static_cast<std::size_t>(s.cur_day % 7);
      if (s.day_stamp[slot] == s.cur_day) {
        ++s.judged_days;
        if (longest_idle_run(s.day_bits[slot]) < static_cast<int>(o_.sleep_hours)) ++s.sleepless_days;
      }
    }
    s.cur_day = day;
    s.cur_day_events = 0;
    ++s.active_days;
  }
  ++s.cur_day_events;
  std::size_t slot = static_cast<std::size_t>(day % 7);
  if (s.day_stamp[slot] != day) {
    s.day_stamp[slot] = day;
    s.day_bits[slot] = 0;
  }
  s.day_bits[slot] |= 1u << hour;
}

detector_result cadence_detector::score(const cadence_state& s, const population&,
                                        const client_facts& c, bool explain) const {
  detector_result r;
  if (c.events < o_.min_events) return r;
  // Sleepless days, counting today once it has no room left for sleep.
  std::uint32_t judged = s.judged_days, sleepless = s.sleepless_days;
  std::size_t cur_slot = static_cast<std::size_t>(s.cur_day % 7);
  if (s.cur_day_events >= judge_min_events && s.day_stamp[cur_slot] == s.cur_day &&
      std::popcount(s.day_bits[cur_slot]) >= static_cast<int>(24 - o_.sleep_hours + 1) &&
      longest_idle_run(s.day_bits[cur_slot]) < static_cast<int>(o_.sleep_hours)) {
    ++judged;
    ++sleepless;
  }
  double sleepless_share = judged ? static_cast<double>(sleepless) / judged : 0;
  double s_sleep = judged >= o_.min_days ? ramp(sleepless_share, 0.3, 0.8) : 0;

  // Share of hours active over the week's active days.
  int hours = 0, days = 0;
  for (std::size_t i = 0; i < 7; ++i) {
    if (s.day_stamp[i] != 0 && s.cur_day - s.day_stamp[i] < 7) {
      hours += std::popcount(s.day_bits[i]);
      ++days;
    }
  }
  double hour_share = days ? hours / (24.0 * days) : 0;
  double s_hours = days >= 2 ? ramp(hour_share, 0.6, 0.9) : 0;

  double cv = s.gap_mean > 0 ? std::sqrt(std::max(0.0f, s.gap_var)) / s.gap_mean : 0;
  double s_regular = s.gaps >= 50 && s.gap_mean > 0 ? ramp(cv, o_.regular_cv, o_.regular_cv / 2) : 0;

  r.score = 1 - (1 - s_sleep) * (1 - 0.6 * s_hours) * (1 - 0.4 * s_regular);
  if (explain && r.score > 0) {
    r.reason = format("active %.0f%% of hours on %d recent days; no sleep on %u of %u days; "
                      "inter-arrival CV %.2f over %u gaps",
                      100 * hour_share, days, sleepless, judged, cv, s.gaps);
  }
  return r;
}

}  // namespace dg::detectors
