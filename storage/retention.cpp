#include "storage/retention.h"

#include "storage/keys.h"
#include "storage/time_index.h"

namespace dg::storage {

bool expiry_filter::Filter(int /*level*/, const rocksdb::Slice& key,
                           const rocksdb::Slice& /*existing_value*/, std::string* /*new_value*/,
                           bool* /*value_changed*/) const {
  const std::string_view k(key.data(), key.size());
  const micros cutoff = cutoff_->get();
  if (layout_ == key_layout::time_first) {
    // An index entry lists up to a bucket of events from its key time on.
    const auto ts = parse_time_key(k);
    return ts && *ts < time_index_expired_before(cutoff);
  }
  const auto p = parse_event_key(k);
  return p && p->ts < cutoff;
}

}  // namespace dg::storage
