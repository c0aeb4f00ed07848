// retention: how expired events leave the disk without stalling writes.
//
// Events are keyed by client first, so "everything older than T" is not one
// key range of the events column family. Rather than walk it, a compaction
// filter drops every key whose embedded timestamp is before the cutoff as
// RocksDB compacts (no tombstones, no extra writes), and the retention task
// (event_store) moves the cutoff forward and asks RocksDB to compact: the
// events CF through periodic compaction of old files, the time index with a
// DeleteRange (it *is* time ordered). Reads clamp to the cutoff, so an expired
// event is invisible at once even before its file is compacted.
//
// Thread safety: the cutoff is an atomic; RocksDB calls Filter from its
// compaction threads concurrently.
#pragma once

#include <atomic>
#include <memory>

#include <rocksdb/compaction_filter.h>

#include "common/clock.h"

namespace dg::storage {

// Shared by the filters and the retention task.
class retention_cutoff {
 public:
  // Events with ts < cutoff are expired. Never moves backwards.
  void advance_to(micros cutoff) {
    micros cur = cutoff_.load(std::memory_order_relaxed);
    while (cutoff > cur && !cutoff_.compare_exchange_weak(cur, cutoff, std::memory_order_relaxed)) {
    }
  }
  micros get() const { return cutoff_.load(std::memory_order_relaxed); }

 private:
  std::atomic<micros> cutoff_{INT64_MIN};
};

enum class key_layout { client_first, time_first };

// Drops keys older than the cutoff from a column family of the given layout.
class expiry_filter final : public rocksdb::CompactionFilter {
 public:
  expiry_filter(std::shared_ptr<const retention_cutoff> cutoff, key_layout layout)
      : cutoff_(std::move(cutoff)), layout_(layout) {}
  bool Filter(int level, const rocksdb::Slice& key, const rocksdb::Slice& existing_value,
              std::string* new_value, bool* value_changed) const override;
  const char* Name() const override { return "distillguard.expiry"; }

 private:
  std::shared_ptr<const retention_cutoff> cutoff_;
  key_layout layout_;
};

}  // namespace dg::storage
