#include "detectors/ngram_sketch.h"

#include <algorithm>

namespace dg::detectors {

void make_ngram_sketch(std::span<const word> words, std::vector<std::uint32_t>& out,
                       std::vector<std::uint32_t>& scratch) {
  scratch.clear();
  for (std::size_t i = 0; i < words.size(); ++i) {
    bool content = !words[i].common;
    if (content) scratch.push_back(static_cast<std::uint32_t>(words[i].hash >> 32));
    if (i + 1 < words.size()) {
      // Bigrams of two function words ("of the") say nothing about a prompt: skip them.
      if (!content && words[i + 1].common) continue;
      scratch.push_back(static_cast<std::uint32_t>(mix64(words[i].hash * 3 + words[i + 1].hash) >> 32));
    }
  }
  // Bottom-k: partition out a few more than k smallest (duplicates), then sort just those.
  constexpr std::size_t keep = 2 * ngram_sketch_size;
  if (scratch.size() > keep) {
    std::nth_element(scratch.begin(), scratch.begin() + keep, scratch.end());
    scratch.resize(keep);
  }
  std::sort(scratch.begin(), scratch.end());
  scratch.erase(std::unique(scratch.begin(), scratch.end()), scratch.end());
  if (scratch.size() > ngram_sketch_size) scratch.resize(ngram_sketch_size);
  out.assign(scratch.begin(), scratch.end());
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

double mean_self_kernel(std::span<const std::span<const std::uint32_t>> x) {
  const std::size_t m = x.size();
  if (m < 2) return 0;
  double k = 0;
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = i + 1; j < m; ++j) k += sketch_kernel(x[i], x[j]);
  return 2 * k / (static_cast<double>(m) * static_cast<double>(m - 1));
}

double mmd2_given_y(std::span<const std::span<const std::uint32_t>> x,
                    std::span<const std::span<const std::uint32_t>> y, double y_self_kernel) {
  const std::size_t m = x.size(), n = y.size();
  if (m < 2 || n < 2) return 0;
  double kxy = 0;
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < n; ++j) kxy += sketch_kernel(x[i], y[j]);
  return mean_self_kernel(x) + y_self_kernel - 2 * kxy / (static_cast<double>(m) * static_cast<double>(n));
}

double mmd2(std::span<const std::span<const std::uint32_t>> x,
            std::span<const std::span<const std::uint32_t>> y) {
  if (x.size() < 2 || y.size() < 2) return 0;
  return mmd2_given_y(x, y, mean_self_kernel(y));
}

}  // namespace dg::detectors
