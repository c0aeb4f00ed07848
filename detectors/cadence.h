// cadence: when a client asks. People sleep, pause and burst; harvesting
// scripts run around the clock, often at a regular pace. The state is an
// hour-of-week activity map (7 days x 24 bits, with day stamps so stale days
// are cleared), the day's idle run (a day whose longest circular idle run is
// shorter than `sleep_hours` is a day without sleep), and an exponentially
// weighted mean and variance of in-session inter-arrival gaps (their CV).
// Thread safety: a detector is immutable; states belong to the engine's thread.
#pragma once

#include <array>

#include "detectors/detector_common.h"
#include "detectors/detector_options.h"
#include "detectors/population.h"
#include "detectors/state_codec.h"

namespace dg::detectors {

struct cadence_state {
  micros last_ts = 0;
  float gap_mean = 0, gap_var = 0;     // seconds, over gaps shorter than an hour
  std::uint32_t gaps = 0;
  std::array<std::uint32_t, 7> day_bits{};   // 24 bits of active hours, per day slot
  std::array<std::int32_t, 7> day_stamp{};   // day number held in each slot (0 = none)
  std::int32_t cur_day = 0;
  std::uint32_t cur_day_events = 0;
  std::uint16_t judged_days = 0;       // closed days busy enough to judge sleep on
  std::uint16_t sleepless_days = 0;
  std::uint16_t active_days = 0;

  void save(state_writer& w) const;
  bool load(state_reader& r);
};

class cadence_detector {
 public:
  explicit cadence_detector(const cadence_options& o) : o_(o) {}
  void update(cadence_state& s, const event_view& e, population& pop) const;
  detector_result score(const cadence_state& s, const population& pop, const client_facts& c,
                        bool explain = true) const;

  // Longest run of zero bits in a 24-bit day, circularly (sleep may cross midnight).
  static int longest_idle_run(std::uint32_t day_bits);

 private:
  cadence_options o_;
};

}  // namespace dg::detectors
