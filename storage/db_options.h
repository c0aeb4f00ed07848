// db_options: the RocksDB tuning of the event store, in one place, so that the
// read-write store and the read-only follower open the database identically.
//
// Choices (measured in tests/bench/storage_bench.cpp):
// - events: a prefix extractor on the client part of the key with a prefix
//   bloom filter, so a client's range scan skips files without that client;
//   16 KiB blocks compress repeated field names and features better than 4 KiB.
// - LZ4 (or zstd) on every level: events are ~400 bytes of protobuf with many
//   small integers and repeated strings (model, route, user agent).
// - WAL on, no fsync per batch: survives kill -9; one writer thread, so
//   pipelined or unordered writes buy nothing.
// - An expiry compaction filter on events and events_by_time (retention.h).
// - Sustained ingest is bounded by compaction: events are keyed client first,
//   so every L0 file spans the whole key range and each L0 compaction
//   rewrites the base level. The events family compacts L0 8 files at a time
//   (not 4): over BM_ingest's fixed 2M events RocksDB's threads went from
//   2.9 to 1.9 us per event and the bytes written from ~1055 to ~970 per
//   event (loaded machine, two runs each). Per-day column families (retention
//   = dropping one) would end the rewriting altogether.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include "storage/retention.h"
#include "storage/storage_options.h"

namespace dg::storage {

inline constexpr const char* events_cf_name = "events";
inline constexpr const char* time_cf_name = "events_by_time";
inline constexpr const char* clients_cf_name = "clients";
inline constexpr const char* audit_cf_name = "audit";

struct db_layout {
  rocksdb::DBOptions db;
  // default, events, events_by_time, clients, audit: in this order.
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  // Owned here: the options above point at them.
  std::unique_ptr<rocksdb::CompactionFilter> events_filter;
  std::unique_ptr<rocksdb::CompactionFilter> time_filter;
};

// `cutoff` feeds the expiry filters.
std::unique_ptr<db_layout> make_db_layout(const storage_options& o,
                                          std::shared_ptr<const retention_cutoff> cutoff);

// Options for a column family this version does not know (opened as-is).
rocksdb::ColumnFamilyOptions unknown_family_options();

}  // namespace dg::storage
