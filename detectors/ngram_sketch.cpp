#include "detectors/ngram_sketch.h"

#include <algorithm>

namespace dg::detectors {

void make_ngram_sketch(std::span<const word> words, std::vector<std::uint32_t>& out,
                       std::vector<std::uint32_t>& scratch) {
  scratch.clear();
  for (std::size_t i = 0; i < words.size(); ++i) {
    bool content = !is_common_word(words[i].text);
    if (content) scratch.push_back(static_cast<std::uint32_t>(words[i].hash >> 32));
    if (i + 1 < words.size()) {
      // Bigrams of two function words ("of the") say nothing about a prompt: skip them.
      if (!content && is_common_word(words[i + 1].text)) continue;
      scratch.push_back(static_cast<std::uint32_t>(mix64(words[i].hash * 3 + words[i + 1].hash) >> 32));
    }
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

double mmd2(std::span<const std::span<const std::uint32_t>> x,
            std::span<const std::span<const std::uint32_t>> y) {
  const std::size_t m = x.size(), n = y.size();
  if (m < 2 || n < 2) return 0;
  double kxx = 0, kyy = 0, kxy = 0;
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = i + 1; j < m; ++j) kxx += sketch_kernel(x[i], x[j]);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j) kyy += sketch_kernel(y[i], y[j]);
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < n; ++j) kxy += sketch_kernel(x[i], y[j]);
  double dm = static_cast<double>(m), dn = static_cast<double>(n);
  return 2 * kxx / (dm * (dm - 1)) + 2 * kyy / (dn * (dn - 1)) - 2 * kxy / (dm * dn);
}

}  // namespace dg::detectors
