#include <gtest/gtest.h>

#include "stars/train/loop_sampler.hpp"

namespace stars {
namespace {

struct Draws {
  int lo = 1 << 30, hi = -1;
  double mean = 0;
};

Draws draw(const LoopsConfig& c, int n, std::uint64_t seed = 1) {
  Draws d;
  for (int s = 0; s < n; ++s) {
    const int t = sample_loops(c, seed, static_cast<std::uint64_t>(s));
    d.lo = std::min(d.lo, t), d.hi = std::max(d.hi, t), d.mean += t;
  }
  d.mean /= n;
  return d;
}

TEST(LoopSampler, FixedAlwaysReturnsN) {
  LoopsConfig c;
  c.sampler = SamplerKind::fixed;
  c.n = 7;
  const auto d = draw(c, 100);
  EXPECT_EQ(d.lo, 7);
  EXPECT_EQ(d.hi, 7);
}

TEST(LoopSampler, UniformCoversRangeWithItsMean) {
  LoopsConfig c;
  c.sampler = SamplerKind::uniform;
  c.min = 3;
  c.max = 9;
  const auto d = draw(c, 20000);
  EXPECT_EQ(d.lo, 3);
  EXPECT_EQ(d.hi, 9);
  EXPECT_NEAR(d.mean, 6.0, 0.05);
}

TEST(LoopSampler, PoissonIsClampedAndHasItsMean) {
  LoopsConfig c;
  c.sampler = SamplerKind::poisson;
  c.lambda = 4.0;
  c.min = 2;
  c.max = 7;
  const auto d = draw(c, 20000);
  EXPECT_EQ(d.lo, 2);
  EXPECT_EQ(d.hi, 7);
  EXPECT_NEAR(d.mean, expected_loops(c), 0.05);
  c.min = 0, c.max = 1000;
  EXPECT_NEAR(draw(c, 20000).mean, 4.0, 0.06);
}

TEST(LoopSampler, LognormalStarsDistribution) {
  LoopsConfig c;  // mu 2.0, sigma 0.7, [1, 100]
  const auto d = draw(c, 40000);
  EXPECT_GE(d.lo, 1);
  EXPECT_LE(d.hi, 100);
  EXPECT_GT(d.hi, 40);  // the tail is really sampled
  EXPECT_NEAR(expected_loops(c), std::exp(2.0 + 0.5 * 0.49), 0.1);
  EXPECT_NEAR(d.mean, expected_loops(c), 0.15);
  c.max = 10;
  EXPECT_EQ(draw(c, 2000).hi, 10);
}

TEST(LoopSampler, DrawsDependOnlyOnSeedAndStep) {
  LoopsConfig c;
  int same = 0, differ = 0;
  for (std::uint64_t s = 0; s < 200; ++s) {
    same += sample_loops(c, 5, s) == sample_loops(c, 5, s);
    differ += sample_loops(c, 5, s) != sample_loops(c, 6, s);
  }
  EXPECT_EQ(same, 200);
  EXPECT_GT(differ, 100);
}

}  // namespace
}  // namespace stars
