// event_queue: the bounded queue between append() and the writer thread.
// Dmitry Vyukov's bounded MPMC ring: each cell carries a sequence number that
// says whether it is free for the producer of that lap or full for the
// consumer, so a push is one CAS on the enqueue position and no lock. A full
// ring refuses the push at once (the caller drops and counts): nothing waits.
//
// Thread safety: try_push from any number of threads, try_pop from any
// number (we use one consumer). T must be default constructible and
// swappable; values move in and out by Swap so that a protobuf message's
// buffers change hands without copying.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>

namespace dg::storage {

template <typename T>
class event_queue {
 public:
  // Capacity is rounded up to a power of two (at least 2).
  explicit event_queue(std::size_t capacity)
      : capacity_(std::bit_ceil(capacity < 2 ? std::size_t{2} : capacity)),
        mask_(capacity_ - 1),
        cells_(new cell[capacity_]) {
    for (std::size_t i = 0; i < capacity_; ++i) cells_[i].seq.store(i, std::memory_order_relaxed);
  }
  event_queue(const event_queue&) = delete;
  event_queue& operator=(const event_queue&) = delete;

  std::size_t capacity() const { return capacity_; }

  // Moves `v` into the queue (v is left with the cell's previous, cleared
  // contents). False when the queue is full; `v` is then untouched.
  bool try_push(T& v) noexcept {
    std::size_t pos = enqueue_pos_.load(std::memory_order_relaxed);
    for (;;) {
      cell& c = cells_[pos & mask_];
      const std::size_t seq = c.seq.load(std::memory_order_acquire);
      const auto diff = static_cast<std::ptrdiff_t>(seq) - static_cast<std::ptrdiff_t>(pos);
      if (diff == 0) {
        if (enqueue_pos_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          c.value.Swap(&v);
          c.seq.store(pos + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;  // full
      } else {
        pos = enqueue_pos_.load(std::memory_order_relaxed);
      }
    }
  }

  // Moves the oldest value into `out` (out's previous contents go to the
  // cell). False when empty.
  bool try_pop(T& out) noexcept {
    std::size_t pos = dequeue_pos_.load(std::memory_order_relaxed);
    for (;;) {
      cell& c = cells_[pos & mask_];
      const std::size_t seq = c.seq.load(std::memory_order_acquire);
      const auto diff = static_cast<std::ptrdiff_t>(seq) - static_cast<std::ptrdiff_t>(pos + 1);
      if (diff == 0) {
        if (dequeue_pos_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          out.Swap(&c.value);
          c.seq.store(pos + mask_ + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;  // empty
      } else {
        pos = dequeue_pos_.load(std::memory_order_relaxed);
      }
    }
  }

  // Approximate number of queued values (exact when no push/pop is running).
  std::size_t size_approx() const noexcept {
    const std::size_t e = enqueue_pos_.load(std::memory_order_relaxed);
    const std::size_t d = dequeue_pos_.load(std::memory_order_relaxed);
    return e >= d ? e - d : 0;
  }

 private:
  struct cell {
    std::atomic<std::size_t> seq{0};
    T value;
  };
  static constexpr std::size_t line = 64;

  const std::size_t capacity_;
  const std::size_t mask_;
  std::unique_ptr<cell[]> cells_;
  alignas(line) std::atomic<std::size_t> enqueue_pos_{0};
  alignas(line) std::atomic<std::size_t> dequeue_pos_{0};
};

}  // namespace dg::storage
