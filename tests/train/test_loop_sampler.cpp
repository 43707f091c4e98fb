#include <cmath>
#include <set>

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

TEST(LoopSampler, LoopsTiedToDifficultyGiveEachBatchOneDifficultyAndEnoughLoops) {
  LoopsConfig c;  // lognormal 2.0 / 0.7 in [1, 100]
  const DifficultyRange phase{2, 5};
  EXPECT_EQ(step_difficulty(c, phase, 7, 0).lo, 2);  // off: the whole phase range
  EXPECT_EQ(step_difficulty(c, phase, 7, 0).hi, 5);
  c.per_difficulty = 3.5;
  std::set<int> seen;
  for (std::uint64_t s = 0; s < 400; ++s) {
    const DifficultyRange batch = step_difficulty(c, phase, 7, s);
    ASSERT_EQ(batch.lo, batch.hi) << "step " << s;
    seen.insert(batch.hi);
    EXPECT_EQ(batch.hi, step_difficulty(c, phase, 7, s).hi);  // a resumed run draws the same
    const int drawn = sample_loops(c, 7, s);                  // the loop draw is untouched
    const int floor = static_cast<int>(std::ceil(3.5 * batch.hi));
    EXPECT_EQ(step_loops(c, batch, 7, s), std::max(drawn, floor)) << "step " << s;
  }
  EXPECT_EQ(seen, (std::set<int>{2, 3, 4, 5}));
  c.per_difficulty = 0;
  EXPECT_EQ(step_loops(c, {5, 5}, 7, 3), sample_loops(c, 7, 3));
}

}  // namespace
}  // namespace stars
