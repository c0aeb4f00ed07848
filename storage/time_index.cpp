#include "storage/time_index.h"

#include <algorithm>
#include <numeric>

#include <rocksdb/write_batch.h>

#include "storage/keys.h"

namespace dg::storage {

micros time_bucket_start(micros ts) {
  micros r = ts % time_bucket_micros;
  if (r < 0) r += time_bucket_micros;
  if (ts < INT64_MIN + r) return INT64_MIN;
  return ts - r;
}

micros time_index_expired_before(micros cutoff) {
  // key time + bucket <= cutoff  <=>  key time < cutoff - bucket + 1
  if (cutoff < INT64_MIN + time_bucket_micros) return INT64_MIN;
  return cutoff - time_bucket_micros + 1;
}

void time_index_writer::put(const encoded_event* events, std::size_t n, rocksdb::WriteBatch& batch,
                            rocksdb::ColumnFamilyHandle* cf) {
  order_.resize(n);
  std::iota(order_.begin(), order_.end(), std::uint32_t{0});
  // Events arrive nearly in time order: this sort is cheap.
  std::sort(order_.begin(), order_.end(), [&](std::uint32_t a, std::uint32_t b) {
    return events[a].ts != events[b].ts ? events[a].ts < events[b].ts : events[a].seq < events[b].seq;
  });
  for (std::size_t i = 0; i < n;) {
    const encoded_event& first = events[order_[i]];
    const micros bucket = time_bucket_start(first.ts);
    key_.clear();
    put_be64(key_, ts_to_ordered(bucket));
    put_be64(key_, first.seq);
    value_.clear();
    for (; i < n && time_bucket_start(events[order_[i]].ts) == bucket; ++i) {
      value_.append(events[order_[i]].key);
    }
    batch.Put(cf, key_, value_);
  }
}

void time_index_merger::release_before(micros key_time, std::vector<std::string>& out) {
  // Most calls (the further entries of a second) release nothing: no sort.
  if (held_.empty() || key_time <= min_held_) return;
  if (!sorted_) {
    std::sort(held_.begin(), held_.end(), [](const ref& a, const ref& b) {
      return a.ts != b.ts ? a.ts < b.ts : a.seq < b.seq;
    });
    sorted_ = true;
  }
  std::size_t n = 0;
  while (n < held_.size() && held_[n].ts < key_time) out.push_back(std::move(held_[n++].key));
  held_.erase(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(n));
  min_held_ = held_.empty() ? max_time_ : held_.front().ts;
}

bool time_index_merger::add(std::string_view value) {
  bool ok = true;
  const bool listed = for_each_indexed_key(value, [&](std::string_view key) {
    const auto p = parse_event_key(key);
    if (!p) {
      ok = false;
      return;
    }
    if (p->ts < since_ || p->ts >= until_) return;
    if (!held_.empty() && (held_.back().ts > p->ts || (held_.back().ts == p->ts && held_.back().seq > p->seq))) {
      sorted_ = false;
    }
    held_.push_back(ref{p->ts, p->seq, std::string(key)});
    min_held_ = std::min(min_held_, p->ts);
  });
  return listed && ok;
}

}  // namespace dg::storage
