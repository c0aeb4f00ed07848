// time_index: the events_by_time column family, which lets a time range
// across all clients (export, retention) read only that range although events
// are keyed client first.
//
// One entry per commit batch and second of event time (a "bucket"), not one
// per event:
//
//   key    [bucket start:8][seq of the entry's first event:8]     (time_key)
//   value  the events keys of the batch's events in that bucket, concatenated
//          in (ts, seq) order; an events key says its own length (keys.h)
//
// An entry per event cost the writer a second memtable insert and ~90 WAL
// bytes per event; an entry per batch and second costs a few per batch.
//
// What readers rely on: every event listed under an entry whose key time is K
// has ts >= K. So a scan in key order may hand out, in time order, every event
// it holds with ts < K as soon as it reads an entry at K (time_index_merger).
// The per-event entries of earlier versions (key = the event's own ts and
// seq, value = its events key) are entries of one event and read the same way.
// An entry is wholly expired once K + time_bucket_micros <= the cutoff.
//
// Thread safety: a time_index_writer or time_index_merger is used by one
// thread at a time; the free functions are pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "storage/encoded_event.h"

namespace rocksdb {
class WriteBatch;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace dg::storage {

inline constexpr micros time_bucket_micros = 1000000;

// The start of ts's bucket: ts rounded down to a whole second (saturating at
// INT64_MIN).
micros time_bucket_start(micros ts);
// Entries whose key time is below this hold only events older than `cutoff`.
micros time_index_expired_before(micros cutoff);

// Calls f(events_key) for every events key an index value lists; false when
// the value is malformed (f is then not called for the rest).
template <typename F>
bool for_each_indexed_key(std::string_view value, F&& f) {
  while (!value.empty()) {
    const std::size_t n = 1 + static_cast<unsigned char>(value[0]) + 16;
    if (n > value.size()) return false;
    f(value.substr(0, n));
    value.remove_prefix(n);
  }
  return true;
}

// Adds the index entries of one commit batch to `batch`.
class time_index_writer {
 public:
  void put(const encoded_event* events, std::size_t n, rocksdb::WriteBatch& batch,
           rocksdb::ColumnFamilyHandle* cf);

 private:
  // Kept between batches so that their buffers are reused.
  std::vector<std::uint32_t> order_;
  std::string key_;
  std::string value_;
};

// Turns index entries read in key order into events keys in (ts, seq) order,
// keeping only events with since <= ts < until.
class time_index_merger {
 public:
  time_index_merger(micros since, micros until) : since_(since), until_(until) {}
  // Call with each entry's key time before add(): appends to `out`, in time
  // order, every held events key with ts < key_time (no later entry can
  // list an event before it).
  void release_before(micros key_time, std::vector<std::string>& out);
  // Holds the events listed by one entry's value; false when it is malformed.
  bool add(std::string_view value);
  // At the end of the scan: everything still held, in time order.
  void release_all(std::vector<std::string>& out) { release_before(max_time_, out); }

 private:
  struct ref {
    micros ts;
    std::uint64_t seq;
    std::string key;
  };
  static constexpr micros max_time_ = INT64_MAX;
  micros since_;
  micros until_;
  std::vector<ref> held_;
  micros min_held_ = max_time_;  // the smallest ts held
  bool sorted_ = true;
};

}  // namespace dg::storage
