// event_store: the query log. One RocksDB database in storage.path with the
// column families
//
//   events          every QueryEvent, keyed client first (keys.h), so one
//                   client's history is one range scan
//   events_by_time  a time-ordered index (time_index.h: one entry per batch
//                   and second of event time, listing its events keys), so a
//                   time range across all clients (export, retention) reads
//                   only that range instead of the whole log
//   clients         one ClientRecord per client: verdicts and detector state
//                   that survive restarts
//   audit           every verdict change with its reasons
//
// (DESIGN.md names events, clients and audit; events_by_time is added here.)
//
// Writes leave the caller through a bounded lock-free queue (event_queue.h) to
// one writer thread that commits a WriteBatch every flush_interval_ms, or as
// soon as max_batch_events wait. append() encodes the event (key, protobuf)
// on the caller's thread (encoded_event.h), so the one writer thread only
// sorts and commits. The WAL is on (no fsync per batch): a killed
// process loses nothing that was committed; a power cut may lose the last
// moments. A full queue (queue_capacity events or queue_max_mb of them) drops
// the event and counts it; append() never waits.
//
// When a commit fails (disk full, read-only file system, I/O error), the store
// turns degraded: it counts the dropped batch, reports a reason for /readyz,
// and retries with backoff (100 ms doubling to 5 s), reopening the database to
// clear RocksDB's background error, until a write succeeds again. Between
// failed attempts the database stays open read-only, so reads go on.
//
// Thread safety: append(), flush(), put_client(), append_audit(), the scans,
// healthy() and stats() may be called from any thread once open() returned
// ok. open() and close() must not race with anything else.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "proto/query_event.pb.h"
#include "storage/encoded_event.h"
#include "storage/event_queue.h"
#include "storage/retention.h"
#include "storage/storage_metrics.h"
#include "storage/storage_options.h"
#include "storage/time_index.h"

namespace prometheus {
class Registry;
}
namespace rocksdb {
class WriteBatch;
struct WriteOptions;
class Status;
class DB;
class Env;
class ColumnFamilyHandle;
class Cache;
}  // namespace rocksdb

namespace dg {
namespace pb = ::distillguard::pb;
}

namespace dg::storage {

struct db_layout;

// Called once per item; return false to stop the scan early.
using event_callback = std::function<bool(pb::QueryEvent&&)>;
using client_callback = std::function<bool(pb::ClientRecord&&)>;
using audit_callback = std::function<bool(pb::AuditEntry&&)>;

inline constexpr micros min_time = INT64_MIN;
// The name of the writer thread (at most 15 characters, as Linux allows).
inline constexpr const char* writer_thread_name = "dg-store-writer";
inline constexpr micros max_time = INT64_MAX;
// How often the housekeeping thread merges the time index's small files.
inline constexpr std::chrono::seconds index_merge_interval{30};

struct storage_stats {
  std::uint64_t events_written = 0;
  std::uint64_t dropped_queue_full = 0;
  std::uint64_t dropped_queue_bytes = 0;
  std::uint64_t dropped_write_error = 0;
  std::uint64_t write_errors = 0;
  std::uint64_t queue_depth = 0;
  std::uint64_t queue_bytes = 0;  // encoded size of the events waiting
  bool degraded = false;
};

class event_store {
 public:
  // `registry` receives the distillguard_storage_* series (a private registry
  // when null); `clock` decides what is expired (the system clock when null).
  // Both must outlive the store.
  explicit event_store(storage_options options, prometheus::Registry* registry = nullptr,
                       const clock_source* clock = nullptr);
  ~event_store();
  event_store(const event_store&) = delete;
  event_store& operator=(const event_store&) = delete;

  // Opens (creating if missing) the database read-write and starts the writer
  // and retention threads. On failure the message names the directory and the
  // RocksDB status (permissions, corruption, lock held by another process).
  // With options.enabled false nothing is opened and every write is a no-op.
  status open();
  // The RocksDB environment (file system) to use instead of the default; set
  // before open(). Tests use it to inject faults, as LevelDB's Options::env.
  void set_env(rocksdb::Env* env) { env_ = env; }
  // Opens the database as a read-only follower (RocksDB secondary instance),
  // which works while a gateway holds it open read-write: export uses this.
  // Writes are refused. `work_dir` holds the follower's own log; empty = a
  // temporary directory removed by close().
  status open_read_only(std::string work_dir = "");
  // A follower sees what the primary committed since open: call before a scan.
  status catch_up();
  // Drains the queue (one last commit), stops the threads, closes RocksDB.
  void close();
  bool is_open() const;

  // Encodes an event and hands it to the writer. Never blocks; false when the
  // event was dropped (queue full: counted) or the store is not open for
  // writing. `e` is not taken (the caller frees it): only its invalid UTF-8,
  // if any, is replaced in place.
  bool append(pb::QueryEvent&& e) noexcept;
  // Returns once every event appended before the call is committed or
  // dropped; unavailable (with the reason) while degraded.
  status flush();

  // Client state: written synchronously (WAL on), a few per second at most.
  status put_client(const pb::ClientRecord& r);
  status put_clients(const std::vector<pb::ClientRecord>& records);
  status get_client(std::string_view client_id, pb::ClientRecord& out) const;
  status load_clients(const client_callback& cb) const;

  // Verdict changes: written synchronously. scan_audit gives a client's
  // entries newest first (every client's when client_id is empty), at most
  // `limit` (0 = no limit).
  status append_audit(const pb::AuditEntry& e);
  status scan_audit(std::string_view client_id, std::size_t limit, const audit_callback& cb) const;

  // One client's events with since <= ts < until, oldest first (newest first
  // when reverse), at most `limit` (0 = no limit). Expired events are never
  // returned, whether or not they were removed from disk yet.
  status scan_client(std::string_view client_id, micros since, micros until, std::size_t limit,
                     bool reverse, const event_callback& cb) const;
  // Every client's events with since <= ts < until, in time order, through
  // the time index.
  status scan_time(micros since, micros until, const event_callback& cb) const;

  // Retention now: advances the cutoff to now - retention_days, deletes the
  // expired events found through the time index (in small batches, so writes
  // go on) and drops the expired part of the index. The background task calls
  // it every retention_check_interval_s.
  status run_retention();
  // Compacts everything (the expiry filter drops what is expired). For tests
  // and operators; the background never calls it.
  status compact();
  // Merges runs of small adjacent files of the time index (index_merge.h)
  // until none is left. The housekeeping thread calls it every
  // index_merge_interval; tests call it directly.
  status merge_index_files();
  // The time index's table files (all levels): what merge_index_files bounds.
  std::size_t index_file_count() const;

  // False while writes fail; degraded_reason() says why ("" when healthy).
  bool healthy() const { return !degraded_.load(std::memory_order_relaxed); }
  std::string degraded_reason() const;
  storage_stats stats() const;
  // A RocksDB estimate of stored events (cheap; for progress bars).
  std::uint64_t estimate_events() const;
  // The writer queue's capacity (queue_capacity rounded up to a power of two).
  std::size_t queue_capacity() const { return queue_ ? queue_->capacity() : 0; }
  const storage_options& options() const { return options_; }

 private:
  // REQUIRES: db_mu_ held exclusively (or no other thread running).
  // read_write: the writer's; follower: a secondary instance beside a writer
  // (work_dir as open_read_only); read_only: ours again while the disk refuses
  // a read-write open (recover()).
  enum class open_mode { read_write, follower, read_only };
  status open_db(open_mode mode, const std::string& work_dir);
  void close_db();
  // Clears a background error by closing and reopening the database (the WAL
  // replays what was written); see the .cpp for why not DB::Resume().
  status recover();
  void writer_loop();
  // What a queued event counts against queue_max_mb.
  static std::size_t queued_size(const encoded_event& e) { return e.key.capacity() + e.value.capacity(); }
  // Hands a popped event's buffers to spare_ (or frees them); `e` is left empty.
  void recycle(encoded_event& e);
  // Sets the RocksDB memory gauges. REQUIRES: db_mu_ not held.
  void update_memory_gauges();
  // The housekeeping thread: merge_index_files() every index_merge_interval,
  // run_retention() every retention_check_interval_s.
  void housekeeping_loop();
  // Builds and commits one batch from the queue; returns the events taken.
  std::size_t drain_once();
  void mark_degraded(const std::string& reason);
  void mark_recovered();
  micros expired_before() const;
  status write_sync(void* batch);  // rocksdb::WriteBatch*

  storage_options options_;
  storage_metrics metrics_;
  system_clock_source system_clock_;
  const clock_source* clock_;

  rocksdb::Env* env_ = nullptr;
  // Shared by every use of db_ and the handles; exclusive to reopen or close.
  mutable std::shared_mutex db_mu_;
  // One DB::Write at a time (taken under db_mu_). RocksDB would merge concurrent
  // writers into one group commit, the leader copying the others' batches under
  // its own atomics, which ThreadSanitizer cannot see in Debian's uninstrumented
  // library. The event writer is the only busy writer, so little is lost.
  std::mutex write_mu_;
  // DB::Write under write_mu_. REQUIRES: db_mu_ held (shared).
  rocksdb::Status write(const rocksdb::WriteOptions& wo, rocksdb::WriteBatch* batch);
  std::unique_ptr<db_layout> layout_;  // outlives db_: its options point into it
  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* events_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* time_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* clients_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* audit_cf_ = nullptr;
  std::shared_ptr<retention_cutoff> cutoff_;
  bool read_only_ = false;
  bool follower_ = false;
  std::string temp_work_dir_;

  std::unique_ptr<event_queue<encoded_event>> queue_;
  // Buffers of committed events, for append() to encode into again: at most
  // max_spare_buffers (~6 MB), however long the queue (whose cells stay
  // empty once popped, so an idle queue holds no memory).
  static constexpr std::size_t max_spare_buffers = 8192;
  std::unique_ptr<event_queue<encoded_event>> spare_;
  // The buffers' capacity of the queued events (key and value), against
  // queue_max_bytes_: added by append() before its push, taken off by the
  // writer when it pops.
  std::atomic<std::size_t> queued_bytes_{0};
  std::size_t queue_max_bytes_ = 0;
  std::atomic<bool> accepting_{false};
  std::atomic<bool> wake_pending_{false};
  // Taken by append() (events) and append_audit(); saved with every batch.
  std::atomic<std::uint64_t> next_seq_{0};
  // The writer thread's batch under construction: the events popped (empty
  // between batches), their keys' first 8 bytes and the sorted order.
  std::vector<encoded_event> staged_;
  std::vector<std::uint64_t> prefix_;
  std::vector<std::uint32_t> order_;
  time_index_writer time_index_;
  std::unique_ptr<rocksdb::WriteBatch> batch_;  // cleared, not freed, between commits

  mutable std::mutex mu_;  // guards everything below
  std::condition_variable wake_cv_;
  std::condition_variable done_cv_;
  std::condition_variable stop_cv_;  // the retention task's sleep
  bool stop_ = false;
  std::uint64_t flush_requested_ = 0;
  std::uint64_t flush_done_ = 0;
  std::string degraded_reason_;
  std::atomic<bool> degraded_{false};

  std::thread writer_;
  std::thread retention_;
};

}  // namespace dg::storage
