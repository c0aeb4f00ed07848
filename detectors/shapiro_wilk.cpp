#include "detectors/shapiro_wilk.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace dg::detectors {

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

double normal_quantile(double p) {
  // Acklam's rational approximation, then one Halley step against erfc (error ~1e-15).
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                                 1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                                 6.680131188771972e+01,  -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                                 -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                 3.754408661907416e+00};
  if (p <= 0) return -INFINITY;
  if (p >= 1) return INFINITY;
  double x;
  constexpr double plow = 0.02425;
  if (p < plow) {
    double q = std::sqrt(-2 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - plow) {
    double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    double q = std::sqrt(-2 * std::log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  double e = normal_cdf(x) - p;
  double u = e * std::sqrt(2 * M_PI) * std::exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

namespace {

double poly(const double* c, int n, double x) {
  double r = 0;
  for (int i = n - 1; i >= 0; --i) r = r * x + c[i];
  return r;
}

// Coefficients a_i (antisymmetric: a_{n+1-i} = -a_i), Royston 1992. They depend on n alone.
void coefficients(std::size_t n, std::vector<double>& a) {
  const double dn = static_cast<double>(n);
  a.assign(n, 0.0);
  if (n == 3) {
    a[0] = -std::sqrt(0.5);
    a[2] = std::sqrt(0.5);
  } else {
    std::vector<double> m(n);
    double mm = 0;
    for (std::size_t i = 0; i < n; ++i) {
      m[i] = normal_quantile((static_cast<double>(i + 1) - 0.375) / (dn + 0.25));
      mm += m[i] * m[i];
    }
    const double u = 1 / std::sqrt(dn);
    static constexpr double c1[] = {0, 0.221157, -0.147981, -2.071190, 4.434685, -2.706056};
    static constexpr double c2[] = {0, 0.042981, -0.293762, -1.752461, 5.682633, -3.582633};
    const double rsm = std::sqrt(mm);
    const double an = m[n - 1] / rsm + poly(c1, 6, u);
    if (n > 5) {
      const double an1 = m[n - 2] / rsm + poly(c2, 6, u);
      const double phi = (mm - 2 * m[n - 1] * m[n - 1] - 2 * m[n - 2] * m[n - 2]) /
                         (1 - 2 * an * an - 2 * an1 * an1);
      for (std::size_t i = 2; i + 2 < n; ++i) a[i] = m[i] / std::sqrt(phi);
      a[n - 1] = an;
      a[n - 2] = an1;
      a[0] = -an;
      a[1] = -an1;
    } else {
      const double phi = (mm - 2 * m[n - 1] * m[n - 1]) / (1 - 2 * an * an);
      for (std::size_t i = 1; i + 1 < n; ++i) a[i] = m[i] / std::sqrt(phi);
      a[n - 1] = an;
      a[0] = -an;
    }
  }
}

}  // namespace

sw_result shapiro_wilk(std::span<const double> data) {
  sw_result res;
  const std::size_t n = data.size();
  if (n < 3 || n > 5000) return res;
  thread_local std::vector<double> x;
  x.assign(data.begin(), data.end());
  std::sort(x.begin(), x.end());
  if (x.back() - x.front() < 1e-12 * std::max(1.0, std::fabs(x.back()))) return res;
  const double dn = static_cast<double>(n);

  // PRADA tests windows of one size over and over: the coefficients of the last n are kept (they
  // took most of the test's time, n normal quantiles each).
  thread_local std::vector<double> a;
  thread_local std::size_t a_n = 0;
  if (a_n != n) {
    coefficients(n, a);
    a_n = n;
  }

  double mean = 0;
  for (double v : x) mean += v;
  mean /= dn;
  double ss = 0, num = 0;
  for (std::size_t i = 0; i < n; ++i) {
    ss += (x[i] - mean) * (x[i] - mean);
    num += a[i] * x[i];
  }
  res.w = std::clamp(num * num / ss, 0.0, 1.0);
  res.valid = true;

  // p-value, Royston 1995.
  if (n == 3) {
    constexpr double pi6 = 6 / M_PI, stqr = M_PI / 3;  // exact for n = 3
    res.p = std::max(0.0, pi6 * (std::asin(std::sqrt(res.w)) - stqr));
    return res;
  }
  const double w1 = std::log(std::max(1e-300, 1 - res.w));
  double y, mu, sigma;
  if (n <= 11) {
    const double gamma = 0.459 * dn - 2.273;
    if (w1 >= gamma) {  // W so small the transform breaks down: certainly not normal
      res.p = 1e-19;
      return res;
    }
    y = -std::log(gamma - w1);
    static constexpr double cmu[] = {0.5440, -0.39978, 0.025054, -6.714e-4};
    static constexpr double csigma[] = {1.3822, -0.77857, 0.062767, -0.0020322};
    mu = poly(cmu, 4, dn);
    sigma = std::exp(poly(csigma, 4, dn));
  } else {
    const double ln = std::log(dn);
    y = w1;
    static constexpr double cmu[] = {-1.5861, -0.31082, -0.083751, 0.0038915};
    static constexpr double csigma[] = {-0.4803, -0.082676, 0.0030302};
    mu = poly(cmu, 4, ln);
    sigma = std::exp(poly(csigma, 3, ln));
  }
  res.p = 1 - normal_cdf((y - mu) / sigma);
  return res;
}

}  // namespace dg::detectors
