// storage_scale: the store at scale.
//
//   storage_scale --dir DIR [--events 10000000] [--clients 1000000] [--heavy-share 0.01]
//                 [--compression lz4|zstd|none] [--keep]
//
// Writes --events events across --clients clients over 30 days of event time
// (client 0 is a heavy hitter with --heavy-share of all events, so that it has
// at least 10,000 to scan), closes the store, and reports:
//   ingest events/s, bytes on disk per event (after a full compaction too),
//   time to open the directory, time to scan the heavy client's last 10,000
//   events (newest first), and a typical client's whole history.
// Prints one JSON object on stdout.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "storage/event_store.h"
#include "storage/privacy.h"
#include "../unit/storage/test_events.h"

namespace {

using namespace dg;
using namespace dg::storage;
using clk = std::chrono::steady_clock;

double seconds_since(clk::time_point t) { return std::chrono::duration<double>(clk::now() - t).count(); }

std::uintmax_t dir_bytes(const std::string& dir) {
  std::uintmax_t bytes = 0;
  std::error_code ec;
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (f.is_regular_file(ec)) bytes += f.file_size(ec);
  }
  return bytes;
}

std::string client_name(std::uint64_t c) { return to_hex(sha256("client-" + std::to_string(c)), 16); }

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  std::uint64_t events = 10'000'000, clients = 1'000'000;
  double heavy_share = 0.01;
  std::string compression = "lz4";
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--dir") dir = next();
    else if (a == "--events") events = std::stoull(next());
    else if (a == "--clients") clients = std::stoull(next());
    else if (a == "--heavy-share") heavy_share = std::stod(next());
    else if (a == "--compression") compression = next();
    else if (a == "--keep") keep = true;
    else {
      std::fprintf(stderr, "usage: storage_scale --dir DIR [--events N] [--clients N] [--heavy-share F] "
                           "[--compression lz4|zstd|none] [--keep]\n");
      return 2;
    }
  }
  if (dir.empty()) {
    std::fprintf(stderr, "storage_scale: --dir is required\n");
    return 2;
  }
  storage_options o;
  o.path = dir + "/db";
  o.compression = compression;
  o.prompt_text = "prefix";
  o.retention_days = 3650;
  std::filesystem::remove_all(o.path);

  // A pool of realistic events; each append takes one, with its own client and time.
  std::vector<pb::QueryEvent> pool;
  for (int i = 0; i < 4096; ++i) {
    auto e = testing::make_event("x", 0, i);
    apply_prompt_privacy(e, o);
    pool.push_back(std::move(e));
  }
  std::vector<std::string> names(clients);
  for (std::uint64_t c = 0; c < clients; ++c) names[c] = client_name(c);

  const micros start_ts = 1793577600LL * 1000000;
  const micros span = 30LL * 86400 * 1000000;
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> unit(0, 1);
  nlohmann::ordered_json report;
  report["events"] = events;
  report["clients"] = clients;
  report["compression"] = compression;

  std::uint64_t retries = 0;
  {
    event_store store(o);
    if (const status s = store.open(); !s) {
      std::fprintf(stderr, "%s\n", s.to_string().c_str());
      return 1;
    }
    const auto t = clk::now();
    for (std::uint64_t i = 0; i < events; ++i) {
      pb::QueryEvent e = pool[i & 4095];
      const std::uint64_t c = unit(rng) < heavy_share ? 0 : 1 + rng() % (clients - 1);
      e.set_client_id(names[c]);
      e.set_ts_micros(start_ts + static_cast<micros>(static_cast<double>(span) * static_cast<double>(i) /
                                                     static_cast<double>(events)));
      while (!store.append(std::move(e))) {
        ++retries;
        std::this_thread::sleep_for(std::chrono::microseconds(50));  // see storage_bench
      }
      if ((i + 1) % 1'000'000 == 0) {
        std::fprintf(stderr, "storage_scale: %llu events, %.0f/s\n", static_cast<unsigned long long>(i + 1),
                     static_cast<double>(i + 1) / seconds_since(t));
      }
    }
    if (!store.flush()) return 1;
    const double secs = seconds_since(t);
    report["ingest_seconds"] = secs;
    report["ingest_events_per_second"] = static_cast<double>(events) / secs;
    report["queue_full_retries"] = retries;
    const auto tc = clk::now();
    store.close();
    report["close_seconds"] = seconds_since(tc);
  }
  report["disk_bytes"] = dir_bytes(o.path);
  report["disk_bytes_per_event"] = static_cast<double>(dir_bytes(o.path)) / static_cast<double>(events);

  // Start-up on that directory, then the scans (cold block cache).
  event_store store(o);
  auto t = clk::now();
  if (const status s = store.open(); !s) return 1;
  report["open_seconds"] = seconds_since(t);

  std::size_t n = 0;
  t = clk::now();
  (void)store.scan_client(names[0], min_time, max_time, 10000, true, [&](pb::QueryEvent&&) {
    ++n;
    return true;
  });
  report["heavy_client_last_10000_seconds"] = seconds_since(t);
  report["heavy_client_last_10000_events"] = n;
  n = 0;
  t = clk::now();
  (void)store.scan_client(names[0], min_time, max_time, 10000, true, [&](pb::QueryEvent&&) {
    ++n;
    return true;
  });
  report["heavy_client_last_10000_warm_seconds"] = seconds_since(t);

  // A typical client's whole history, averaged over 100 clients.
  t = clk::now();
  n = 0;
  for (std::uint64_t c = 1; c <= 100 && c < clients; ++c) {
    (void)store.scan_client(names[c * 9973 % clients == 0 ? 1 : c * 9973 % clients], min_time, max_time, 0,
                            false, [&](pb::QueryEvent&&) {
                              ++n;
                              return true;
                            });
  }
  report["typical_client_scan_seconds"] = seconds_since(t) / 100;
  report["typical_client_events"] = static_cast<double>(n) / 100;

  // One hour of everyone's traffic through the time index.
  t = clk::now();
  n = 0;
  (void)store.scan_time(start_ts + span / 2, start_ts + span / 2 + 3600LL * 1000000, [&](pb::QueryEvent&&) {
    ++n;
    return true;
  });
  report["time_scan_one_hour_seconds"] = seconds_since(t);
  report["time_scan_one_hour_events"] = n;

  t = clk::now();
  (void)store.compact();
  report["full_compaction_seconds"] = seconds_since(t);
  store.close();
  report["disk_bytes_per_event_compacted"] = static_cast<double>(dir_bytes(o.path)) / static_cast<double>(events);
  std::printf("%s\n", report.dump(2).c_str());
  if (!keep) std::filesystem::remove_all(o.path);
  return 0;
}
