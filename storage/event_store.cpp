#include "storage/event_store.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <new>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "common/log.h"
#include "common/thread_role.h"
#include "storage/db_options.h"
#include "storage/keys.h"
#include "storage/privacy.h"

namespace dg::storage {
namespace {

constexpr std::string_view next_seq_key = "meta:next_seq";
// A restart skips this many sequence numbers past the last one saved, so an
// audit entry written after the last saved batch cannot be reused.
constexpr std::uint64_t seq_restart_gap = 1u << 20;
constexpr auto min_backoff = std::chrono::milliseconds(100);
constexpr auto max_backoff = std::chrono::milliseconds(5000);

status from_rocksdb(const rocksdb::Status& s, const std::string& what) {
  std::string msg = what + ": " + s.ToString();
  if (s.IsCorruption()) return status::corruption(std::move(msg));
  if (s.IsNotFound()) return status::not_found(std::move(msg));
  if (s.IsIOError()) return status::io_error(std::move(msg));
  if (s.IsInvalidArgument()) return status::invalid_argument(std::move(msg));
  return status::unavailable(std::move(msg));
}

// Why an open failed, in words an operator can act on.
std::string open_hint(const rocksdb::Status& s) {
  const std::string text = s.ToString();
  if (text.find("lock") != std::string::npos || text.find("LOCK") != std::string::npos) {
    return " (another process holds the database: is a gateway already running on this "
           "directory?)";
  }
  if (text.find("Permission denied") != std::string::npos) {
    return " (the distillguard user cannot write there: check the directory's owner and mode)";
  }
  if (s.IsCorruption()) {
    return " (the database is damaged: move the directory aside, or restore it from a backup)";
  }
  if (text.find("No space") != std::string::npos) return " (the file system is full)";
  if (text.find("Read-only") != std::string::npos) return " (the file system is read-only)";
  return "";
}

}  // namespace

event_store::event_store(storage_options options, prometheus::Registry* registry,
                         const clock_source* clock)
    : options_(std::move(options)),
      metrics_(registry),
      clock_(clock != nullptr ? clock : &system_clock_),
      cutoff_(std::make_shared<retention_cutoff>()) {}

event_store::~event_store() { close(); }

micros event_store::expired_before() const {
  return clock_->now() - static_cast<micros>(options_.retention_days) * 86400 * 1000000;
}

status event_store::open_db(open_mode mode, const std::string& work_dir) {
  const bool read_only = mode != open_mode::read_write;
  if (db_ != nullptr) return status::invalid_argument("storage: already open");
  const std::string& path = options_.path;
  const std::string where = "storage: cannot open the event store at '" + path + "'";
  if (!read_only) {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return status::io_error(where + ": cannot create the directory: " + ec.message());
  } else {
    std::error_code ec;
    if (!std::filesystem::is_directory(path, ec)) {
      return status::not_found(where + ": no such directory");
    }
  }

  cutoff_->advance_to(expired_before());
  layout_ = make_db_layout(options_, cutoff_);
  if (env_ != nullptr) layout_->db.env = env_;

  // Every existing column family must be opened; keep unknown ones as they are.
  std::vector<rocksdb::ColumnFamilyDescriptor> families = layout_->families;
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(layout_->db, path, &existing).ok()) {
    for (const auto& name : existing) {
      const bool known = std::any_of(families.begin(), families.end(),
                                     [&](const auto& f) { return f.name == name; });
      if (!known) families.emplace_back(name, unknown_family_options());
    }
  }

  rocksdb::Status s;
  if (mode == open_mode::read_only) {
    rocksdb::DBOptions db = layout_->db;
    db.create_if_missing = false;
    s = rocksdb::DB::OpenForReadOnly(db, path, families, &handles_, &db_);
  } else if (mode == open_mode::follower) {
    std::string dir = work_dir;
    if (dir.empty()) {
      std::string tmpl = (std::filesystem::temp_directory_path() / "distillguard-follower-XXXXXX").string();
      if (mkdtemp(tmpl.data()) == nullptr) {
        return status::io_error(where + ": cannot create a temporary directory for the follower");
      }
      dir = temp_work_dir_ = tmpl;
    }
    rocksdb::DBOptions db = layout_->db;
    db.max_open_files = -1;  // required of a secondary instance
    db.create_if_missing = false;
    s = rocksdb::DB::OpenAsSecondary(db, path, dir, families, &handles_, &db_);
  } else {
    s = rocksdb::DB::Open(layout_->db, path, families, &handles_, &db_);
  }
  if (!s.ok()) {
    db_ = nullptr;
    handles_.clear();
    return from_rocksdb(s, where + open_hint(s));
  }
  events_cf_ = handles_[1];
  time_cf_ = handles_[2];
  clients_cf_ = handles_[3];
  audit_cf_ = handles_[4];
  read_only_ = read_only;
  follower_ = mode == open_mode::follower;

  std::string v;
  if (db_->Get(rocksdb::ReadOptions(), handles_[0], next_seq_key, &v).ok() && v.size() == 8) {
    next_seq_.store(std::max(next_seq_.load(), get_be64(v.data()) + seq_restart_gap));
  } else {
    next_seq_.store(std::max<std::uint64_t>(next_seq_.load(), 1));
  }
  return status::ok();
}

bool event_store::is_open() const {
  std::shared_lock lk(db_mu_);
  return db_ != nullptr;
}

status event_store::open() {
  if (!options_.enabled) return status::ok();
  status s = open_db(open_mode::read_write, "");
  if (!s) return s;
  queue_ = std::make_unique<event_queue<encoded_event>>(options_.queue_capacity);
  queue_max_bytes_ = static_cast<std::size_t>(options_.queue_max_mb) << 20;
  queued_bytes_.store(0);
  spare_ = std::make_unique<event_queue<encoded_event>>(
      std::min<std::size_t>(options_.max_batch_events, max_spare_buffers));
  {
    std::lock_guard lk(mu_);
    stop_ = false;
  }
  accepting_.store(true);
  writer_ = std::thread([this] { writer_loop(); });
  retention_ = std::thread([this] { housekeeping_loop(); });
  // Named for top -H and per-thread CPU accounting (storage_bench).
  set_thread_role(writer_, writer_thread_name, thread_role::background);
  set_thread_role(retention_, "dg-store-retain", thread_role::background);
  log::info("storage: event store open", {{"path", options_.path},
                                          {"queue_capacity", queue_->capacity()},
                                          {"queue_max_mb", options_.queue_max_mb},
                                          {"compression", options_.compression}});
  return status::ok();
}

status event_store::open_read_only(std::string work_dir) {
  return open_db(open_mode::follower, work_dir);
}

void event_store::close_db() {
  if (db_ == nullptr) return;
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  handles_.clear();
  events_cf_ = time_cf_ = clients_cf_ = audit_cf_ = nullptr;
  (void)db_->Close();
  delete db_;
  db_ = nullptr;
  layout_.reset();
}

status event_store::recover() {
  // Always close and reopen rather than DB::Resume(): Resume flushes the
  // memtable and waits for it, and after a failed flush on a full disk that
  // wait can last forever (RocksDB issue 15030; seen here one run in ~20).
  // The WAL holds everything written, so reopening loses nothing and a failed
  // open simply means the disk is still unusable; the caller backs off.
  std::unique_lock lk(db_mu_);
  if (db_ != nullptr && !read_only_) {
    // Close must not try to flush either, for the same reason.
    (void)db_->SetDBOptions({{"avoid_flush_during_shutdown", "true"}});
  }
  close_db();
  const status s = open_db(open_mode::read_write, "");
  if (!s) {
    // Until the next attempt, keep what is stored readable (scans, client
    // records): read-only needs no free space. Writes fail as "read-only".
    (void)open_db(open_mode::read_only, "");
  }
  return s;
}

status event_store::catch_up() {
  std::shared_lock lk(db_mu_);
  if (db_ == nullptr || !follower_) return status::ok();
  const rocksdb::Status s = db_->TryCatchUpWithPrimary();
  if (!s.ok()) return from_rocksdb(s, "storage: catching up with '" + options_.path + "'");
  return status::ok();
}

void event_store::close() {
  accepting_.store(false);
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  wake_cv_.notify_all();
  stop_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (retention_.joinable()) retention_.join();
  {
    std::unique_lock lk(db_mu_);
    close_db();
  }
  if (!temp_work_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(temp_work_dir_, ec);
    temp_work_dir_.clear();
  }
}

bool event_store::append(pb::QueryEvent&& e) noexcept {
  if (!options_.enabled) return true;  // recording is off by configuration: not a drop
  if (!accepting_.load(std::memory_order_acquire)) return false;
  // Full already: drop before spending the encoding on it.
  if (queue_->size_approx() >= queue_->capacity()) {
    metrics_.dropped_queue_full->Increment();
    return false;
  }
  if (queued_bytes_.load(std::memory_order_relaxed) >= queue_max_bytes_) {
    metrics_.dropped_queue_bytes->Increment();
    return false;
  }
  // Encoded here, on the caller's thread (encoded_event.h), into buffers the
  // writer gave back (spare_), so that nothing is allocated per event. A push
  // leaves `encoded` empty; after a refused one it still has its buffers.
  thread_local encoded_event encoded;
  try {
    if (encoded.value.capacity() < 64) (void)spare_->try_pop(encoded);
    sanitize_utf8(e);
    encoded.ts = e.ts_micros();
    encoded.seq = next_seq_.fetch_add(1, std::memory_order_relaxed);
    assign_event_key(encoded.key, e.client_id(), encoded.ts, encoded.seq);
    e.SerializeToString(&encoded.value);
  } catch (const std::bad_alloc&) {
    // No memory to encode it (no spare buffer was free): the event is lost, the caller lives on.
    metrics_.dropped_write_error->Increment();
    return false;
  }
  // Reserved before the push, so that concurrent appends cannot all pass the
  // bound; the writer takes it off when it pops the event.
  const std::size_t bytes = queued_size(encoded);
  if (queued_bytes_.fetch_add(bytes, std::memory_order_relaxed) + bytes > queue_max_bytes_) {
    queued_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
    metrics_.dropped_queue_bytes->Increment();
    return false;
  }
  if (!queue_->try_push(encoded)) {
    queued_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
    metrics_.dropped_queue_full->Increment();
    return false;
  }
  // Wake the writer early once a large batch waits (one notify per batch, not
  // per event; the lock makes sure the wake-up is not lost).
  if (queue_->size_approx() >= options_.max_batch_events &&
      !wake_pending_.exchange(true, std::memory_order_acq_rel)) {
    std::lock_guard lk(mu_);
    wake_cv_.notify_one();
  }
  return true;
}

status event_store::flush() {
  if (!writer_.joinable()) return status::ok();
  std::unique_lock lk(mu_);
  const std::uint64_t ticket = ++flush_requested_;
  wake_cv_.notify_one();
  done_cv_.wait(lk, [&] { return flush_done_ >= ticket || stop_; });
  if (degraded_.load()) return status::unavailable("storage degraded: " + degraded_reason_);
  return status::ok();
}

void event_store::writer_loop() {
  using steady = std::chrono::steady_clock;
  const auto interval = std::chrono::milliseconds(options_.flush_interval_ms);
  auto backoff = min_backoff;
  auto next_attempt = steady::now();
  for (;;) {
    std::uint64_t target = 0;
    bool stopping = false;
    {
      std::unique_lock lk(mu_);
      const bool degraded = degraded_.load();
      const auto deadline = degraded ? next_attempt : steady::now() + interval;
      wake_cv_.wait_until(lk, deadline, [&] {
        return stop_ || flush_requested_ != flush_done_ ||
               (!degraded && wake_pending_.load(std::memory_order_relaxed));
      });
      target = flush_requested_;
      stopping = stop_;
    }
    const bool was_degraded = degraded_.load();
    if (was_degraded && steady::now() < next_attempt && target == flush_done_ && !stopping) {
      continue;
    }
    wake_pending_.store(false, std::memory_order_relaxed);
    // Drain what is queued now, in batches; stop early if a commit fails.
    while (drain_once() > 0 && !degraded_.load()) {
    }
    metrics_.queue_depth->Set(static_cast<double>(queue_->size_approx()));
    metrics_.queue_bytes->Set(static_cast<double>(queued_bytes_.load(std::memory_order_relaxed)));
    update_memory_gauges();
    if (degraded_.load()) {
      backoff = was_degraded ? std::min(backoff * 2, max_backoff) : min_backoff;
      next_attempt = steady::now() + backoff;
    } else {
      backoff = min_backoff;
    }
    {
      std::lock_guard lk(mu_);
      flush_done_ = std::max(flush_done_, target);
    }
    done_cv_.notify_all();
    if (stopping) {
      // A last drain attempt was made above; anything still queued is lost.
      const auto left = queue_->size_approx();
      if (left > 0) metrics_.dropped_write_error->Increment(static_cast<double>(left));
      return;
    }
  }
}

std::size_t event_store::drain_once() {
  if (queue_->size_approx() == 0) return 0;
  if (staged_.empty()) staged_.resize(1);
  if (degraded_.load()) {
    // RocksDB stops writing after a background error until it is resumed.
    // Its own recovery is off (db_options.h), so that recovery follows our
    // backoff and the outcome is known here.
    const status r = recover();
    if (!r) {
      std::size_t n = 0;
      while (n < options_.max_batch_events && queue_->try_pop(staged_[0])) {
        queued_bytes_.fetch_sub(queued_size(staged_[0]), std::memory_order_relaxed);
        recycle(staged_[0]);
        ++n;
      }
      metrics_.write_errors->Increment();
      metrics_.dropped_write_error->Increment(static_cast<double>(n));
      mark_degraded(r.message());
      return n;
    }
  }

  std::shared_lock lk(db_mu_);
  if (!batch_) batch_ = std::make_unique<rocksdb::WriteBatch>();
  rocksdb::WriteBatch& batch = *batch_;
  batch.Clear();
  // Popping swaps the buffers of the last batch's events back into the queue.
  std::size_t n = 0;
  std::size_t popped_bytes = 0;
  while (n < options_.max_batch_events) {
    if (staged_.size() <= n) staged_.emplace_back();
    if (!queue_->try_pop(staged_[n])) break;
    popped_bytes += queued_size(staged_[n]);
    ++n;
  }
  // Off the queue's bound at once: the batch's own memory is bounded by
  // max_batch_events, and appends may go on while it commits.
  queued_bytes_.fetch_sub(popped_bytes, std::memory_order_relaxed);
  if (n == 0) return 0;
  // Events of many clients arrive interleaved. Sorted, each memtable insert
  // starts its skip-list search where the last one ended, instead of from the
  // top: the inserts were the writer's largest cost. Keys are compared by
  // their first 8 bytes (length and start of the client id) first.
  order_.resize(n);
  prefix_.resize(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    order_[i] = i;
    prefix_[i] = get_be64(staged_[i].key.data());  // an events key has >= 17 bytes
  }
  std::sort(order_.begin(), order_.end(), [&](std::uint32_t a, std::uint32_t b) {
    if (prefix_[a] != prefix_[b]) return prefix_[a] < prefix_[b];
    return staged_[a].key < staged_[b].key;
  });
  for (const std::uint32_t i : order_) batch.Put(events_cf_, staged_[i].key, staged_[i].value);
  time_index_.put(staged_.data(), n, batch, time_cf_);
  // Every sequence number in this batch was taken before this load.
  std::string seq_value;
  put_be64(seq_value, next_seq_.load(std::memory_order_relaxed));
  batch.Put(handles_[0], next_seq_key, seq_value);

  rocksdb::WriteOptions wo;
  wo.sync = false;
  const auto start = std::chrono::steady_clock::now();
  const rocksdb::Status s = write(wo, &batch);
  metrics_.write_seconds->Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  lk.unlock();
  // Emptied, so that the next pops leave empty cells in the queue.
  for (std::size_t i = 0; i < n; ++i) recycle(staged_[i]);
  if (s.ok()) {
    metrics_.events_written->Increment(static_cast<double>(n));
    if (degraded_.load()) mark_recovered();
  } else {
    metrics_.write_errors->Increment();
    metrics_.dropped_write_error->Increment(static_cast<double>(n));
    mark_degraded(s.ToString());
  }
  return n;
}

void event_store::recycle(encoded_event& e) {
  if (!spare_->try_push(e)) e = encoded_event();  // spares enough: free it
}

void event_store::update_memory_gauges() {
  std::shared_lock lk(db_mu_);
  if (db_ == nullptr) return;
  std::uint64_t v = 0;
  // The cache is shared by every column family: any one reports all of it.
  if (db_->GetIntProperty(events_cf_, rocksdb::DB::Properties::kBlockCacheUsage, &v)) {
    metrics_.block_cache_bytes->Set(static_cast<double>(v));
  }
  if (db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &v)) {
    metrics_.memtable_bytes->Set(static_cast<double>(v));
  }
}

void event_store::mark_degraded(const std::string& reason) {
  {
    std::lock_guard lk(mu_);
    degraded_reason_ = "cannot write to '" + options_.path + "': " + reason;
  }
  if (!degraded_.exchange(true)) {
    metrics_.degraded->Set(1);
    log::error("storage: writes failing; dropping events until they succeed again",
               {{"path", options_.path}, {"error", reason}});
  }
}

void event_store::mark_recovered() {
  {
    std::lock_guard lk(mu_);
    degraded_reason_.clear();
  }
  if (degraded_.exchange(false)) {
    metrics_.degraded->Set(0);
    log::info("storage: writes succeed again", {{"path", options_.path}});
  }
}

std::string event_store::degraded_reason() const {
  std::lock_guard lk(mu_);
  return degraded_reason_;
}

storage_stats event_store::stats() const {
  storage_stats s;
  s.events_written = static_cast<std::uint64_t>(metrics_.events_written->Value());
  s.dropped_queue_full = static_cast<std::uint64_t>(metrics_.dropped_queue_full->Value());
  s.dropped_queue_bytes = static_cast<std::uint64_t>(metrics_.dropped_queue_bytes->Value());
  s.dropped_write_error = static_cast<std::uint64_t>(metrics_.dropped_write_error->Value());
  s.write_errors = static_cast<std::uint64_t>(metrics_.write_errors->Value());
  s.queue_depth = queue_ ? queue_->size_approx() : 0;
  s.queue_bytes = queued_bytes_.load(std::memory_order_relaxed);
  s.degraded = degraded_.load();
  return s;
}

std::uint64_t event_store::estimate_events() const {
  std::shared_lock lk(db_mu_);
  if (db_ == nullptr) return 0;
  std::uint64_t n = 0;
  db_->GetIntProperty(events_cf_, "rocksdb.estimate-num-keys", &n);
  return n;
}

rocksdb::Status event_store::write(const rocksdb::WriteOptions& wo, rocksdb::WriteBatch* batch) {
  std::lock_guard lk(write_mu_);
  return db_->Write(wo, batch);
}

// REQUIRES: db_mu_ held (shared).
status event_store::write_sync(void* batch) {
  if (db_ == nullptr) return status::unavailable("storage: not open");
  if (read_only_) return status::invalid_argument("storage: opened read-only");
  rocksdb::WriteOptions wo;
  const rocksdb::Status s = write(wo, static_cast<rocksdb::WriteBatch*>(batch));
  if (!s.ok()) return from_rocksdb(s, "storage: write to '" + options_.path + "'");
  return status::ok();
}

status event_store::put_client(const pb::ClientRecord& r) {
  return put_clients(std::vector<pb::ClientRecord>{r});
}

status event_store::put_clients(const std::vector<pb::ClientRecord>& records) {
  if (!options_.enabled) return status::ok();
  std::shared_lock lk(db_mu_);
  if (db_ == nullptr) return status::unavailable("storage: not open");
  rocksdb::WriteBatch batch;
  std::string value;
  for (const auto& r : records) {
    if (r.client_id().empty()) return status::invalid_argument("storage: client record without id");
    r.SerializeToString(&value);
    batch.Put(clients_cf_, r.client_id(), value);
  }
  return write_sync(&batch);
}

status event_store::append_audit(const pb::AuditEntry& e) {
  if (!options_.enabled) return status::ok();
  std::shared_lock lk(db_mu_);
  if (db_ == nullptr) return status::unavailable("storage: not open");
  rocksdb::WriteBatch batch;
  const std::uint64_t seq = next_seq_.fetch_add(1);
  batch.Put(audit_cf_, event_key(e.client_id(), e.ts_micros(), seq), e.SerializeAsString());
  return write_sync(&batch);
}

void event_store::housekeeping_loop() {
  using steady = std::chrono::steady_clock;
  const steady::duration retention_interval = std::chrono::seconds(options_.retention_check_interval_s);
  const steady::duration tick = std::min(retention_interval, steady::duration(index_merge_interval));
  auto next_retention = steady::now() + retention_interval;
  for (;;) {
    {
      std::unique_lock lk(mu_);
      if (stop_cv_.wait_for(lk, tick, [&] { return stop_; })) return;
    }
    if (!degraded_.load()) {
      const status m = merge_index_files();
      if (!m) log::warn("storage: merging the time index's files failed", {{"error", m.to_string()}});
    }
    if (steady::now() >= next_retention) {
      next_retention = steady::now() + retention_interval;
      const status s = run_retention();
      if (!s) log::warn("storage: retention failed", {{"error", s.to_string()}});
    }
  }
}

}  // namespace dg::storage
