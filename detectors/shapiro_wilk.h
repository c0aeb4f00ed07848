// shapiro_wilk: the Shapiro-Wilk W test of normality with Royston's (1992,
// 1995: algorithm AS R94) approximation of the coefficients and of the
// p-value, valid for 3 <= n <= 5000. PRADA (Juuti et al. 2019) applies it to
// the distances of each query to its nearest earlier query.
// Thread safety: pure functions (each thread keeps its own scratch and last coefficients).
#pragma once

#include <span>

namespace dg::detectors {

struct sw_result {
  double w = 1;       // the statistic, in (0, 1]
  double p = 1;       // p-value of normality
  bool valid = false; // false when n < 3, n > 5000, or all values are equal
};

// `x` need not be sorted.
sw_result shapiro_wilk(std::span<const double> x);

double normal_cdf(double z);
double normal_quantile(double p);  // inverse of normal_cdf, for p in (0, 1)

}  // namespace dg::detectors
