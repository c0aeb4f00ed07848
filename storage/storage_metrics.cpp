#include "storage/storage_metrics.h"

namespace dg::storage {

storage_metrics::storage_metrics(prometheus::Registry* registry) {
  if (registry == nullptr) {
    own_registry = std::make_shared<prometheus::Registry>();
    registry = own_registry.get();
  }
  events_written = &prometheus::BuildCounter()
                        .Name("distillguard_storage_events_written_total")
                        .Help("Events committed to the event store")
                        .Register(*registry)
                        .Add({});
  auto& dropped = prometheus::BuildCounter()
                      .Name("distillguard_storage_events_dropped_total")
                      .Help("Events not stored: the writer queue was full (in events or in bytes), "
                            "or the commit failed")
                      .Register(*registry);
  dropped_queue_full = &dropped.Add({{"reason", "queue_full"}});
  dropped_queue_bytes = &dropped.Add({{"reason", "queue_bytes"}});
  dropped_write_error = &dropped.Add({{"reason", "write_error"}});
  write_errors = &prometheus::BuildCounter()
                      .Name("distillguard_storage_write_errors_total")
                      .Help("Batch commits that failed (disk full, read-only, I/O error)")
                      .Register(*registry)
                      .Add({});
  write_seconds = &prometheus::BuildHistogram()
                       .Name("distillguard_storage_write_seconds")
                       .Help("Time to commit one batch of events")
                       .Register(*registry)
                       .Add({}, prometheus::Histogram::BucketBoundaries{
                                    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                    0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5});
  queue_depth = &prometheus::BuildGauge()
                     .Name("distillguard_storage_queue_depth")
                     .Help("Events waiting for the storage writer")
                     .Register(*registry)
                     .Add({});
  queue_bytes = &prometheus::BuildGauge()
                     .Name("distillguard_storage_queue_bytes")
                     .Help("Bytes of encoded events waiting for the storage writer")
                     .Register(*registry)
                     .Add({});
  degraded = &prometheus::BuildGauge()
                  .Name("distillguard_storage_degraded")
                  .Help("1 while the event store cannot write (events are being dropped)")
                  .Register(*registry)
                  .Add({});
  block_cache_bytes = &prometheus::BuildGauge()
                           .Name("distillguard_storage_block_cache_bytes")
                           .Help("Bytes in RocksDB's block cache (rocksdb.block-cache-usage)")
                           .Register(*registry)
                           .Add({});
  memtable_bytes = &prometheus::BuildGauge()
                        .Name("distillguard_storage_memtable_bytes")
                        .Help("Bytes in RocksDB's memtables, active and not yet flushed, all column "
                              "families (rocksdb.cur-size-all-mem-tables)")
                        .Register(*registry)
                        .Add({});
}

}  // namespace dg::storage
