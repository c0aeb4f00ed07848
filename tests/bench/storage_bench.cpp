// storage_bench: what recording costs.
//   BM_event_copy       the baseline: copying a realistic event (~420 bytes serialized)
//   BM_append           copy + event_store::append(): the caller's cost of recording
//   BM_ingest           sustained events/s through append() into RocksDB, flush included;
//                       CPU per event of the whole process, of the producer (event copy
//                       + append, which encodes), of the store's writer thread and of
//                       RocksDB's background threads
//   BM_serialize        protobuf serialization of one event (the writer's part)
// Run: storage_bench [--benchmark_filter=...]; the database goes to $DG_BENCH_DIR or /tmp.
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <thread>
#include <vector>

#include "common/crypto.h"
#include "storage/event_store.h"
#include "storage/privacy.h"
#include "../unit/storage/test_events.h"

namespace dg::storage {
namespace {

constexpr micros t0 = 1793577600LL * 1000000;

// CPU seconds used so far by the whole process (who = RUSAGE_SELF) or this thread.
double cpu_seconds(int who) {
  rusage u{};
  getrusage(who, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// CPU seconds used so far by this process's threads whose name starts with
// `prefix` (/proc/self/task/*/comm): the store's writer, RocksDB's pools.
double named_threads_cpu_seconds(std::string_view prefix) {
  double ticks = 0;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (!name.starts_with(prefix)) continue;
    std::ifstream stat_file(task.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    std::string field;
    // After "pid (comm) ": state is field 3; utime and stime are fields 14, 15.
    for (int i = 3; i <= 13 && fields >> field; ++i) {
    }
    double utime = 0, stime = 0;
    fields >> utime >> stime;
    ticks += utime + stime;
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Bytes this process has written through write() and friends so far
// (/proc/self/io wchar): WAL, flushes and compactions together, so per event
// it shows the write amplification however busy the machine is.
double written_bytes() {
  std::ifstream io("/proc/self/io");
  std::string key;
  double value = 0;
  while (io >> key >> value) {
    if (key == "wchar:") return value;
  }
  return 0;
}

std::vector<pb::QueryEvent> event_pool(std::size_t n) {
  storage_options o;
  o.prompt_text = "prefix";
  std::vector<pb::QueryEvent> pool;
  pool.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto e = testing::make_event("client-" + std::to_string(i % 997), t0 + static_cast<micros>(i),
                                 static_cast<int>(i));
    e.set_client_id(to_hex(sha256(e.client_id()), 16));  // 32 hex characters, as the gateway's
    apply_prompt_privacy(e, o);
    pool.push_back(std::move(e));
  }
  return pool;
}

std::string bench_dir() {
  const char* base = std::getenv("DG_BENCH_DIR");
  std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/dg-storage-bench-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) std::abort();
  return tmpl;
}

storage_options bench_options(const std::string& dir) {
  storage_options o;
  o.path = dir + "/db";
  if (const char* c = std::getenv("DG_BENCH_COMPRESSION")) o.compression = c;
  return o;
}

void BM_event_copy(benchmark::State& state) {
  const auto pool = event_pool(1024);
  std::size_t i = 0;
  for (auto _ : state) {
    pb::QueryEvent e = pool[i++ & 1023];
    benchmark::DoNotOptimize(e);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_event_copy);

void BM_serialize(benchmark::State& state) {
  const auto pool = event_pool(1024);
  std::string out;
  std::size_t i = 0, bytes = 0;
  for (auto _ : state) {
    pool[i++ & 1023].SerializeToString(&out);
    bytes += out.size();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  state.counters["bytes_per_event"] = static_cast<double>(bytes) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_serialize);

// The caller's cost. The writer drains concurrently; a full queue drops (and
// the drop is what the caller would see, so it is measured as such).
void BM_append(benchmark::State& state) {
  const auto pool = event_pool(1024);
  const std::string dir = bench_dir();
  event_store store(bench_options(dir));
  if (!store.open()) {
    state.SkipWithError("open failed");
    return;
  }
  std::size_t i = 0;
  for (auto _ : state) {
    pb::QueryEvent e = pool[i++ & 1023];
    benchmark::DoNotOptimize(store.append(std::move(e)));
  }
  state.SetItemsProcessed(state.iterations());
  (void)store.flush();
  state.counters["dropped"] = static_cast<double>(store.stats().dropped_queue_full);
  store.close();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_append)->Threads(1)->Threads(2)->UseRealTime();

// Sustained ingest: the producer retries a full queue (so nothing is dropped)
// and the time includes the final flush, so items/s is what RocksDB absorbed.
void BM_ingest(benchmark::State& state) {
  const auto pool = event_pool(4096);
  const std::string dir = bench_dir();
  event_store store(bench_options(dir));
  if (!store.open()) {
    state.SkipWithError("open failed");
    return;
  }
  const std::size_t per_iteration = static_cast<std::size_t>(state.range(0));
  std::size_t i = 0;
  std::uint64_t retries = 0;
  const double cpu0 = cpu_seconds(RUSAGE_SELF), producer0 = cpu_seconds(RUSAGE_THREAD);
  const double rocksdb0 = named_threads_cpu_seconds("rocksdb:");
  const double written0 = written_bytes();
  for (auto _ : state) {
    for (std::size_t k = 0; k < per_iteration; ++k) {
      pb::QueryEvent e = pool[i & 4095];
      e.set_ts_micros(t0 + static_cast<micros>(i));
      ++i;
      while (!store.append(std::move(e))) {
        ++retries;  // refused: `e` is still ours, try again
        // A nap, not a yield: a producer spinning on sched_yield took a core
        // from the writer and RocksDB's threads on this 2-core machine (10M
        // retries in a 5 s run). 50 us is nothing to a 65536-event queue.
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    }
    if (!store.flush()) state.SkipWithError("flush failed");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(i));
  state.counters["queue_full_retries"] = static_cast<double>(retries);
  // On a shared machine wall time says little; CPU per event says what two
  // free cores would sustain. The producer's part is the caller's (event copy
  // + append, plus spinning on a full queue); the rest is the writer thread
  // and RocksDB's flushes and compactions.
  // Since the store encodes events in append(), the producer's part includes
  // the encoding; the writer thread is the one that must keep up alone
  // (200k events/s needs it below 5 us per event), and RocksDB's flushes
  // and compactions run in its pools. Thread times tick in 10 ms steps.
  const double cpu = cpu_seconds(RUSAGE_SELF) - cpu0;
  const double producer = cpu_seconds(RUSAGE_THREAD) - producer0;
  const double writer = named_threads_cpu_seconds(writer_thread_name);
  const double rocksdb = named_threads_cpu_seconds("rocksdb:") - rocksdb0;
  const auto per_event = [&](double seconds) { return seconds * 1e6 / static_cast<double>(i); };
  state.counters["cpu_us_per_event"] = per_event(cpu);
  state.counters["store_cpu_us_per_event"] = per_event(cpu - producer);
  state.counters["producer_cpu_us_per_event"] = per_event(producer);
  state.counters["writer_cpu_us_per_event"] = per_event(writer);
  state.counters["rocksdb_bg_cpu_us_per_event"] = per_event(rocksdb);
  // The WAL, every flush and every compaction so far.
  state.counters["written_bytes_per_event"] = (written_bytes() - written0) / static_cast<double>(i);
  store.close();
  std::error_code ec;
  std::uintmax_t bytes = 0, wal_bytes = 0;
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (!f.is_regular_file()) continue;
    bytes += f.file_size();
    if (f.path().extension() == ".log") wal_bytes += f.file_size();
  }
  state.counters["disk_bytes_per_event"] = static_cast<double>(bytes) / static_cast<double>(i);
  // Of which write-ahead log not yet obsolete at close (the rest: table files).
  state.counters["wal_bytes_per_event"] = static_cast<double>(wal_bytes) / static_cast<double>(i);
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_ingest)->Arg(200000)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(5);
// A fixed 2 million events (~1.3 GB through the WAL): several flushes and
// compactions, the same work however fast the machine is, so that CPU per
// event compares between runs and builds.
BENCHMARK(BM_ingest)->Arg(200000)->Iterations(10)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace dg::storage

BENCHMARK_MAIN();
