#include "storage/db_options.h"

#include <cstdarg>
#include <cstdio>
#include <string_view>

#include <rocksdb/cache.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>

#include "common/log.h"

namespace dg::storage {
namespace {

// The client part of an events/audit key: [len][client id].
class client_prefix_transform final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "distillguard.client_prefix.v1"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), 1 + static_cast<unsigned char>(key[0]));
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return key.size() >= 1 && key.size() >= 1 + static_cast<std::size_t>(static_cast<unsigned char>(key[0]));
  }
};

// RocksDB's warnings and errors, in the gateway's log instead of a LOG file in
// the data directory. Debian's RocksDB keeps its assertions, and its file
// logger asserts when it writes again after a failed write: on a full disk the
// next log line aborted the process (seen in the tmpfs fault test).
class forward_logger final : public rocksdb::Logger {
 public:
  forward_logger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel() || level == rocksdb::InfoLogLevel::HEADER_LEVEL) return;
    char text[1024];
    std::vsnprintf(text, sizeof text, format, ap);
    if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL) {
      log::error("rocksdb", {{"message", std::string_view(text)}});
    } else {
      log::warn("rocksdb", {{"message", std::string_view(text)}});
    }
  }
};

// Turns off RocksDB's own recovery from a background error (for a full disk
// it polls free space on a timer of its own): the store's writer calls
// close-and-reopen with its backoff instead, and knows when writes work again.
class manual_recovery final : public rocksdb::EventListener {
 public:
  const char* Name() const override { return "distillguard.manual_recovery"; }
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason /*reason*/, rocksdb::Status /*bg_error*/,
                            bool* auto_recovery) override {
    *auto_recovery = false;
  }
};

rocksdb::CompressionType compression_of(const std::string& name) {
  if (name == "zstd") return rocksdb::kZSTD;
  if (name == "lz4") return rocksdb::kLZ4Compression;
  return rocksdb::kNoCompression;
}

rocksdb::ColumnFamilyOptions base_family(const storage_options& o,
                                         const std::shared_ptr<rocksdb::Cache>& cache,
                                         bool prefix_bloom) {
  rocksdb::ColumnFamilyOptions cf;
  cf.write_buffer_size = static_cast<std::size_t>(o.write_buffer_mb) << 20;
  cf.max_write_buffer_number = 4;
  cf.min_write_buffer_number_to_merge = 1;
  cf.target_file_size_base = 64 << 20;
  cf.max_bytes_for_level_base = 256 << 20;
  cf.level_compaction_dynamic_level_bytes = true;
  cf.compression = compression_of(o.compression);
  cf.bottommost_compression = cf.compression;

  rocksdb::BlockBasedTableOptions t;
  t.block_cache = cache;
  t.block_size = 16 * 1024;
  t.format_version = 5;
  // This RocksDB (Debian's, built for generic x86-64) computes CRC32c in
  // software; XXH3 checks blocks as well at a fraction of the cost. Files
  // written with CRC32c before stay readable: the type is recorded per file.
  t.checksum = rocksdb::kXXH3;
  // Index and filter blocks live in the block cache (high priority, the
  // newest level pinned) instead of on the heap for every open file, so the
  // store's memory is bounded by block_cache_mb and the memtables however
  // much history it holds; otherwise they grow with the data, about 2.5 GB
  // per billion events.
  t.cache_index_and_filter_blocks = true;
  t.cache_index_and_filter_blocks_with_high_priority = true;
  t.pin_l0_filter_and_index_blocks_in_cache = true;
  if (prefix_bloom) {
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    t.whole_key_filtering = false;  // events are read by range, never probed for absence
    cf.prefix_extractor = std::make_shared<client_prefix_transform>();
  }
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return cf;
}

}  // namespace

std::unique_ptr<db_layout> make_db_layout(const storage_options& o,
                                          std::shared_ptr<const retention_cutoff> cutoff) {
  auto l = std::make_unique<db_layout>();
  rocksdb::DBOptions& db = l->db;
  db.create_if_missing = true;
  db.create_missing_column_families = true;
  db.max_background_jobs = 2;
  db.bytes_per_sync = 1 << 20;
  db.wal_bytes_per_sync = 1 << 20;
  db.keep_log_file_num = 4;
  db.max_log_file_size = 8 << 20;
  db.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db.info_log = std::make_shared<forward_logger>();
  // Bounds recovery time after a crash: older WALs force a flush.
  db.max_total_wal_size = 256 << 20;
  // Bounded: with -1 (RocksDB's default) every table file stays open, and
  // open descriptors grow with the store. The follower overrides it to -1,
  // which a secondary instance requires (event_store.cpp).
  db.max_open_files = o.max_open_files;
  db.listeners.push_back(std::make_shared<manual_recovery>());

  auto cache = rocksdb::NewLRUCache(static_cast<std::size_t>(o.block_cache_mb) << 20);
  l->events_filter = std::make_unique<expiry_filter>(cutoff, key_layout::client_first);
  l->time_filter = std::make_unique<expiry_filter>(cutoff, key_layout::time_first);

  rocksdb::ColumnFamilyOptions def = base_family(o, cache, false);
  def.write_buffer_size = 4 << 20;
  rocksdb::ColumnFamilyOptions events = base_family(o, cache, true);
  events.compaction_filter = l->events_filter.get();
  // Every L0 file spans all clients, so each L0 compaction rewrites the whole
  // base level: compacting 8 files at a time instead of 4 halves those
  // rewrites (BM_ingest over 2M events: RocksDB's threads 2.9 -> 1.9 us per
  // event). Reads check up to 8 L0 files, whose filters stay pinned in cache.
  events.level0_file_num_compaction_trigger = 8;
  rocksdb::ColumnFamilyOptions by_time = base_family(o, cache, false);
  by_time.compaction_filter = l->time_filter.get();
  // The index is small (16-byte keys, ~20-byte values): a smaller memtable.
  by_time.write_buffer_size = std::max<std::size_t>(events.write_buffer_size / 4, 1 << 20);
  rocksdb::ColumnFamilyOptions clients = base_family(o, cache, false);
  clients.write_buffer_size = 8 << 20;
  rocksdb::ColumnFamilyOptions audit = base_family(o, cache, true);
  audit.write_buffer_size = 4 << 20;

  l->families.emplace_back(rocksdb::kDefaultColumnFamilyName, def);
  l->families.emplace_back(events_cf_name, events);
  l->families.emplace_back(time_cf_name, by_time);
  l->families.emplace_back(clients_cf_name, clients);
  l->families.emplace_back(audit_cf_name, audit);
  return l;
}

rocksdb::ColumnFamilyOptions unknown_family_options() { return rocksdb::ColumnFamilyOptions(); }

}  // namespace dg::storage
