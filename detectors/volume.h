// volume: how much a client asks, against the population. Daily request and
// token counts become robust z-scores (median and MAD of log counts over the
// clients active today or yesterday), gated by an absolute floor so that the
// busiest person on a quiet gateway is not an outlier; Page's CUSUM on the
// hourly rate, in units of the client's own baseline, catches sudden ramps.
// Thread safety: a detector is immutable; states belong to the engine's thread.
#pragma once

#include "detectors/detector_common.h"
#include "detectors/detector_options.h"
#include "detectors/population.h"
#include "detectors/state_codec.h"

namespace dg::detectors {

struct volume_state {
  std::int32_t day = -1;          // day number of today_*
  std::uint32_t today_requests = 0, today_tokens = 0;
  std::uint32_t prev_requests = 0, prev_tokens = 0;  // the day before `day`, if active then
  std::int16_t requests_bin = -1, tokens_bin = -1;  // this client's bins in population today
  std::int64_t hour = -1;         // hour number of hour_count
  std::uint32_t hour_count = 0;
  std::uint32_t hours_seen = 0;
  float baseline = 0;             // EWMA of hourly requests
  float cusum = 0, cusum_peak = 0;

  void save(state_writer& w) const;
  bool load(state_reader& r);
};

class volume_detector {
 public:
  explicit volume_detector(const volume_options& o) : o_(o) {}
  void update(volume_state& s, const event_view& e, population& pop) const;
  detector_result score(const volume_state& s, const population& pop, const client_facts& c,
                        bool explain = true) const;

 private:
  volume_options o_;
};

}  // namespace dg::detectors
