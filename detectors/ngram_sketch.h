// ngram_sketch: a prompt as a small set of hashed n-grams (bottom-k of its
// content-word unigrams and of its bigrams), and the kernel and MMD estimate
// the distribution-shift detector computes over windows of them (Gretton et
// al. 2012, with the resemblance kernel |A ∩ B| / max(|A|, |B|)).
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "detectors/text_normalise.h"

namespace dg::detectors {

inline constexpr std::size_t ngram_sketch_size = 16;

// The ngram_sketch_size smallest distinct values (fewer for a short prompt), sorted.
void make_ngram_sketch(std::span<const word> words, std::vector<std::uint32_t>& out,
                       std::vector<std::uint32_t>& scratch);

// Resemblance of two sorted sketches, in [0, 1].
double sketch_kernel(std::span<const std::uint32_t> a, std::span<const std::uint32_t> b);

// Unbiased MMD^2 between sample X and sample Y under sketch_kernel. Each element of a sample
// is a sorted sketch. Needs at least two of each; returns 0 otherwise.
double mmd2(std::span<const std::span<const std::uint32_t>> x,
            std::span<const std::span<const std::uint32_t>> y);

// Mean kernel over distinct pairs of a sample (the within-sample term of MMD^2); 0 for n < 2.
double mean_self_kernel(std::span<const std::span<const std::uint32_t>> x);

// A sample Y prepared once for many MMD estimates against it (a population sample every client
// is compared with): its (value, sketch) entries sorted, and its within-sample term.
class sketch_sample {
 public:
  void assign(std::span<const std::span<const std::uint32_t>> y);
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  double self_kernel() const { return self_kernel_; }

 private:
  friend double mmd2_given_y(std::span<const std::span<const std::uint32_t>> x, const sketch_sample& y);
  std::vector<std::uint64_t> entries_;
  std::size_t size_ = 0, empty_ = 0;
  double self_kernel_ = 0;
};

// MMD^2 against a prepared sample Y.
double mmd2_given_y(std::span<const std::span<const std::uint32_t>> x, const sketch_sample& y);

}  // namespace dg::detectors
