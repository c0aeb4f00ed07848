#include "detectors/ngram_sketch.h"

#include <algorithm>
#include <array>

namespace dg::detectors {
namespace {

// A bigram's value: one folded multiply of the two (already mixed) word hashes, order-sensitive.
inline std::uint32_t bigram_value(std::uint64_t first, std::uint64_t second) {
  using namespace word_hash_detail;
  return static_cast<std::uint32_t>(fold_mul(first ^ k3, second ^ k4) >> 32);
}

// Every candidate sorted: the definition, for the rare prompt whose values repeat too much for the
// bounded pass.
void make_ngram_sketch_exact(std::span<const word> words, std::vector<std::uint32_t>& out,
                             std::vector<std::uint32_t>& scratch) {
  scratch.clear();
  for (std::size_t i = 0; i < words.size(); ++i) {
    const bool content = !words[i].common;
    if (content) scratch.push_back(static_cast<std::uint32_t>(words[i].hash >> 32));
    if (i + 1 < words.size() && (content || !words[i + 1].common)) {
      scratch.push_back(bigram_value(words[i].hash, words[i + 1].hash));
    }
  }
  std::sort(scratch.begin(), scratch.end());
  scratch.erase(std::unique(scratch.begin(), scratch.end()), scratch.end());
  if (scratch.size() > ngram_sketch_size) scratch.resize(ngram_sketch_size);
  out.assign(scratch.begin(), scratch.end());
}

// Sorts the few values kept under the bound (about 3 x 16). Insertion sort mispredicts about once
// per value, where std::sort's partitioning mispredicts several times per value on random input.
void sort_small(std::uint32_t* v, std::size_t n) {
  if (n > 96) {
    std::sort(v, v + n);
    return;
  }
  for (std::size_t i = 1; i < n; ++i) {
    const std::uint32_t x = v[i];
    std::size_t j = i;
    for (; j > 0 && v[j - 1] > x; --j) v[j] = v[j - 1];
    v[j] = x;
  }
}

// Sorts n (at most 96) values spread evenly over [0, limit): a counting pass by the top bits
// leaves them nearly in order, and insertion sort then moves few of them (few mispredictions).
void sort_uniform(std::uint32_t* v, std::size_t n, std::uint64_t limit) {
  constexpr std::size_t buckets = 64;
  std::array<std::uint8_t, buckets + 1> start{};
  std::array<std::uint32_t, 96> tmp;
  auto bucket = [&](std::uint32_t x) { return static_cast<std::size_t>(std::uint64_t{x} * buckets / limit); };
  for (std::size_t i = 0; i < n; ++i) ++start[bucket(v[i]) + 1];
  for (std::size_t b = 0; b < buckets; ++b) start[b + 1] = static_cast<std::uint8_t>(start[b + 1] + start[b]);
  for (std::size_t i = 0; i < n; ++i) tmp[start[bucket(v[i])]++] = v[i];
  std::copy(tmp.begin(), tmp.begin() + static_cast<std::ptrdiff_t>(n), v);
  sort_small(v, n);
}

}  // namespace

void make_ngram_sketch(std::span<const word> words, std::vector<std::uint32_t>& out,
                       std::vector<std::uint32_t>& scratch) {
  // Every candidate value: content-word unigrams and bigrams (bigrams of two function words, "of
  // the", say nothing about a prompt and are skipped).
  scratch.resize(2 * words.size());
  std::size_t n = 0;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const bool content = !words[i].common;
    scratch[n] = static_cast<std::uint32_t>(words[i].hash >> 32);
    n += content;
    if (i + 1 < words.size()) {
      scratch[n] = bigram_value(words[i].hash, words[i + 1].hash);
      n += content | !words[i + 1].common;  // bitwise: || would branch on random words
    }
  }
  // The values are uniform hashes, so the smallest k lie below about k / n of the range: keep
  // those below a bound with room for duplicates (without branches), sort the few kept, and fall
  // back to sorting everything only when too few distinct values made it under the bound.
  std::size_t kept = n;
  if (n > 4 * ngram_sketch_size) {
    const std::uint64_t bound = (std::uint64_t{1} << 32) * (3 * ngram_sketch_size) / n;
    kept = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint32_t v = scratch[i];
      scratch[kept] = v;
      kept += v < bound;
    }
    // A tighter bound (about 1.9 x 16 values expected) usually still holds 16 distinct values,
    // and then they are the 16 smallest: only those few are sorted.
    std::array<std::uint32_t, 96> few;
    if (kept <= few.size()) {
      const std::uint64_t tight = bound * 5 / 8;
      std::size_t f = 0;
      for (std::size_t i = 0; i < kept; ++i) {
        few[f] = scratch[i];
        f += scratch[i] < tight;
      }
      sort_uniform(few.data(), f, tight);
      const auto d = static_cast<std::size_t>(std::unique(few.begin(), few.begin() + static_cast<std::ptrdiff_t>(f)) - few.begin());
      if (d >= ngram_sketch_size) {
        out.assign(few.begin(), few.begin() + static_cast<std::ptrdiff_t>(ngram_sketch_size));
        return;
      }
    }
  }
  sort_small(scratch.data(), kept);
  std::size_t distinct = static_cast<std::size_t>(
      std::unique(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(kept)) - scratch.begin());
  if (distinct < ngram_sketch_size && kept < n) {
    // Too few under the bound (many repeats): recompute without it.
    make_ngram_sketch_exact(words, out, scratch);
    return;
  }
  out.assign(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(std::min(distinct, ngram_sketch_size)));
}

double sketch_kernel(std::span<const std::uint32_t> a, std::span<const std::uint32_t> b) {
  std::size_t denom = std::max(a.size(), b.size());
  if (denom == 0) return 1.0;  // two empty prompts are alike
  std::size_t i = 0, j = 0, common = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i] < b[j]) ++i;
    else if (b[j] < a[i]) ++j;
    else { ++common; ++i; ++j; }
  }
  return static_cast<double>(common) / static_cast<double>(denom);
}

namespace {

// Two sketches' kernel is the sum, over the values they share, of 1 / max(|a|, |b|); two empty
// sketches count 1. So the sums over all pairs are taken from the values: every (value, sketch)
// entry sorted by value, and only sketches in one run of an equal value are paired. Random prompts
// share few values, so this visits far fewer pairs than comparing every sketch with every other.
// An entry is packed into 64 bits with the value on top, so plain integer order sorts by value
// (and, within a run, by side, size and sketch: the same order on every run).
using entry = std::uint64_t;
inline entry make_entry(std::uint32_t value, std::uint8_t side, std::uint8_t size, std::uint16_t sketch) {
  return std::uint64_t{value} << 32 | std::uint64_t{side} << 24 | std::uint64_t{size} << 16 | sketch;
}
inline std::uint32_t value_of(entry e) { return static_cast<std::uint32_t>(e >> 32); }
inline std::uint8_t side_of(entry e) { return static_cast<std::uint8_t>(e >> 24); }
inline std::uint8_t size_of(entry e) { return static_cast<std::uint8_t>(e >> 16); }

std::vector<entry>& entries_scratch() {
  thread_local std::vector<entry> e;
  e.clear();
  return e;
}

void add_entries(std::vector<entry>& out, std::span<const std::span<const std::uint32_t>> sample,
                 std::uint8_t side, std::size_t& empty) {
  for (std::size_t i = 0; i < sample.size(); ++i) {
    const auto& sk = sample[i];
    if (sk.empty()) ++empty;
    const auto size = static_cast<std::uint8_t>(std::min<std::size_t>(sk.size(), 255));
    for (std::uint32_t v : sk) out.push_back(make_entry(v, side, size, static_cast<std::uint16_t>(i)));
  }
}

inline double pair_weight(entry a, entry b) { return 1.0 / std::max(size_of(a), size_of(b)); }

// The sketches holding one value, grouped by side and size: a template's sketches repeat, so a
// value may be held by every sketch of both samples, and its pairs are summed group by group
// instead of one by one. (A sketch's values are distinct, so no sketch meets itself in a run.)
struct run_groups {
  struct group {
    std::uint8_t side, size;
    double count;
  };
  std::array<group, 16> g;
  std::size_t n = 0;
  bool overflow = false;
  void add(entry e) {
    const std::uint8_t side = side_of(e), size = size_of(e);
    for (std::size_t i = 0; i < n; ++i) {
      if (g[i].side == side && g[i].size == size) {
        g[i].count += 1;
        return;
      }
    }
    if (n == g.size()) {
      overflow = true;
      return;
    }
    g[n++] = {side, size, 1};
  }
};

// Adds the run's pairs: within x (self) and between x and y (cross).
void add_run(const entry* e, std::size_t len, double& self, double& cross) {
  run_groups r;
  for (std::size_t i = 0; i < len; ++i) r.add(e[i]);
  if (r.overflow) {  // more than 16 (side, size) groups: pair by pair
    for (std::size_t i = 0; i < len; ++i) {
      if (side_of(e[i]) != 0) continue;
      for (std::size_t j = 0; j < len; ++j) {
        if (side_of(e[j]) == 1) cross += pair_weight(e[i], e[j]);
        else if (j > i) self += pair_weight(e[i], e[j]);
      }
    }
    return;
  }
  for (std::size_t a = 0; a < r.n; ++a) {
    const auto& ga = r.g[a];
    if (ga.side != 0) continue;
    self += ga.count * (ga.count - 1) / 2 / ga.size;
    for (std::size_t b = 0; b < r.n; ++b) {
      const auto& gb = r.g[b];
      const double w = 1.0 / std::max(ga.size, gb.size);
      if (gb.side == 1) cross += ga.count * gb.count * w;
      else if (b > a) self += ga.count * gb.count * w;
    }
  }
}

// Adds the pairs of every run of equal values in sorted entries.
void add_runs(const std::vector<entry>& e, double& self, double& cross) {
  for (std::size_t a = 0; a < e.size();) {
    std::size_t b = a + 1;
    while (b < e.size() && value_of(e[b]) == value_of(e[a])) ++b;
    if (b - a > 1) add_run(&e[a], b - a, self, cross);
    a = b;
  }
}

// The kernel summed over distinct pairs within x.
// The kernel summed over distinct pairs of one sample, from its entries sorted (all of side 0).
double self_sum_of_sorted(const std::vector<entry>& e, std::size_t empty) {
  double sum = static_cast<double>(empty) * static_cast<double>(empty - (empty > 0)) / 2, cross = 0;
  add_runs(e, sum, cross);
  return sum;
}

// The kernel summed over distinct pairs within x.
double sum_self_kernel(std::span<const std::span<const std::uint32_t>> x) {
  auto& e = entries_scratch();
  std::size_t empty = 0;
  add_entries(e, x, 0, empty);
  std::sort(e.begin(), e.end());
  return self_sum_of_sorted(e, empty);
}

// The kernel summed over every pair of one sketch of x and one of y (cross), and over distinct
// pairs within x (self). Only x is sorted here: y's entries come sorted, and the two are merged.
void sum_kernels(std::span<const std::span<const std::uint32_t>> x, std::span<const entry> y_sorted,
                 std::size_t empty_y, double& self, double& cross) {
  thread_local std::vector<entry> xs;
  xs.clear();
  std::size_t empty_x = 0;
  add_entries(xs, x, 0, empty_x);
  std::sort(xs.begin(), xs.end());
  auto& e = entries_scratch();
  e.resize(xs.size() + y_sorted.size());
  // Merged without a branch on which side is smaller (as random as the hash values).
  std::size_t i = 0, j = 0, k = 0;
  while (i < xs.size() && j < y_sorted.size()) {
    const entry a = xs[i], b = y_sorted[j];
    const bool take_x = a <= b;
    e[k++] = take_x ? a : b;
    i += take_x;
    j += !take_x;
  }
  for (; i < xs.size(); ++i) e[k++] = xs[i];
  for (; j < y_sorted.size(); ++j) e[k++] = y_sorted[j];
  cross = static_cast<double>(empty_x) * static_cast<double>(empty_y);
  self = static_cast<double>(empty_x) * static_cast<double>(empty_x - (empty_x > 0)) / 2;
  add_runs(e, self, cross);
}

}  // namespace

void sketch_sample::assign(std::span<const std::span<const std::uint32_t>> y) {
  size_ = y.size();
  empty_ = 0;
  entries_.clear();
  // One sort serves both: the within-sample sum is taken with the entries as side 0, then they
  // become side 1 (the same bit set on every entry keeps their order).
  add_entries(entries_, y, 0, empty_);
  std::sort(entries_.begin(), entries_.end());
  self_kernel_ = size_ < 2 ? 0
                           : 2 * self_sum_of_sorted(entries_, empty_) /
                                 (static_cast<double>(size_) * static_cast<double>(size_ - 1));
  for (auto& e : entries_) e |= make_entry(0, 1, 0, 0);
}

double mean_self_kernel(std::span<const std::span<const std::uint32_t>> x) {
  const std::size_t m = x.size();
  if (m < 2) return 0;
  return 2 * sum_self_kernel(x) / (static_cast<double>(m) * static_cast<double>(m - 1));
}

double mmd2_given_y(std::span<const std::span<const std::uint32_t>> x, const sketch_sample& y) {
  const std::size_t m = x.size(), n = y.size();
  if (m < 2 || n < 2) return 0;
  double kxx = 0, kxy = 0;
  sum_kernels(x, y.entries_, y.empty_, kxx, kxy);
  return 2 * kxx / (static_cast<double>(m) * static_cast<double>(m - 1)) + y.self_kernel() -
         2 * kxy / (static_cast<double>(m) * static_cast<double>(n));
}

double mmd2(std::span<const std::span<const std::uint32_t>> x,
            std::span<const std::span<const std::uint32_t>> y) {
  sketch_sample s;
  s.assign(y);
  return mmd2_given_y(x, s);
}

}  // namespace dg::detectors
