// encoded_event: an event as it travels from append() to the writer thread,
// already encoded: its events key and its serialized QueryEvent.
//
// append() does the per-event work (UTF-8 check, key, protobuf serialization)
// on the caller's thread, so the single writer thread only sorts and commits:
// the writer was the ingest bottleneck, and an event freed on the thread that
// built it is cheaper than one freed by the writer (glibc frees a block of
// another thread's arena under that arena's lock).
//
// The strings' buffers are recycled, never freed: append() encodes into a
// thread-local encoded_event, the queue swaps it with the cell's (which holds
// the buffers of an event the writer already committed), and the writer swaps
// its committed ones back into the cell when it pops. Not thread safe itself.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "common/clock.h"

namespace dg::storage {

struct encoded_event {
  std::string key;    // events column family key (keys.h)
  std::string value;  // the serialized pb::QueryEvent
  micros ts = 0;
  std::uint64_t seq = 0;

  // What event_queue needs: move the contents both ways without copying.
  void Swap(encoded_event* other) noexcept {
    key.swap(other->key);
    value.swap(other->value);
    std::swap(ts, other->ts);
    std::swap(seq, other->seq);
  }
};

}  // namespace dg::storage
