// The scaling optimizer against brute force on random instances, feasible and infeasible.
#include <cmath>
#include <functional>
#include <random>

#include "legodnn/runtime/optimizer.h"
#include "legodnn/util/error.h"
#include "optimizer_instances.h"
#include "test_util.h"

using namespace legodnn;

using namespace legodnn::testing;

TEST(Optimizer, MatchesBruteForceOnRandomInstances) {
  std::mt19937_64 rng(2024);
  int feasible = 0, infeasible = 0;
  for (int k = 0; k < 600; ++k) {
    Instance in = random_instance(rng, 3, 4, 4);
    auto d = optimize(in.models, in.budget, in.objective);
    auto b = brute_force(in);
    ASSERT_EQ(d.feasible, b.feasible) << "instance " << k;
    if (b.feasible) {
      ++feasible;
      EXPECT_NEAR(d.objective, b.best, 1e-9) << "instance " << k;
      // The reported figures are those of the returned choice.
      auto again = evaluate_choice(in.models, in.budget, d.choice, in.objective);
      EXPECT_TRUE(again.feasible);
      EXPECT_NEAR(again.objective, d.objective, 1e-12);
    } else {
      ++infeasible;
      EXPECT_NEAR(total_excess(in, d), b.least_excess, 1e-5 + 1e-6 * b.least_excess) << "instance " << k;
    }
  }
  // Both verdicts must be exercised for the comparison to mean anything.
  EXPECT_GT(feasible, 100);
  EXPECT_GT(infeasible, 100);
}

TEST(Optimizer, UnconstrainedPicksTheOriginalsAndTightMemoryPicksSmallerBlocks) {
  ModelChoiceSpec m;
  m.name = "r";
  m.accuracy = 0.9;
  m.blocks = {{{0, 1, 100}, {0.01, 0.5, 50}}, {{0, 1, 100}, {0.05, 0.5, 50}}};
  auto d = optimize({m}, {});
  EXPECT_TRUE(d.feasible);
  EXPECT_EQ(d.choice[0], (std::vector<int>{0, 0}));
  SharedBudget tight;
  tight.memory_bytes = 150;
  d = optimize({m}, tight);
  EXPECT_TRUE(d.feasible);
  EXPECT_EQ(d.choice[0], (std::vector<int>{1, 0}));  // the block whose pruning costs least
  EXPECT_NEAR(d.accuracy[0], 0.89, 1e-12);
  tight.memory_bytes = 50;  // nothing fits: the smallest selection, and by how much it exceeds
  d = optimize({m}, tight);
  EXPECT_FALSE(d.feasible);
  EXPECT_EQ(d.choice[0], (std::vector<int>{1, 1}));
  EXPECT_DOUBLE_EQ(d.memory_excess_bytes, 50);
}

TEST(Optimizer, BadInputsGetClearErrors) {
  ModelChoiceSpec m;
  m.name = "r";
  m.blocks = {{{0, 1, 1}}};
  SharedBudget b;
  b.memory_bytes = std::nan("");
  EXPECT_THROWS_WITH(optimize({m}, b), OptionError, "memory budget must be a non-negative number");
  b.memory_bytes = -1;
  EXPECT_THROWS_WITH(optimize({m}, b), OptionError, "memory budget");
  auto bad = m;
  bad.deadline_ms = -3;
  EXPECT_THROWS_WITH(optimize({bad}, {}), OptionError, "model 'r': deadline must be");
  bad = m;
  bad.blocks.clear();
  EXPECT_THROWS_WITH(optimize({bad}, {}), OptionError, "model 'r' has no blocks");
  bad = m;
  bad.blocks[0][0].latency_ms = std::nan("");
  EXPECT_THROWS_WITH(optimize({bad}, {}), OptionError, "block 0 option 0: latency");
  EXPECT_THROWS_WITH(optimize({}, {}), OptionError, "at least one model");
}

// A memory budget that the only selection meets only within the optimizer's relative tolerance
// (1e-9): the max-min search's per-model memory caps fall just below each model's bytes, and the
// selection found for the sum must still come back, feasible.
TEST(Optimizer, MaxMinKeepsASelectionThatFitsOnlyWithinTheTolerance) {
  ModelChoiceSpec a, b;
  a.name = "a";
  a.accuracy = 0.9;
  a.blocks = {{{0, 1, 1e6}}};
  b = a;
  b.name = "b";
  b.accuracy = 0.8;
  SharedBudget budget;
  budget.memory_bytes = 2e6 / (1 + 0.99e-9);
  auto d = optimize({a, b}, budget, Objective::MaxMin);
  EXPECT_TRUE(d.feasible);
  EXPECT_NEAR(d.objective, 0.8, 1e-12);
  EXPECT_EQ(d.choice, (std::vector<std::vector<int>>{{0}, {0}}));
}

// Costs on coarse binary grids (exact sums) and duplicated options: many partial selections tie
// exactly in cost, latency or bytes, which the Pareto filters must settle without losing the
// optimum.
TEST(Optimizer, MatchesBruteForceWithExactTies) {
  std::mt19937_64 rng(2026);
  int feasible = 0, infeasible = 0;
  for (int k = 0; k < 400; ++k) {
    Instance in = random_instance(rng, 3, 4, 4, 1, 2);
    for (auto& m : in.models)
      for (auto& b : m.blocks) {
        for (auto& o : b) {
          o.drop = std::round(o.drop * 256) / 256;
          o.latency_ms = std::round(o.latency_ms * 4) / 4;
          o.bytes = std::round(o.bytes / 4096) * 4096;
        }
        if (rng() % 3 == 0) b[1] = b[0];
      }
    auto d = optimize(in.models, in.budget, in.objective);
    auto b = brute_force(in);
    ASSERT_EQ(d.feasible, b.feasible) << "instance " << k;
    if (b.feasible) {
      ++feasible;
      EXPECT_NEAR(d.objective, b.best, 1e-9) << "instance " << k;
    } else {
      ++infeasible;
      EXPECT_NEAR(total_excess(in, d), b.least_excess, 1e-5 + 1e-6 * b.least_excess) << "instance " << k;
    }
  }
  EXPECT_GT(feasible, 50);
  EXPECT_GT(infeasible, 50);
}
