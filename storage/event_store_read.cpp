// event_store: the read side (scans, client records, audit) and retention.
#include <algorithm>
#include <chrono>
#include <queue>
#include <shared_mutex>
#include <thread>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/metadata.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "storage/event_store.h"
#include "storage/index_merge.h"
#include "storage/keys.h"
#include "storage/time_index.h"

namespace dg::storage {
namespace {

status from_rocksdb(const rocksdb::Status& s, const std::string& what) {
  std::string msg = what + ": " + s.ToString();
  if (s.IsCorruption()) return status::corruption(std::move(msg));
  if (s.IsIOError()) return status::io_error(std::move(msg));
  return status::unavailable(std::move(msg));
}

status not_open() { return status::unavailable("storage: not open"); }

// Expired events are deleted in batches of this many keys, so that retention
// never holds the write path for long.
constexpr std::size_t retention_batch = 10000;

}  // namespace

status event_store::get_client(std::string_view client_id, pb::ClientRecord& out) const {
  std::shared_lock db_lock(db_mu_);
  if (db_ == nullptr) return not_open();
  std::string v;
  const rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), clients_cf_,
                                     rocksdb::Slice(client_id.data(), client_id.size()), &v);
  if (s.IsNotFound()) return status::not_found("no client record");
  if (!s.ok()) return from_rocksdb(s, "storage: reading a client record");
  if (!out.ParseFromString(v)) return status::corruption("storage: unreadable client record");
  return status::ok();
}

status event_store::load_clients(const client_callback& cb) const {
  // The callback runs without the store's lock: it takes locks of its own (the
  // policy's), and those may write here (audit entries) while holding them. So
  // records are read in batches, each resuming after the last key of the one before.
  constexpr std::size_t batch_size = 1024;
  std::vector<pb::ClientRecord> batch;
  batch.reserve(batch_size);
  std::string last_key;
  for (bool first = true;; first = false) {
    batch.clear();
    bool exhausted = false;
    {
      std::shared_lock db_lock(db_mu_);
      if (db_ == nullptr) return not_open();
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), clients_cf_));
      if (first) {
        it->SeekToFirst();
      } else {
        it->Seek(last_key);
        if (it->Valid() && it->key() == rocksdb::Slice(last_key)) it->Next();
      }
      for (; it->Valid() && batch.size() < batch_size; it->Next()) {
        pb::ClientRecord& r = batch.emplace_back();
        if (!r.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
          return status::corruption("storage: unreadable client record " + it->key().ToString(true));
        }
        last_key.assign(it->key().data(), it->key().size());
      }
      if (!it->status().ok()) return from_rocksdb(it->status(), "storage: loading clients");
      exhausted = !it->Valid();
    }
    for (auto& r : batch) {
      if (!cb(std::move(r))) return status::ok();
    }
    if (exhausted) return status::ok();
  }
}

status event_store::scan_audit(std::string_view client_id, std::size_t limit,
                               const audit_callback& cb) const {
  std::shared_lock db_lock(db_mu_);
  if (db_ == nullptr) return not_open();
  std::unique_ptr<rocksdb::Iterator> it;
  if (!client_id.empty()) {
    // One client's entries: its key range, backwards.
    const std::string lower = client_prefix(client_id);
    std::string upper = lower;
    put_be64(upper, ~std::uint64_t{0});
    put_be64(upper, ~std::uint64_t{0});
    rocksdb::ReadOptions ro;
    const rocksdb::Slice lo(lower), up(upper);
    ro.iterate_lower_bound = &lo;
    ro.iterate_upper_bound = &up;
    it.reset(db_->NewIterator(ro, audit_cf_));
    std::size_t n = 0;
    for (it->SeekToLast(); it->Valid() && (limit == 0 || n < limit); it->Prev(), ++n) {
      pb::AuditEntry e;
      if (!e.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return status::corruption("storage: unreadable audit entry");
      }
      if (!cb(std::move(e))) break;
    }
    if (!it->status().ok()) return from_rocksdb(it->status(), "storage: reading audit");
    return status::ok();
  }
  // Every client: the audit log is small (verdict changes only), so keep the
  // newest `limit` of a full pass.
  rocksdb::ReadOptions ro;
  ro.total_order_seek = true;
  it.reset(db_->NewIterator(ro, audit_cf_));
  using item = std::pair<std::pair<micros, std::uint64_t>, std::string>;
  auto newer = [](const item& a, const item& b) { return a.first > b.first; };
  std::priority_queue<item, std::vector<item>, decltype(newer)> keep(newer);  // oldest on top
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const auto k = parse_event_key(std::string_view(it->key().data(), it->key().size()));
    if (!k) continue;
    keep.push({{k->ts, k->seq}, it->value().ToString()});
    if (limit != 0 && keep.size() > limit) keep.pop();
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "storage: reading audit");
  std::vector<item> out;
  while (!keep.empty()) {
    out.push_back(keep.top());
    keep.pop();
  }
  for (auto r = out.rbegin(); r != out.rend(); ++r) {
    pb::AuditEntry e;
    if (!e.ParseFromString(r->second)) return status::corruption("storage: unreadable audit entry");
    if (!cb(std::move(e))) break;
  }
  return status::ok();
}

status event_store::scan_client(std::string_view client_id, micros since, micros until,
                                std::size_t limit, bool reverse, const event_callback& cb) const {
  std::shared_lock db_lock(db_mu_);
  if (db_ == nullptr) return not_open();
  since = std::max(since, expired_before());
  if (since >= until) return status::ok();
  std::string lower = client_prefix(client_id);
  std::string upper = lower;
  put_be64(lower, ts_to_ordered(since));
  put_be64(upper, ts_to_ordered(until));
  rocksdb::ReadOptions ro;
  const rocksdb::Slice lo(lower), up(upper);
  ro.iterate_lower_bound = &lo;
  ro.iterate_upper_bound = &up;
  ro.prefix_same_as_start = true;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, events_cf_));
  if (reverse) {
    it->SeekForPrev(up);
  } else {
    it->Seek(lo);
  }
  for (std::size_t n = 0; it->Valid() && (limit == 0 || n < limit); ++n) {
    pb::QueryEvent e;
    if (!e.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return status::corruption("storage: unreadable event " + it->key().ToString(true));
    }
    if (!cb(std::move(e))) break;
    if (reverse) {
      it->Prev();
    } else {
      it->Next();
    }
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "storage: scanning a client");
  return status::ok();
}

status event_store::scan_time(micros since, micros until, const event_callback& cb) const {
  std::shared_lock db_lock(db_mu_);
  if (db_ == nullptr) return not_open();
  since = std::max(since, expired_before());
  if (since >= until) return status::ok();
  // The entry of since's bucket may list events from before `since`: the
  // merger skips them.
  const std::string lower = time_key(time_bucket_start(since), 0);
  const std::string upper = time_key(until, 0);
  rocksdb::ReadOptions ro;
  const rocksdb::Slice lo(lower), up(upper);
  ro.iterate_lower_bound = &lo;
  ro.iterate_upper_bound = &up;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, time_cf_));

  // The index gives event keys in time order (time_index.h); fetch their
  // values a chunk at a time with MultiGet (sorted lookups share index and
  // data blocks).
  constexpr std::size_t chunk = 512;
  time_index_merger merger(since, until);
  std::vector<std::string> ready;
  bool go_on = true;
  auto fetch = [&]() -> status {
    for (std::size_t from = 0; from < ready.size() && go_on; from += chunk) {
      const std::size_t n = std::min(chunk, ready.size() - from);
      std::vector<rocksdb::Slice> slices(ready.begin() + static_cast<std::ptrdiff_t>(from),
                                         ready.begin() + static_cast<std::ptrdiff_t>(from + n));
      std::vector<rocksdb::PinnableSlice> values(n);
      std::vector<rocksdb::Status> statuses(n);
      db_->MultiGet(rocksdb::ReadOptions(), events_cf_, n, slices.data(), values.data(),
                    statuses.data(), /*sorted_input=*/false);
      for (std::size_t i = 0; i < n && go_on; ++i) {
        if (statuses[i].IsNotFound()) continue;  // deleted by retention meanwhile
        if (!statuses[i].ok()) return from_rocksdb(statuses[i], "storage: reading an event");
        pb::QueryEvent e;
        if (!e.ParseFromArray(values[i].data(), static_cast<int>(values[i].size()))) {
          return status::corruption("storage: unreadable event");
        }
        go_on = cb(std::move(e));
      }
    }
    ready.clear();
    return status::ok();
  };
  for (it->Seek(lo); it->Valid() && go_on; it->Next()) {
    const auto key_time = parse_time_key(std::string_view(it->key().data(), it->key().size()));
    if (!key_time) return status::corruption("storage: unreadable time index key");
    merger.release_before(*key_time, ready);
    if (ready.size() >= chunk) {
      if (status s = fetch(); !s) return s;
    }
    if (!merger.add(std::string_view(it->value().data(), it->value().size()))) {
      return status::corruption("storage: unreadable time index entry");
    }
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "storage: scanning by time");
  if (!go_on) return status::ok();
  merger.release_all(ready);
  return fetch();
}

status event_store::run_retention() {
  std::shared_lock db_lock(db_mu_);
  if (db_ == nullptr) return not_open();
  if (read_only_) return status::invalid_argument("storage: opened read-only");
  const micros cutoff = expired_before();
  cutoff_->advance_to(cutoff);
  // Every entry below the cutoff may list expired events; those wholly
  // expired (time_index.h) go themselves afterwards. The entries of the
  // cutoff's own bucket stay, and their expired events are deleted again
  // next time (a second of events at most).
  const std::string upper = time_key(cutoff, 0);
  rocksdb::ReadOptions ro;
  const rocksdb::Slice up(upper);
  ro.iterate_upper_bound = &up;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, time_cf_));
  rocksdb::WriteBatch batch;
  rocksdb::WriteOptions wo;
  rocksdb::Status s;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const bool listed = for_each_indexed_key(
        std::string_view(it->value().data(), it->value().size()), [&](std::string_view key) {
          const auto p = parse_event_key(key);
          if (p && p->ts < cutoff) batch.Delete(events_cf_, rocksdb::Slice(key.data(), key.size()));
        });
    if (!listed) return status::corruption("storage: unreadable time index entry");
    if (batch.Count() >= retention_batch) {
      s = write(wo, &batch);
      if (!s.ok()) return from_rocksdb(s, "storage: retention");
      batch.Clear();
      std::this_thread::yield();
    }
  }
  if (!it->status().ok()) return from_rocksdb(it->status(), "storage: retention scan");
  if (batch.Count() > 0) {
    s = write(wo, &batch);
    if (!s.ok()) return from_rocksdb(s, "storage: retention");
  }
  // The index is time ordered: its wholly expired part is one range tombstone.
  const std::string expired = time_key(time_index_expired_before(cutoff), 0);
  s = db_->DeleteRange(wo, time_cf_, rocksdb::Slice(), expired);
  if (!s.ok()) return from_rocksdb(s, "storage: retention");
  return status::ok();
}

status event_store::compact() {
  std::shared_lock db_lock(db_mu_);
  if (db_ == nullptr) return not_open();
  if (read_only_) return status::invalid_argument("storage: opened read-only");
  cutoff_->advance_to(expired_before());
  rocksdb::CompactRangeOptions co;
  co.exclusive_manual_compaction = false;
  co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  for (auto* cf : {events_cf_, time_cf_, audit_cf_, clients_cf_}) {
    const rocksdb::Status s = db_->CompactRange(co, cf, nullptr, nullptr);
    if (!s.ok()) return from_rocksdb(s, "storage: compaction");
  }
  return status::ok();
}

status event_store::merge_index_files() {
  // Bounds the work of one call; the next call goes on.
  constexpr int max_merges = 16;
  std::shared_lock db_lock(db_mu_);
  if (db_ == nullptr) return not_open();
  if (read_only_) return status::invalid_argument("storage: opened read-only");
  rocksdb::ColumnFamilyDescriptor desc;
  const rocksdb::Status ds = time_cf_->GetDescriptor(&desc);
  if (!ds.ok()) return from_rocksdb(ds, "storage: time index options");
  for (int i = 0; i < max_merges; ++i) {
    {
      std::lock_guard lk(mu_);
      if (stop_) break;
    }
    rocksdb::ColumnFamilyMetaData meta;
    db_->GetColumnFamilyMetaData(time_cf_, &meta);
    if (meta.levels.empty()) break;
    const rocksdb::LevelMetaData& last = meta.levels.back();
    std::vector<index_file> files;
    files.reserve(last.files.size());
    for (const auto& f : last.files) files.push_back({f.name, f.size, f.being_compacted});
    const std::vector<std::string> pick = pick_index_merge(files, index_merge_limits{});
    if (pick.empty()) break;
    rocksdb::CompactionOptions co;
    co.compression = rocksdb::kDisableCompressionOption;  // the family's own (its default is Snappy)
    co.output_file_size_limit = desc.options.target_file_size_base;
    const rocksdb::Status s = db_->CompactFiles(co, time_cf_, pick, last.level);
    if (!s.ok()) return from_rocksdb(s, "storage: merging " + std::to_string(pick.size()) + " time index files");
  }
  return status::ok();
}

std::size_t event_store::index_file_count() const {
  std::shared_lock db_lock(db_mu_);
  if (db_ == nullptr) return 0;
  rocksdb::ColumnFamilyMetaData meta;
  db_->GetColumnFamilyMetaData(time_cf_, &meta);
  return meta.file_count;
}

}  // namespace dg::storage
