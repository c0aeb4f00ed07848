#include "detectors/shapiro_wilk.h"

#include <vector>

#include <gtest/gtest.h>

namespace dg::detectors {
namespace {

TEST(NormalQuantile, InvertsTheCdf) {
  for (double p : {1e-10, 0.001, 0.02, 0.3, 0.5, 0.77, 0.975, 0.999999}) {
    EXPECT_NEAR(normal_cdf(normal_quantile(p)), p, 1e-12 + p * 1e-9);
  }
  EXPECT_NEAR(normal_quantile(0.975), 1.959963984540054, 1e-9);
}

TEST(ShapiroWilk, KeptCoefficientsGiveTheSameAnswerAsFreshOnes) {
  // The coefficients of the last n are kept per thread: alternating sizes must not mix them up.
  std::vector<double> eleven = {148, 154, 158, 160, 161, 162, 166, 170, 182, 195, 236};
  std::vector<double> thirty;
  for (int i = 0; i < 30; ++i) thirty.push_back((i * 37) % 17 + 0.5 * i);
  const auto a = shapiro_wilk(eleven), b = shapiro_wilk(thirty), c = shapiro_wilk(eleven),
             d = shapiro_wilk(thirty), e = shapiro_wilk(std::vector<double>{1, 2, 4});
  EXPECT_EQ(a.w, c.w);
  EXPECT_EQ(a.p, c.p);
  EXPECT_EQ(b.w, d.w);
  EXPECT_EQ(b.p, d.p);
  EXPECT_NE(a.w, b.w);
  EXPECT_EQ(shapiro_wilk(std::vector<double>{1, 2, 4}).w, e.w);
}

TEST(ShapiroWilk, ClassicExample) {
  // Shapiro and Wilk (1965): weights of 11 men; R's shapiro.test gives W = 0.78881, p = 0.006704.
  std::vector<double> x = {148, 154, 158, 160, 161, 162, 166, 170, 182, 195, 236};
  auto r = shapiro_wilk(x);
  ASSERT_TRUE(r.valid);
  EXPECT_NEAR(r.w, 0.7888, 0.002);
  EXPECT_NEAR(r.p, 0.0067, 0.001);
}

TEST(ShapiroWilk, NormalSampleIsNormalAndMixtureIsNot) {
  std::vector<double> normal, mixture, uniform;
  for (int i = 1; i <= 64; ++i) normal.push_back(normal_quantile((i - 0.5) / 64) * 3 + 30);
  for (int i = 0; i < 48; ++i) mixture.push_back(2 + i % 3);   // near-duplicates
  for (int i = 0; i < 16; ++i) mixture.push_back(28 + i % 5);  // fresh prompts
  for (int i = 0; i < 100; ++i) uniform.push_back(i);
  auto n = shapiro_wilk(normal), m = shapiro_wilk(mixture), u = shapiro_wilk(uniform);
  EXPECT_GT(n.w, 0.98);
  EXPECT_GT(n.p, 0.5);
  EXPECT_LT(m.w, 0.8);
  EXPECT_LT(m.p, 1e-6);
  EXPECT_LT(u.p, 0.01);  // a uniform sample of 100 is detectably not normal
  EXPECT_GT(u.w, 0.9);
}

TEST(ShapiroWilk, SmallAndDegenerateSamples) {
  EXPECT_FALSE(shapiro_wilk(std::vector<double>{1, 2}).valid);
  EXPECT_FALSE(shapiro_wilk(std::vector<double>(10, 5.0)).valid);
  auto r3 = shapiro_wilk(std::vector<double>{1, 2, 3});
  EXPECT_TRUE(r3.valid);
  EXPECT_NEAR(r3.w, 1.0, 1e-9);
  auto r5 = shapiro_wilk(std::vector<double>{1, 2, 3, 4, 100});
  EXPECT_LT(r5.w, 0.7);
  EXPECT_LT(r5.p, 0.01);
}

}  // namespace
}  // namespace dg::detectors
