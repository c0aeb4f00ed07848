// storage_metrics: the event store's Prometheus series, declared in one place.
//
//   distillguard_storage_events_written_total
//   distillguard_storage_events_dropped_total{reason="queue_full"|"queue_bytes"|"write_error"}
//                                                  queue_full: queue_capacity events wait;
//                                                  queue_bytes: queue_max_mb of them
//   distillguard_storage_write_errors_total        failed batch commits
//   distillguard_storage_write_seconds             batch commit latency (histogram)
//   distillguard_storage_queue_depth               events waiting for the writer
//   distillguard_storage_queue_bytes               their encoded size (key and value buffers)
//   distillguard_storage_degraded                  1 while writes fail
//   distillguard_storage_block_cache_bytes         RocksDB block cache in use (rocksdb.block-cache-usage)
//   distillguard_storage_memtable_bytes            RocksDB memtables, all column families, active and
//                                                  not yet flushed (rocksdb.cur-size-all-mem-tables)
//
// The last two explain the store's share of the process's memory: the memtables
// grow to write_buffer_mb per column family before each flush, the cache to
// block_cache_mb. The writer sets them after every commit round.
//
// When the store is given no registry it keeps a private one, so the counters
// exist (and tests can read them) either way. Thread safe (prometheus-cpp
// metrics are atomics).
#pragma once

#include <memory>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace dg::storage {

struct storage_metrics {
  explicit storage_metrics(prometheus::Registry* registry);

  std::shared_ptr<prometheus::Registry> own_registry;  // set when none was given
  prometheus::Counter* events_written = nullptr;
  prometheus::Counter* dropped_queue_full = nullptr;
  prometheus::Counter* dropped_queue_bytes = nullptr;
  prometheus::Counter* dropped_write_error = nullptr;
  prometheus::Counter* write_errors = nullptr;
  prometheus::Histogram* write_seconds = nullptr;
  prometheus::Gauge* queue_depth = nullptr;
  prometheus::Gauge* queue_bytes = nullptr;
  prometheus::Gauge* degraded = nullptr;
  prometheus::Gauge* block_cache_bytes = nullptr;
  prometheus::Gauge* memtable_bytes = nullptr;
};

}  // namespace dg::storage
