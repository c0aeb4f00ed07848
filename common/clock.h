// clock: where time comes from. Detectors take time from events; the live
// server uses the system clock; tests inject a manual clock so that a
// simulated week runs in milliseconds.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace dg {

// Microseconds since the Unix epoch.
using micros = std::int64_t;

class clock_source {
 public:
  virtual ~clock_source() = default;
  virtual micros now() const = 0;
};

class system_clock_source final : public clock_source {
 public:
  micros now() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// Thread safe: set() and advance() may race with now().
class manual_clock final : public clock_source {
 public:
  explicit manual_clock(micros start = 0) : now_(start) {}
  micros now() const override { return now_.load(std::memory_order_relaxed); }
  void set(micros t) { now_.store(t, std::memory_order_relaxed); }
  void advance(micros d) { now_.fetch_add(d, std::memory_order_relaxed); }

 private:
  std::atomic<micros> now_;
};

constexpr micros seconds_to_micros(double s) { return static_cast<micros>(s * 1e6); }

}  // namespace dg
