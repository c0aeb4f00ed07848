// bounded_queue: a fixed-capacity lock-free queue (Dmitry Vyukov's bounded
// MPMC array queue). Producers never wait: try_push fails when the queue is
// full. Used by the analyzer: many request-path threads push, one thread pops.
// Capacity is rounded up to a power of two.
// Thread safety: try_push and try_pop may be called from any threads at once.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace dg::detectors {

template <typename T>
class bounded_queue {
 public:
  explicit bounded_queue(std::size_t capacity)
      : capacity_(std::bit_ceil(capacity < 2 ? std::size_t{2} : capacity)),
        mask_(capacity_ - 1),
        cells_(std::make_unique<cell[]>(capacity_)) {
    for (std::size_t i = 0; i < capacity_; ++i) cells_[i].seq.store(i, std::memory_order_relaxed);
  }

  bool try_push(T&& value) {
    std::size_t pos = enqueue_.load(std::memory_order_relaxed);
    cell* c;
    for (;;) {
      c = &cells_[pos & mask_];
      const std::size_t seq = c->seq.load(std::memory_order_acquire);
      const auto diff = static_cast<std::intptr_t>(seq) - static_cast<std::intptr_t>(pos);
      if (diff == 0) {
        if (enqueue_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) break;
      } else if (diff < 0) {
        return false;  // full
      } else {
        pos = enqueue_.load(std::memory_order_relaxed);
      }
    }
    c->value = std::move(value);
    c->seq.store(pos + 1, std::memory_order_release);
    return true;
  }

  bool try_pop(T& out) {
    std::size_t pos = dequeue_.load(std::memory_order_relaxed);
    cell* c;
    for (;;) {
      c = &cells_[pos & mask_];
      const std::size_t seq = c->seq.load(std::memory_order_acquire);
      const auto diff = static_cast<std::intptr_t>(seq) - static_cast<std::intptr_t>(pos + 1);
      if (diff == 0) {
        if (dequeue_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) break;
      } else if (diff < 0) {
        return false;  // empty
      } else {
        pos = dequeue_.load(std::memory_order_relaxed);
      }
    }
    out = std::move(c->value);
    c->value = T{};  // release what the moved-from value still holds
    c->seq.store(pos + mask_ + 1, std::memory_order_release);
    return true;
  }

  // Approximate under concurrency.
  std::size_t size() const {
    std::size_t e = enqueue_.load(std::memory_order_relaxed), d = dequeue_.load(std::memory_order_relaxed);
    return e > d ? e - d : 0;
  }
  std::size_t capacity() const { return capacity_; }

 private:
  struct cell {
    std::atomic<std::size_t> seq{0};
    T value{};
  };
  const std::size_t capacity_;
  const std::size_t mask_;
  std::unique_ptr<cell[]> cells_;
  alignas(64) std::atomic<std::size_t> enqueue_{0};
  alignas(64) std::atomic<std::size_t> dequeue_{0};
};

}  // namespace dg::detectors
