// detector_common: what every detector shares: the view of one event it folds,
// the client facts every score may read, the result type, and small helpers.
#pragma once

#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <string>

#include "common/clock.h"
#include "proto/query_event.pb.h"

namespace dg {
namespace pb = ::distillguard::pb;
}

namespace dg::detectors {

// One event as the detectors see it (features already computed).
struct event_view {
  const pb::QueryEvent& ev;
  const pb::Features& f;
  micros ts = 0;              // event time, never earlier than the client's previous event
  bool stateless = true;      // no assistant turn in the request: a fresh, single-turn query
  bool usage_known = false;   // usage was reported (completion_tokens or prompt_tokens > 0)
};

// Counters every detector may read when scoring.
struct client_facts {
  std::uint64_t events = 0;
  micros first_ts = 0;
  micros last_ts = 0;
  std::uint64_t usage_events = 0;      // events with usage
  std::uint64_t prompt_tokens = 0;     // sums over usage_events
  std::uint64_t completion_tokens = 0;

  double mean_completion_tokens() const {
    return usage_events ? static_cast<double>(completion_tokens) / static_cast<double>(usage_events) : -1;
  }
};

// A detector's score(state, population, facts, explain) gives this; with explain false it leaves
// the reason empty, because the engine rescores often and needs the words only when a verdict
// changes (formatting them was a twentieth of the analyzer's time).
struct detector_result {
  double score = 0;     // [0, 1]
  std::string reason;   // empty when nothing to say
};

// 0 at or below `from`, 1 at or above `to`, linear between (to may be below from: falling ramp).
inline double ramp(double x, double from, double to) {
  if (from == to) return x >= to ? 1.0 : 0.0;
  return std::clamp((x - from) / (to - from), 0.0, 1.0);
}

// printf into a std::string, for reasons.
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
inline std::string format(const char* fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return std::string(buf, n < 0 ? 0 : std::min<std::size_t>(static_cast<std::size_t>(n), sizeof buf - 1));
}

inline constexpr micros micros_per_hour = 3600LL * 1000000;
inline constexpr micros micros_per_day = 24 * micros_per_hour;

}  // namespace dg::detectors
