// The CBC backend against the built-in optimizer (all instances) and brute force (small ones).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "legodnn/runtime/cbc_solver.h"
#include "legodnn/runtime/optimizer.h"
#include "legodnn/runtime/solve.h"
#include "legodnn/util/error.h"
#include "optimizer_instances.h"
#include "test_util.h"

using namespace legodnn;
using namespace legodnn::testing;

namespace {

// What optimize() minimizes when nothing fits: the summed relative excess plus 1e-6 times the
// weighted accuracy loss.
double least_violation_cost(const Instance& in, const ScalingDecision& d) {
  double loss = 0;
  for (size_t m = 0; m < in.models.size(); ++m) loss += in.models[m].weight * (in.models[m].accuracy - d.accuracy[m]);
  return total_excess(in, d) + 1e-6 * loss;
}

// The budgets raised to the least each can be brought to (fastest and smallest options).
Instance raised_budgets(const Instance& in) {
  Instance r = in;
  double bytes = 0, share = 0;
  for (auto& m : r.models) {
    double ms = m.frame_ms, by = m.frame_bytes;
    for (const auto& b : m.blocks) {
      double lo_ms = 1e300, lo_by = 1e300;
      for (const auto& o : b) {
        lo_ms = std::min(lo_ms, o.latency_ms);
        lo_by = std::min(lo_by, o.bytes);
      }
      ms += lo_ms;
      by += lo_by;
    }
    m.deadline_ms = std::max(m.deadline_ms, ms);
    bytes += by;
    share += m.rate_hz * ms / 1000;
  }
  r.budget.memory_bytes = std::max(r.budget.memory_bytes, bytes);
  if (r.budget.processor_share && share > 1)
    for (auto& m : r.models) m.rate_hz /= share;
  return r;
}

double compositions(const Instance& in) {
  double n = 1;
  for (const auto& m : in.models)
    for (const auto& b : m.blocks) n *= static_cast<double>(b.size());
  return n;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST(Cbc, AgreesWithBuiltinAndBruteForceOnRandomInstances) {
  std::mt19937_64 rng(77);
  int feasible = 0, infeasible = 0, raised = 0, brute = 0, maxmin = 0, share = 0;
  double builtin_s = 0, cbc_s = 0;
  for (int k = 0; k < 500; ++k) {
    Instance in = random_instance(rng, 6, 12, 6, 3, 2);  // 1-6 models, 3-12 blocks, 2-6 options
    auto t0 = std::chrono::steady_clock::now();
    auto d = optimize(in.models, in.budget, in.objective);
    builtin_s += seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    auto c = optimize_cbc(in.models, in.budget, in.objective);
    cbc_s += seconds_since(t0);
    maxmin += in.objective == Objective::MaxMin;
    share += in.budget.processor_share;

    ASSERT_EQ(c.feasible, d.feasible) << "instance " << k;
    // CBC's figures are those of its choice, and its verdict holds for that choice.
    auto again = evaluate_choice(in.models, in.budget, c.choice, in.objective);
    EXPECT_EQ(again.objective, c.objective) << "instance " << k;
    if (c.feasible) {
      ++feasible;
      EXPECT_TRUE(again.feasible) << "instance " << k;
      EXPECT_NEAR(c.objective, d.objective, 1e-9) << "instance " << k;
    } else {
      ++infeasible;
      EXPECT_NEAR(total_excess(in, c), total_excess(in, d), 1e-9) << "instance " << k;
      // Ties in the least excess: the objective decides when the budgets raised to their least
      // values admit a selection, else the 1e-6 weighted accuracy loss.
      Instance r = raised_budgets(in);
      if (optimize(r.models, r.budget, r.objective).feasible) {
        ++raised;
        EXPECT_NEAR(c.objective, d.objective, 1e-9) << "instance " << k;
      } else {
        EXPECT_NEAR(least_violation_cost(in, c), least_violation_cost(in, d), 1e-9) << "instance " << k;
      }
    }
    if (compositions(in) <= 20000) {
      ++brute;
      auto b = brute_force(in);
      ASSERT_EQ(b.feasible, c.feasible) << "instance " << k;
      if (b.feasible) EXPECT_NEAR(c.objective, b.best, 1e-9) << "instance " << k;
      else EXPECT_NEAR(total_excess(in, c), b.least_excess, 1e-5 + 1e-6 * b.least_excess) << "instance " << k;
    }
  }
  std::printf("[          ] %d feasible, %d infeasible (%d within the raised budgets), %d max-min, %d with processor "
              "share, %d also by brute force; built-in %.2f s, CBC %.2f s in all\n",
              feasible, infeasible, raised, maxmin, share, brute, builtin_s, cbc_s);
  EXPECT_GT(feasible, 100);
  EXPECT_GT(infeasible, 100);
  EXPECT_GT(brute, 20);
}

TEST(Cbc, BothSolversAgreeWithBruteForceOnSmallInstances) {
  std::mt19937_64 rng(78);
  int feasible = 0, infeasible = 0;
  for (int k = 0; k < 300; ++k) {
    Instance in = random_instance(rng, 3, 4, 4, 1, 1);
    auto b = brute_force(in);
    for (const auto& d : {optimize_cbc(in.models, in.budget, in.objective), optimize(in.models, in.budget, in.objective)}) {
      ASSERT_EQ(d.feasible, b.feasible) << "instance " << k;
      if (b.feasible) EXPECT_NEAR(d.objective, b.best, 1e-9) << "instance " << k;
      else EXPECT_NEAR(total_excess(in, d), b.least_excess, 1e-5 + 1e-6 * b.least_excess) << "instance " << k;
    }
    (b.feasible ? feasible : infeasible) += 1;
  }
  EXPECT_GT(feasible, 50);
  EXPECT_GT(infeasible, 50);
}

TEST(Cbc, TightMemoryPicksTheCheapestPruningAndReportsExcess) {
  ModelChoiceSpec m;
  m.name = "r";
  m.accuracy = 0.9;
  m.blocks = {{{0, 1, 100}, {0.01, 0.5, 50}}, {{0, 1, 100}, {0.05, 0.5, 50}}};
  auto d = optimize_cbc({m}, {});
  EXPECT_TRUE(d.feasible);
  EXPECT_EQ(d.choice[0], (std::vector<int>{0, 0}));
  SharedBudget tight;
  tight.memory_bytes = 150;
  d = optimize_cbc({m}, tight);
  EXPECT_TRUE(d.feasible);
  EXPECT_EQ(d.choice[0], (std::vector<int>{1, 0}));
  EXPECT_NEAR(d.accuracy[0], 0.89, 1e-12);
  tight.memory_bytes = 50;
  d = optimize_cbc({m}, tight);
  EXPECT_FALSE(d.feasible);
  EXPECT_EQ(d.choice[0], (std::vector<int>{1, 1}));
  EXPECT_DOUBLE_EQ(d.memory_excess_bytes, 50);
}

TEST(Cbc, ASelectionOverBudgetByLessThanCbcsToleranceIsRejected) {
  // Option 0 exceeds the memory budget by 1.5e-9 of it: more than evaluate_choice() allows (1e-9),
  // less than CBC's own tolerance on the scaled row. The answer must be option 1.
  ModelChoiceSpec m;
  m.name = "edge";
  m.accuracy = 0.9;
  m.blocks = {{{0, 1, 100 * (1 + 1.5e-9)}, {0.1, 1, 50}}};
  SharedBudget b;
  b.memory_bytes = 100;
  for (Objective o : {Objective::Sum, Objective::MaxMin}) {
    auto d = optimize_cbc({m}, b, o);
    EXPECT_TRUE(d.feasible);
    EXPECT_EQ(d.choice[0], (std::vector<int>{1}));
    EXPECT_EQ(optimize({m}, b, o).choice[0], (std::vector<int>{1}));
  }
}

TEST(Cbc, MaxMinRaisesTheWorstModel) {
  // Two models share 300 bytes; each block's small option costs accuracy. Sum picks by weight,
  // max-min keeps the two models level.
  ModelChoiceSpec a, b;
  a.name = "a";
  a.accuracy = 0.9;
  a.blocks = {{{0, 1, 100}, {0.02, 1, 50}}, {{0, 1, 100}, {0.02, 1, 50}}};
  b = a;
  b.name = "b";
  b.accuracy = 0.8;
  SharedBudget budget;
  budget.memory_bytes = 300;
  auto d = optimize_cbc({a, b}, budget, Objective::MaxMin);
  ASSERT_TRUE(d.feasible);
  EXPECT_NEAR(d.objective, 0.8, 1e-12);  // b keeps both originals, a gives up both
  EXPECT_NEAR(d.accuracy[0], 0.86, 1e-12);
  EXPECT_NEAR(optimize({a, b}, budget, Objective::MaxMin).objective, d.objective, 1e-12);
}

TEST(Cbc, SolveDispatchesOnTheSolver) {
  ModelChoiceSpec m;
  m.name = "r";
  m.accuracy = 0.9;
  m.blocks = {{{0, 1, 100}, {0.01, 0.5, 50}}};
  SharedBudget b;
  b.memory_bytes = 60;
  for (Solver s : {Solver::Builtin, Solver::Cbc}) {
    auto d = solve({m}, b, Objective::Sum, s);
    EXPECT_TRUE(d.feasible) << solver_name(s);
    EXPECT_EQ(d.choice[0], (std::vector<int>{1})) << solver_name(s);
  }
  EXPECT_EQ(parse_solver("cbc"), Solver::Cbc);
  EXPECT_EQ(parse_solver("builtin"), Solver::Builtin);
  EXPECT_THROWS_WITH(parse_solver("glpk"), OptionError, "solver must be 'builtin' or 'cbc', got 'glpk'");
}

TEST(Cbc, BadInputsGetTheSameErrorsAsTheBuiltin) {
  ModelChoiceSpec m;
  m.name = "r";
  m.blocks = {{{0, 1, 1}}};
  SharedBudget b;
  b.memory_bytes = std::nan("");
  EXPECT_THROWS_WITH(optimize_cbc({m}, b), OptionError, "memory budget must be a non-negative number");
  b.memory_bytes = -1;
  EXPECT_THROWS_WITH(optimize_cbc({m}, b), OptionError, "memory budget");
  auto bad = m;
  bad.deadline_ms = std::nan("");
  EXPECT_THROWS_WITH(optimize_cbc({bad}, {}), OptionError, "model 'r': deadline must be");
  bad = m;
  bad.blocks.clear();
  EXPECT_THROWS_WITH(optimize_cbc({bad}, {}), OptionError, "model 'r' has no blocks");
  bad = m;
  bad.blocks[0].clear();
  EXPECT_THROWS_WITH(optimize_cbc({bad}, {}), OptionError, "model 'r': block 0 has no options");
  bad = m;
  bad.blocks[0][0].bytes = -5;
  EXPECT_THROWS_WITH(optimize_cbc({bad}, {}), OptionError, "block 0 option 0: bytes");
  bad = m;
  bad.weight = std::nan("");
  EXPECT_THROWS_WITH(optimize_cbc({bad}, {}), OptionError, "model 'r': weight");
  EXPECT_THROWS_WITH(optimize_cbc({}, {}), OptionError, "at least one model");
}
