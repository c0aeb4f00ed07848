// snapshot: an immutable value read by many threads and replaced now and then
// by a writer (a config reload): read-copy-update with a version number.
//
// Why not std::atomic<std::shared_ptr<T>>: in GCC 12's libstdc++ its load()
// releases its internal lock bit with a relaxed store, so a load followed by a
// store elsewhere is a data race by the memory model, and ThreadSanitizer
// reports it. Here readers keep a per-thread copy of the shared_ptr and only
// compare an atomic version on the fast path; a store() is seen by the next
// load() on every thread, which then copies the new pointer under the mutex
// (once per thread per store).
//
// Thread safety: load() and version() from any thread; store() from any
// thread (writers are serialised by the mutex).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

namespace dg {

template <class T>
class snapshot {
 public:
  explicit snapshot(std::shared_ptr<const T> initial) : value_(std::move(initial)), id_(next_id()) {}
  snapshot(const snapshot&) = delete;
  snapshot& operator=(const snapshot&) = delete;

  // Makes `v` the value of every later load().
  void store(std::shared_ptr<const T> v) {
    std::shared_ptr<const T> old;
    {
      std::lock_guard lock(mu_);
      old = std::move(value_);
      value_ = std::move(v);
      version_.fetch_add(1, std::memory_order_release);
    }
    // `old` is released outside the lock (it may be the last reference).
  }

  // The current value. The fast path (no store since this thread's last
  // load) is one atomic load and a shared_ptr copy.
  std::shared_ptr<const T> load() const {
    struct slot {
      std::uint64_t owner = 0;
      std::uint64_t version = 0;
      std::shared_ptr<const T> value;
    };
    thread_local slot s;
    const std::uint64_t v = version_.load(std::memory_order_acquire);
    if (s.owner != id_ || s.version != v || !s.value) {
      std::lock_guard lock(mu_);
      s.owner = id_;
      s.value = value_;
      s.version = version_.load(std::memory_order_relaxed);
    }
    return s.value;
  }

  // Bumped by every store().
  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }

 private:
  static std::uint64_t next_id() {
    static std::atomic<std::uint64_t> ids{1};
    return ids.fetch_add(1, std::memory_order_relaxed);
  }

  mutable std::mutex mu_;
  std::shared_ptr<const T> value_;
  std::atomic<std::uint64_t> version_{0};
  const std::uint64_t id_;  // tells instances apart in the per-thread slot (never reused)
};

}  // namespace dg
