#include "server/replay_run.h"

#include <nlohmann/json.hpp>

namespace dg::server {

namespace {

bool blank(const std::string& s) {
  return s.find_first_not_of(" \t\r") == std::string::npos;
}

void sample(std::vector<std::pair<std::uint64_t, std::string>>& v, std::uint64_t line,
            std::string why) {
  if (v.size() < replay_stats::max_samples) v.emplace_back(line, std::move(why));
}

}  // namespace

status replay_stream(line_reader& reader, const record_options& options, detectors::engine& eng,
                     std::map<std::string, std::string>& names, replay_stats& stats,
                     const replay_progress& progress, const replay_tick& tick) {
  micros next_tick = 0;
  std::string line;
  std::string client;
  std::string warning;
  pb::QueryEvent ev;
  for (;;) {
    const auto r = reader.next(line);
    if (r == line_reader::result::end) break;
    if (r == line_reader::result::error) {
      stats.compressed = reader.compressed();
      return status(reader.error());
    }
    ++stats.lines;
    const std::uint64_t no = reader.line_number();
    if (progress && stats.lines % 4096 == 0) progress(reader, stats);
    if (r == line_reader::result::too_long) {
      ++stats.bad_lines;
      sample(stats.bad, no, "line longer than " + std::to_string(line_reader::max_line_bytes) + " bytes");
      continue;
    }
    if (blank(line)) {
      ++stats.blank_lines;
      continue;
    }
    bool exported = false;
    if (auto st = event_from_line(line, options, ev, client, warning, exported); !st.is_ok()) {
      ++stats.bad_lines;
      sample(stats.bad, no, st.message());
      continue;
    }
    if (!warning.empty()) {
      ++stats.request_warnings;
      sample(stats.warnings, no, warning);
    }
    if (exported) ++stats.exported_events;
    if (stats.events > 0 && ev.ts_micros() < stats.last_ts) ++stats.out_of_order;
    if (stats.events == 0 || ev.ts_micros() < stats.first_ts) stats.first_ts = ev.ts_micros();
    if (ev.ts_micros() > stats.last_ts) stats.last_ts = ev.ts_micros();
    names.try_emplace(ev.client_id(), client);
    if (tick && stats.last_ts >= next_tick) {
      if (next_tick != 0) tick(stats.last_ts);
      next_tick = stats.last_ts + advance_interval;
    }
    eng.observe(ev);
    ++stats.events;
  }
  stats.compressed = reader.compressed();
  if (progress) progress(reader, stats);
  return status::ok();
}

}  // namespace dg::server
