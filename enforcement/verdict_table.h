// verdict_table: the verdicts in force, published by the policy (one writer at
// a time) and read by the request path on many threads.
//
// Only clients that are not plainly "allow" have an entry (flagged, listed or
// overridden), so the table stays small and an unknown client costs one hash
// and one atomic load. The table is split into shards; each shard is an
// immutable map behind a shared_ptr (read-copy-update): a writer copies its
// shard, changes the copy and swaps the pointer in under the shard's mutex; a
// reader holds that mutex only for one find() in the current map and copies
// the entry out. So a reader never waits for a writer's copy, only for a
// pointer swap or another reader's find, and never sees a half-written entry.
// (Not std::atomic<std::shared_ptr>: libstdc++ 12 implements it with a lock
// bit released by a relaxed store, a data race ThreadSanitizer reports; see
// common/snapshot.h. Not dg::snapshot either: its per-thread cache holds one
// instance per type, and a thread reading 64 shards in turn would miss it on
// nearly every lookup.)
//
// Thread safety: lookup() and size() from any thread; put() and erase()
// REQUIRE that the caller serialises writers (the policy holds its mutex).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"
#include "enforcement/verdict.h"

namespace dg::enforcement {

struct verdict_view;

// One published client.
struct table_entry {
  verdict base = verdict::allow;  // from the lists or the risk (what holds once an override ends)
  double risk = 0;
  bool listed = false;
  bool overridden = false;
  verdict override_to = verdict::allow;
  micros override_expires = 0;    // 0 = never
};

class verdict_table {
 public:
  static constexpr std::size_t shard_count = 64;

  verdict_table();

  // The verdict in force for `client_id` at `now`. Lock-free when the client's
  // shard is empty (the common case); else one short critical section.
  verdict_view lookup(std::string_view client_id, micros now) const;
  std::size_t size() const { return size_.load(std::memory_order_relaxed); }

  // REQUIRES: writers serialised by the caller.
  void put(std::string_view client_id, const table_entry& e);
  void erase(std::string_view client_id);

 private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using map = std::unordered_map<std::string, table_entry, string_hash, std::equal_to<>>;
  struct alignas(64) shard {
    std::atomic<std::size_t> entries{0};  // lets readers skip an empty shard without the load
    mutable std::mutex mu;                 // guards the pointer `current` (not the map: it is immutable)
    std::shared_ptr<const map> current;   // never null
  };

  static std::size_t shard_of(std::size_t hash) { return (hash >> 7) % shard_count; }

  std::array<shard, shard_count> shards_;
  std::atomic<std::size_t> size_{0};
};

}  // namespace dg::enforcement
