// encoded_event: an event as it travels from append() to the writer thread,
// already encoded: its events key and its serialized QueryEvent.
//
// append() does the per-event work (UTF-8 check, key, protobuf serialization)
// on the caller's thread, so the single writer thread only sorts and commits:
// the writer was the ingest bottleneck, and an event freed on the thread that
// built it is cheaper than one freed by the writer (glibc frees a block of
// another thread's arena under that arena's lock).
//
// The strings' buffers are recycled: append() encodes into a thread-local
// encoded_event holding buffers it took from the store's spares, the queue
// swaps it with its cell's (empty) one, the writer pops it in exchange for an
// empty one and, once committed, gives the buffers back to the spares (a
// bounded queue; what does not fit there is freed). Not thread safe itself.
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
