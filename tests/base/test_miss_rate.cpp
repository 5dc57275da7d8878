// The miss-rate controller (DESIGN.md section 12): the tail quantile of the recent latency ratios
// and an integral feedback on the observed misses, checked in closed loop on synthetic latencies.
#include <cmath>
#include <cstdint>
#include <random>

#include "legodnn/runtime/miss_rate.h"
#include "legodnn/util/error.h"
#include "test_util.h"

using namespace legodnn;

namespace {

// A standard normal from two uniforms (Box-Muller), so the stream is the same with any library.
double normal(std::mt19937_64& rng) {
  const double u1 = (static_cast<double>(rng() >> 11) + 0.5) / 9007199254740992.0;
  const double u2 = (static_cast<double>(rng() >> 11) + 0.5) / 9007199254740992.0;
  return std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

struct LoopResult {
  double miss_rate_second_half = 0;
  double min_feedback = 1e9, max_feedback = 0;
};

// Closed loop: each period the planner takes the largest profiled latency that fits the deadline
// under the planning ratio; every inference then takes profiled x load x lognormal noise x an
// overhead that grows as the model shrinks (so the ratio depends on the selection: model error).
LoopResult closed_loop(MissRateOptions o, uint64_t seed, int periods, int per_period, double sigma,
                       double load_after_half = 1.0) {
  MissRateController c(o);
  std::mt19937_64 rng(seed);
  const double deadline = 10;
  int64_t n = 0, misses = 0;
  LoopResult r;
  for (int p = 0; p < periods; ++p) {
    const double planned = deadline / c.planning_ratio();
    const double load = p >= periods / 2 ? load_after_half : 1.0;
    for (int i = 0; i < per_period; ++i) {
      const double ratio = 1.3 * load * std::exp(sigma * normal(rng)) * std::pow(planned / 5, -0.2);
      const bool missed = planned * ratio > deadline;
      c.observe(ratio, missed);
      if (p >= periods * 3 / 4 || (load_after_half == 1.0 && p >= periods / 2)) {
        ++n;
        misses += missed;
      }
    }
    c.update();
    if (p >= periods / 2) {
      r.min_feedback = std::min(r.min_feedback, c.feedback());
      r.max_feedback = std::max(r.max_feedback, c.feedback());
    }
  }
  r.miss_rate_second_half = static_cast<double>(misses) / n;
  return r;
}

}  // namespace

TEST(MissRate, QuantileOfTheRecentRatios) {
  MissRateOptions o;
  o.target = 0.01;
  o.window = 100;
  o.min_samples = 10;
  o.prior_ratio = 1.7;
  MissRateController c(o);
  EXPECT_DOUBLE_EQ(c.quantile_ratio(), 1.7) << "the prior holds before min_samples";
  for (int k = 1; k <= 100; ++k) c.observe(k, false);
  EXPECT_DOUBLE_EQ(c.quantile_ratio(), 99);  // 99 of 100 ratios are <= 99
  for (int k = 1; k <= 100; ++k) c.observe(1000 + k, false);  // the window forgets the old ones
  EXPECT_DOUBLE_EQ(c.quantile_ratio(), 1099);
  c.observe(std::nan(""), true);
  c.observe(-1, false);
  c.observe(INFINITY, false);
  EXPECT_DOUBLE_EQ(c.quantile_ratio(), 1099) << "bad readings do not enter the window";
  EXPECT_EQ(c.inferences(), 203);
}

TEST(MissRate, FeedbackMovesOnlyWithExceedancesAgainstTheTarget) {
  MissRateOptions o;
  o.target = 0.1;
  o.min_samples = 5;
  o.window = 10;
  MissRateController c(o);
  c.update();
  EXPECT_DOUBLE_EQ(c.feedback(), 1.0) << "no inferences, no change";
  EXPECT_DOUBLE_EQ(c.planning_ratio(), 1.0) << "the prior";
  // Planned with the prior: nothing for the feedback to correct, however many exceed it.
  for (int i = 0; i < 10; ++i) c.observe(1.5, false);
  c.update();
  EXPECT_DOUBLE_EQ(c.feedback(), 1.0);
  EXPECT_DOUBLE_EQ(c.planning_ratio(), 1.5) << "the quantile of the window";
  // Exactly the target: 1 ratio in 10 above the planning ratio. The model's own misses do not
  // move the feedback: a selection with slack misses nothing.
  for (int i = 0; i < 10; ++i) c.observe(i == 0 ? 2.0 : 1.0, i < 3);
  c.update();
  EXPECT_DOUBLE_EQ(c.feedback(), 1.0);
  EXPECT_EQ(c.exceedances(), 1 + 10);  // also those against the prior
  EXPECT_DOUBLE_EQ(c.observed_miss_rate(), 0.15);
  const double plan = c.planning_ratio();
  for (int i = 0; i < 10; ++i) c.observe(i < 5 ? 2 * plan : 1.0, false);
  c.update();
  EXPECT_GT(c.feedback(), 1.0) << "the tail outgrew the plan: plan with more room";
  const double up = c.feedback();
  for (int k = 0; k < 50; ++k) {
    for (int i = 0; i < 10; ++i) c.observe(0.5, true);
    c.update();
  }
  EXPECT_LT(c.feedback(), up) << "no exceedances for long: give the room back";
  EXPECT_GE(c.feedback(), o.min_feedback);
}

TEST(MissRate, FeedbackDoesNotWindDownOnSlack) {
  // A selection with slack: ratios near 1, the tail well below what the deadline allows. The
  // feedback settles instead of shrinking the plan until a slower selection would miss.
  MissRateController c;
  std::mt19937_64 rng(3);
  for (int p = 0; p < 200; ++p) {
    for (int i = 0; i < 30; ++i) c.observe(std::exp(0.05 * normal(rng)), false);
    c.update();
  }
  EXPECT_GT(c.feedback(), 0.9);
  EXPECT_LT(c.feedback(), 1.1);
  EXPECT_NEAR(c.planning_ratio(), c.quantile_ratio() * c.feedback(), 1e-12);
}

TEST(MissRate, ConvergesToTheTargetInClosedLoop) {
  for (double target : {0.01, 0.05}) {
    for (double sigma : {0.05, 0.15, 0.4}) {
      for (uint64_t seed : {1u, 2u, 3u}) {
        MissRateOptions o;
        o.target = target;
        auto r = closed_loop(o, seed, 1000, 30, sigma);
        EXPECT_GT(r.miss_rate_second_half, 0.6 * target) << "target " << target << " sigma " << sigma << " seed " << seed;
        EXPECT_LT(r.miss_rate_second_half, 1.5 * target) << "target " << target << " sigma " << sigma << " seed " << seed;
        // Settled, not oscillating between the bounds.
        EXPECT_LT(r.max_feedback / r.min_feedback, 1.6) << "target " << target << " sigma " << sigma;
      }
    }
  }
}

TEST(MissRate, RecoversAfterTheLoadChanges) {
  for (double load : {1.5, 0.7}) {
    MissRateOptions o;
    auto r = closed_loop(o, 7, 1200, 30, 0.15, load);
    EXPECT_GT(r.miss_rate_second_half, 0.004) << "load x" << load;
    EXPECT_LT(r.miss_rate_second_half, 0.016) << "load x" << load;
  }
}

TEST(MissRate, RefreshFollowsTheTailBetweenUpdatesWithoutMovingTheFeedback) {
  MissRateOptions o;
  o.min_samples = 10;
  o.window = 100;
  MissRateController c(o);
  for (int i = 0; i < 9; ++i) c.observe(1.2, false);
  c.refresh();
  EXPECT_DOUBLE_EQ(c.planning_ratio(), 1.0) << "the prior until min_samples ratios are in";
  c.observe(1.3, false);
  c.refresh();
  EXPECT_DOUBLE_EQ(c.planning_ratio(), 1.3) << "the 0.99 quantile of 10 ratios is their maximum";
  for (int i = 0; i < 80; ++i) c.observe(1.0, false);
  c.update();  // 90 inferences planned from measured ratios, none above the plan
  const double fb = c.feedback();
  // The load doubles in the middle of a period: the plan follows after a few inferences.
  for (int i = 0; i < 3; ++i) c.observe(2.0, true);
  c.refresh();
  EXPECT_DOUBLE_EQ(c.planning_ratio(), 2.0 * fb) << "3 of 93 ratios above the plan: they are the tail now";
  EXPECT_DOUBLE_EQ(c.feedback(), fb) << "only update() moves the feedback";
  EXPECT_EQ(c.exceedances(), 3 + 9 + 1);  // the first 10 exceeded the prior
}

TEST(MissRate, OptionsAreChecked) {
  MissRateOptions o;
  o.target = 0;
  EXPECT_THROWS_WITH(MissRateController{o}, OptionError, "target");
  o = {};
  o.window = 0;
  EXPECT_THROWS_WITH(MissRateController{o}, OptionError, "window");
  o = {};
  o.prior_ratio = NAN;
  EXPECT_THROWS_WITH(MissRateController{o}, OptionError, "prior_ratio");
}
