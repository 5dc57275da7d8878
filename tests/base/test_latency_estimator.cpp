// Latency estimator: profiled table, calibrated by measured latencies.
#include <cmath>
#include <random>

#include "legodnn/runtime/latency_estimator.h"
#include "legodnn/util/error.h"
#include "test_util.h"

using namespace legodnn;

namespace {
ModelChoiceSpec two_blocks() {
  ModelChoiceSpec m;
  m.name = "r";
  m.accuracy = 0.9;
  m.frame_ms = 0.2;
  m.blocks = {{{0, 1.0, 100}, {0.01, 0.5, 50}}, {{0, 1.0, 100}, {0.02, 0.4, 40}}};
  return m;
}
}  // namespace

TEST(LatencyEstimator, StartsFromTheProfileAndFollowsASlowdown) {
  LatencyEstimator est(two_blocks(), 0.3);
  EXPECT_DOUBLE_EQ(est.estimate_ms({0, 0}), 2.2);
  EXPECT_DOUBLE_EQ(est.estimate_ms({1, 1}), 1.1);
  // Another process halves our speed: measurements of varying compositions, 2x the profile, with
  // 5% noise. The ratio must settle near 2 and estimates follow.
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> noise(0.95, 1.05);
  for (int k = 0; k < 30; ++k) {
    std::vector<int> c{static_cast<int>(rng() % 2), static_cast<int>(rng() % 2)};
    est.observe(c, 2.0 * est.profiled_ms(c) * noise(rng));
  }
  EXPECT_NEAR(est.ratio(), 2.0, 0.1);
  EXPECT_NEAR(est.estimate_ms({1, 0}), 2.0 * 1.7, 0.2);
  EXPECT_NEAR(est.calibrated().blocks[1][1].latency_ms, 0.8, 0.05);
  // The load goes away: the estimate comes back.
  for (int k = 0; k < 30; ++k) est.observe({0, 0}, 2.2);
  EXPECT_NEAR(est.ratio(), 1.0, 1e-3);
}

TEST(LatencyEstimator, CalibratedCostsChangeTheOptimizersChoice) {
  ModelChoiceSpec m = two_blocks();
  m.deadline_ms = 2.3;
  LatencyEstimator est(m);
  EXPECT_EQ(optimize({est.calibrated()}, {}).choice[0], (std::vector<int>{0, 0}));
  est.observe({0, 0}, 3.3);  // 1.5x slower: the originals no longer meet the deadline
  auto d = optimize({est.calibrated()}, {});
  EXPECT_TRUE(d.feasible);
  EXPECT_NE(d.choice[0], (std::vector<int>{0, 0}));
  EXPECT_LE(est.estimate_ms(d.choice[0]), 2.3 + 1e-9);
}

TEST(LatencyEstimator, BadReadingsAreIgnoredAndBadChoicesRefused) {
  LatencyEstimator est(two_blocks());
  est.observe({0, 0}, std::nan(""));
  est.observe({0, 0}, -1);
  est.observe({0, 0}, INFINITY);
  EXPECT_EQ(est.ignored(), 3);
  EXPECT_EQ(est.observations(), 0);
  EXPECT_DOUBLE_EQ(est.ratio(), 1.0);
  EXPECT_THROWS_WITH(est.estimate_ms({0}), OptionError, "needs 2 options, got 1");
  EXPECT_THROWS_WITH(est.estimate_ms({0, 2}), OptionError, "block 1 has no option 2");
  EXPECT_THROWS_WITH(LatencyEstimator(two_blocks(), 0.0), OptionError, "alpha must be in (0, 1]");
}
