// storage_options: the `storage:` block of the config. Plain struct; every
// field has a default and says what it does and when to change it.
#pragma once

#include <cstdint>
#include <string>

#include "common/config_node.h"

namespace dg::storage {

// The smallest bound storage.max_open_files accepts (RocksDB keeps ~10 of it
// for files other than tables).
inline constexpr int min_max_open_files = 64;

struct storage_options {
  // Record events at all. Off: nothing is written, detectors still run.
  bool enabled = true;
  // The RocksDB directory (column families events, events_by_time, clients, audit).
  std::string path = "/var/lib/distillguard/db";
  // The writer commits one WriteBatch this often (or sooner when the batch is large).
  int flush_interval_ms = 100;
  // Events older than this are deleted in the background.
  int retention_days = 30;
  // How much prompt text is kept: hash (only a SHA-256), prefix (the first
  // prompt_prefix_chars characters) or full.
  std::string prompt_text = "hash";
  int prompt_prefix_chars = 256;
  // Events waiting for the writer; beyond this they are dropped and counted.
  // Rounded up to a power of two.
  std::uint32_t queue_capacity = 65536;
  // The same queue's bound in memory, in MiB: the encoded events waiting (their
  // key and value buffers). Whichever bound is reached first drops. Events of
  // the default config are ~700 bytes encoded, so queue_capacity binds first;
  // with prompt_text full (or long user agents) events are larger, and a write
  // stall would otherwise hold up to queue_capacity of them.
  int queue_max_mb = 64;
  // The writer commits as soon as this many events wait, without waiting for
  // flush_interval_ms. Larger batches amortise the commit; smaller ones bound
  // the memory of one batch.
  std::uint32_t max_batch_events = 8192;
  // Block compression of stored events: none, lz4 or zstd. zstd is ~20% smaller
  // and slower to write; lz4 keeps ingest cheap.
  std::string compression = "lz4";
  // Memtable size per column family, in MiB. Bigger = fewer, larger flushes.
  int write_buffer_mb = 64;
  // Block cache shared by all column families, in MiB (reads: export, admin API).
  int block_cache_mb = 64;
  // Table files RocksDB keeps open at once (its table cache); -1 keeps every
  // file open for the life of the process, so open descriptors grow with the
  // store (the 30-minute soak reached 470). A file beyond the bound is opened
  // again when read: reads of old data pay an open and a footer read, while
  // index and filter blocks stay in the block cache either way. Raise it for
  // large stores read often (export), within the process's descriptor limit.
  // -1 or at least 64.
  int max_open_files = 512;
  // How often the retention task runs, in seconds. It drops expired events from
  // the time index and compacts the expired part of the event log.
  int retention_check_interval_s = 3600;
};

void read_storage_options(config_node& node, storage_options& out);

}  // namespace dg::storage
