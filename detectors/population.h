// population: what the engine knows about all clients together, which some
// detectors score a client against: the distribution of daily request and
// token counts over the clients active today and yesterday (robust z-scores
// from a log-scale histogram, O(1) per update), and a reservoir of prompt
// sketches from across the population (MMD). Owned by the engine.
// Thread safety: none (the engine's thread).
#pragma once

#include <array>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <vector>

#include "detectors/ngram_sketch.h"
#include "detectors/text_normalise.h"

namespace dg::detectors {

// Counts of clients by log2 of a daily count, in quarter-octave bins.
class log_histogram {
 public:
  static constexpr int bins = 160;  // 2^0 .. 2^40
  static int bin_of(double count) {
    if (count < 1) return 0;
    int b = static_cast<int>(std::log2(count) * 4) + 1;
    return b >= bins ? bins - 1 : b;
  }
  static double value_of(double bin) { return bin <= 0 ? 0 : (bin - 0.5) / 4; }  // log2 units
  void add(int bin) { ++counts_[static_cast<std::size_t>(bin)]; ++total_; }
  void remove(int bin) {
    auto& c = counts_[static_cast<std::size_t>(bin)];
    if (c > 0) { --c; --total_; }
  }
  void clear() { counts_.fill(0); total_ = 0; }
  std::uint64_t total() const { return total_; }
  // Median and MAD in log2 units.
  void median_mad(double& median, double& mad) const;

 private:
  std::array<std::uint32_t, bins> counts_{};
  std::uint64_t total_ = 0;
};

struct population {
  // Daily requests and tokens of clients active today (day_) and on the previous day.
  std::int64_t day = -1;
  log_histogram requests_today, requests_yesterday, tokens_today, tokens_yesterday;

  // Rolls the day forward (yesterday := today when exactly one day passed, else empty).
  void roll_to(std::int64_t d) {
    if (d <= day) return;
    if (d == day + 1) {
      requests_yesterday = requests_today;
      tokens_yesterday = tokens_today;
    } else {
      requests_yesterday.clear();
      tokens_yesterday.clear();
    }
    requests_today.clear();
    tokens_today.clear();
    day = d;
  }

  // MMD reservoir: sketches (bottom-8) of prompts sampled across clients.
  std::vector<std::array<std::uint32_t, 8>> sketches;
  std::vector<std::uint8_t> sketch_sizes;
  std::uint64_t sketches_seen = 0;
  // A fixed sample of the reservoir that every client is compared with, and its mean
  // self-kernel, recomputed only when the reservoir has moved on (mmd_detector::refresh).
  sketch_sample sample;
  std::uint64_t sample_taken_at = 0;  // sketches_seen when the sample was taken
  std::uint64_t rng = 0x9e3779b97f4a7c15ULL;  // deterministic: seeded, advanced per use
  std::uint64_t next_random() { rng = mix64(rng + 0x9e3779b97f4a7c15ULL); return rng; }
};

inline void log_histogram::median_mad(double& median, double& mad) const {
  median = 0;
  mad = 0;
  if (total_ == 0) return;
  auto quantile_bin = [&](const auto& counts, std::uint64_t rank) {
    std::uint64_t acc = 0;
    for (int b = 0; b < bins; ++b) {
      acc += counts[static_cast<std::size_t>(b)];
      if (acc > rank) return b;
    }
    return bins - 1;
  };
  int mb = quantile_bin(counts_, total_ / 2);
  median = value_of(mb);
  // Absolute deviations in bins, histogrammed.
  std::array<std::uint32_t, bins> dev{};
  for (int b = 0; b < bins; ++b) dev[static_cast<std::size_t>(std::abs(b - mb))] += counts_[static_cast<std::size_t>(b)];
  mad = quantile_bin(dev, total_ / 2) / 4.0;
}

}  // namespace dg::detectors
