// replay_run: the driver of `distillguard replay` without its command line.
// Feeds a traffic log into a detection engine in file order, the way the live
// analyzer feeds it from the request path, and keeps the counts a report needs.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "detectors/engine.h"
#include "server/replay_reader.h"

namespace dg::server {

struct replay_stats {
  // Kept in full in the report only up to this many; the counts are always exact.
  static constexpr std::size_t max_samples = 100;

  std::uint64_t lines = 0;             // lines read, blank ones included
  std::uint64_t blank_lines = 0;       // skipped silently
  std::uint64_t events = 0;            // events fed to the engine
  std::uint64_t exported_events = 0;   // of which carried a stored event ("x_distillguard")
  std::uint64_t bad_lines = 0;         // lines that could not be replayed
  std::uint64_t request_warnings = 0;  // replayed, but the parser refused part of the request
  std::uint64_t out_of_order = 0;      // events older than an earlier line (the engine clamps them)
  std::vector<std::pair<std::uint64_t, std::string>> bad;       // line number, why
  std::vector<std::pair<std::uint64_t, std::string>> warnings;  // line number, why
  micros first_ts = 0;
  micros last_ts = 0;
  bool compressed = false;
};

// Called now and then (every few thousand lines) while replaying.
using replay_progress = std::function<void(const line_reader&, const replay_stats&)>;
// Called with the event time each time it has moved on by advance_interval, as
// the live driver's timer calls policy::advance every few seconds of its clock.
using replay_tick = std::function<void(micros now)>;
inline constexpr micros advance_interval = 5'000'000;

// Reads every line of `reader`, maps it with event_from_record and feeds it to
// `eng`. `names` receives, for every client id, the client as the input first
// spelled it. A bad line is counted and sampled with its number and the rest of
// the input is still replayed; the returned status is an error only when the
// input itself fails (I/O error, truncated gzip), and then everything read
// before the failure has been fed.
status replay_stream(line_reader& reader, const record_options& options, detectors::engine& eng,
                     std::map<std::string, std::string>& names, replay_stats& stats,
                     const replay_progress& progress = {}, const replay_tick& tick = {});

}  // namespace dg::server
