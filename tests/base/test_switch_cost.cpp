// Decisions that count the cost of switching: exact against brute force, and no oscillation under
// a noisy latency feed when planned with the miss-rate controller.
#include <cmath>
#include <random>

#include "legodnn/runtime/latency_estimator.h"
#include "legodnn/runtime/miss_rate.h"
#include "legodnn/runtime/switch_cost.h"
#include "legodnn/util/error.h"
#include "optimizer_instances.h"
#include "test_util.h"

using namespace legodnn;
using namespace legodnn::testing;

namespace {

// The charged objective of `x`, computed here from its definition (switch_cost.h), not with
// charge_switches: J(x) minus cost_per_mb per MB of every option that replaces a serving one.
double charged_objective(const Instance& in, const std::vector<std::vector<int>>& cur, const SwitchPolicy& p,
                         const std::vector<std::vector<int>>& x, const CachedOptions& cached = {}) {
  const ScalingDecision d = evaluate_choice(in.models, in.budget, x, in.objective);
  double sum = 0, mn = 1e300;
  for (size_t m = 0; m < in.models.size(); ++m) {
    double charge = 0;
    if (!cur[m].empty())
      for (size_t b = 0; b < x[m].size(); ++b)
        if (x[m][b] != cur[m][b]) {
          const bool hit = !cached.empty() && !cached[m].empty() && cached[m][b][x[m][b]];
          charge += (hit ? p.cached_fraction : 1.0) * p.cost_per_mb * in.models[m].blocks[b][x[m][b]].bytes / 1e6;
        }
    sum += in.models[m].weight * d.accuracy[m] - charge;
    mn = std::min(mn, d.accuracy[m] - charge);
  }
  return in.objective == Objective::Sum ? sum : mn;
}

std::vector<std::vector<int>> random_choice(std::mt19937_64& rng, const Instance& in, bool allow_empty) {
  std::vector<std::vector<int>> c(in.models.size());
  for (size_t m = 0; m < in.models.size(); ++m) {
    if (allow_empty && rng() % 4 == 0) continue;  // an arriving model
    for (const auto& b : in.models[m].blocks) c[m].push_back(static_cast<int>(rng() % b.size()));
  }
  return c;
}

}  // namespace

TEST(SwitchCost, DecisionsAreExactAgainstBruteForce) {
  std::mt19937_64 rng(77);
  int moved = 0, kept = 0, forced = 0;
  for (int k = 0; k < 1200; ++k) {
    Instance in = random_instance(rng, 3, 3, 3);
    // Half the time the serving selection is the optimum with one block moved: often within the
    // budgets, so that staying, moving and being forced to move all occur.
    auto cur = random_choice(rng, in, true);
    if (rng() % 2) {
      cur = optimize(in.models, in.budget, in.objective).choice;
      auto& c = cur[rng() % cur.size()];
      const size_t b = rng() % c.size();
      c[b] = static_cast<int>(rng() % in.models[&c - &cur[0]].blocks[b].size());
    }
    SwitchPolicy p;
    // Bytes are ~1e4 per option: prices from nothing to a few points per option.
    p.cost_per_mb = (rng() % 3) * 0.5 * std::uniform_real_distribution<double>(0, 1)(rng);
    p.hysteresis = (rng() % 2) * 0.02 * std::uniform_real_distribution<double>(0, 1)(rng);
    p.deadline_headroom = (rng() % 2) * 0.2 * std::uniform_real_distribution<double>(0, 1)(rng);
    p.cached_fraction = std::uniform_real_distribution<double>(0, 1)(rng);
    // Some models hold some options in their cache (cheaper to switch to), some no cache at all.
    CachedOptions cached(in.models.size());
    for (size_t m = 0; m < in.models.size(); ++m) {
      if (rng() % 3 == 0) continue;
      for (const auto& b : in.models[m].blocks) {
        cached[m].emplace_back();
        for (size_t o = 0; o < b.size(); ++o) cached[m].back().push_back(rng() % 2 == 0);
      }
    }
    const SwitchDecision sd = decide_switch(in.models, in.budget, in.objective, cur, p, cached);

    bool all_serving = true;
    for (const auto& c : cur) all_serving = all_serving && !c.empty();
    const bool stay_ok = all_serving && evaluate_choice(in.models, in.budget, cur, in.objective).feasible;
    // Brute force over every composition. Leaving a serving selection that meets the budgets
    // costs the hysteresis and must leave the deadline headroom; otherwise (forced) the
    // selections are chosen from those that leave the largest of the forced headrooms that any
    // selection leaves, else any within the budgets.
    auto shortened = [&](double h) {
      Instance t = in;
      for (auto& m : t.models) m.deadline_ms *= 1 - h;
      return t;
    };
    const Instance tight = shortened(p.deadline_headroom);
    const std::vector<double> levels = forced_headrooms(p);
    ASSERT_EQ(levels.front(), p.deadline_headroom);
    ASSERT_EQ(levels.back(), 0.0);
    Instance forced_tight = in;
    bool roomy_exists = false;
    for (double h : levels) {
      forced_tight = shortened(h);
      for_each_choice(in, [&](const std::vector<std::vector<int>>& x) {
        roomy_exists = roomy_exists || evaluate_choice(forced_tight.models, in.budget, x, in.objective).feasible;
      });
      if (roomy_exists) break;
    }
    bool feasible = false;
    double best = -1e300;
    for_each_choice(in, [&](const std::vector<std::vector<int>>& x) {
      const bool stay = stay_ok && x == cur;
      const Instance& need = stay_ok ? (stay ? in : tight) : (roomy_exists ? forced_tight : in);
      if (!evaluate_choice(need.models, in.budget, x, in.objective).feasible) return;
      feasible = true;
      const double v = charged_objective(in, cur, p, x, cached) - (stay_ok && !stay ? p.hysteresis : 0.0);
      best = std::max(best, v);
    });
    ASSERT_EQ(sd.decision.feasible, feasible) << "instance " << k;
    if (!feasible) continue;
    // The decision reaches the brute-force optimum of the stated objective, and reports it.
    const bool moved_voluntarily = stay_ok && sd.decision.choice != cur;
    const double got = charged_objective(in, cur, p, sd.decision.choice, cached) - (moved_voluntarily ? p.hysteresis : 0.0);
    EXPECT_NEAR(got, best, 1e-9) << "instance " << k;
    if (moved_voluntarily) {
      EXPECT_TRUE(evaluate_choice(tight.models, in.budget, sd.decision.choice, in.objective).feasible) << "instance " << k;
    }
    if (!stay_ok && roomy_exists) {
      EXPECT_TRUE(evaluate_choice(forced_tight.models, in.budget, sd.decision.choice, in.objective).feasible)
          << "instance " << k;
    }
    EXPECT_NEAR(sd.charged_objective, best, 1e-9) << "instance " << k;
    // Its estimates are the uncharged ones of the chosen selection.
    const auto plain = evaluate_choice(in.models, in.budget, sd.decision.choice, in.objective);
    EXPECT_NEAR(sd.decision.objective, plain.objective, 1e-12);
    EXPECT_EQ(sd.stays, sd.decision.choice == cur);
    if (sd.stays) ++kept;
    else if (stay_ok) ++moved;
    else ++forced;
  }
  // Every branch must be exercised for the comparison to mean anything.
  EXPECT_GT(kept, 20);
  EXPECT_GT(moved, 20);
  EXPECT_GT(forced, 20);
}

TEST(SwitchCost, ChargesOnlyReplacedOptionsAndRefusesBadInput) {
  ModelChoiceSpec m;
  m.name = "r";
  m.accuracy = 0.9;
  m.weight = 2;
  m.blocks = {{{0, 1, 1e6}, {0.01, 0.5, 5e5}}};
  SwitchPolicy p;
  p.cost_per_mb = 0.01;
  auto charged = charge_switches({m}, {{0}}, p, Objective::Sum);
  EXPECT_DOUBLE_EQ(charged[0].blocks[0][0].drop, 0);                   // serving: no charge
  EXPECT_DOUBLE_EQ(charged[0].blocks[0][1].drop, 0.01 + 0.01 * 0.5 / 2);  // half a MB, weight 2
  charged = charge_switches({m}, {{}}, p, Objective::Sum);  // arriving: loads anyway
  EXPECT_DOUBLE_EQ(charged[0].blocks[0][1].drop, 0.01);
  EXPECT_THROWS_WITH(charge_switches({m}, {{2}}, p, Objective::Sum), OptionError, "serving option 2 out of range");
  EXPECT_THROWS_WITH(charge_switches({m}, {{0, 0}}, p, Objective::Sum), OptionError, "2 entries for 1 blocks");
  // A cached option costs cached_fraction of its price.
  p.cached_fraction = 0.25;
  charged = charge_switches({m}, {{0}}, p, Objective::Sum, {{{false, true}}});
  EXPECT_DOUBLE_EQ(charged[0].blocks[0][1].drop, 0.01 + 0.25 * 0.01 * 0.5 / 2);
  EXPECT_THROWS_WITH(charge_switches({m}, {{0}}, p, Objective::Sum, {{{true}}}), OptionError,
                     "block 0: cache mask has 1 entries for 2 options");
  EXPECT_THROWS_WITH(charge_switches({m}, {{0}}, p, Objective::Sum, {{}, {}}), OptionError, "2 cache masks for 1 models");
  p.cached_fraction = 1.5;
  EXPECT_THROWS_WITH(charge_switches({m}, {{0}}, p, Objective::Sum), OptionError, "cached fraction");
  p.cached_fraction = 0.1;
  p.hysteresis = std::nan("");
  EXPECT_THROWS_WITH(charge_switches({m}, {{0}}, p, Objective::Sum), OptionError, "hysteresis");
}

// A model whose deadline sits between its two fastest compositions' latencies under a noisy load.
// Planned with the miss-rate controller's tail ratio and the hysteresis, the decision settles;
// planned with the last period's mean ratio and no switch cost, it flips back and forth.
TEST(SwitchCost, HysteresisHoldsUnderANoisyLatencyFeed) {
  ModelChoiceSpec m;
  m.name = "noisy";
  m.accuracy = 0.9;
  m.frame_ms = 0.1;
  // Three blocks, options: original, lighter, lightest.
  for (int b = 0; b < 3; ++b) m.blocks.push_back({{0.0, 1.0, 4e5}, {0.004, 0.8, 3e5}, {0.03, 0.5, 2e5}});
  m.deadline_ms = 2.9;  // original everywhere takes 3.1 ms at ratio 1

  auto run = [&](bool controlled) {
    std::mt19937_64 rng(5);
    std::lognormal_distribution<double> noise(0.0, 0.08);
    MissRateController ctl;
    LatencyEstimator est(m);
    SwitchPolicy policy;
    if (!controlled) policy.cost_per_mb = policy.hysteresis = policy.deadline_headroom = 0;
    std::vector<std::vector<int>> cur = {{}};
    double planning_at_solve = 1;
    int switches = 0;
    for (int step = 0; step < 300; ++step) {
      // One step: 30 inferences of the serving selection, then a decision.
      double mean_ratio = 0;
      if (!cur[0].empty()) {
        for (int i = 0; i < 30; ++i) {
          const double r = noise(rng);
          const double ms = est.profiled_ms(cur[0]) * r;
          ctl.observe(r, ms > m.deadline_ms);
          mean_ratio += r / 30;
        }
        ctl.update();
      }
      const double ratio = controlled ? ctl.planning_ratio() : (cur[0].empty() ? 1.0 : mean_ratio);
      // As the runner does: the controlled loop solves when a trigger says so, the naive one always.
      if (controlled && !cur[0].empty() &&
          replan_reason(est.profiled_ms(cur[0]), m.deadline_ms, ratio, planning_at_solve, 0.2) == Replan::None)
        continue;
      ModelChoiceSpec planned = with_latency_scale(m, ratio);
      planned.deadline_ms = m.deadline_ms;
      const SwitchDecision sd = decide_switch({planned}, {}, Objective::Sum, cur, policy);
      planning_at_solve = ratio;
      if (!cur[0].empty() && sd.decision.choice[0] != cur[0] && step >= 20) ++switches;
      cur[0] = sd.decision.choice[0];
    }
    return std::make_pair(switches, ctl.observed_miss_rate());
  };
  const auto [controlled_switches, controlled_misses] = run(true);
  const auto [naive_switches, naive_misses] = run(false);
  EXPECT_LE(controlled_switches, 2);  // a forced move when the tail grows, no back and forth
  EXPECT_GE(naive_switches, 20);  // the feed is noisy enough to make the naive loop oscillate
  EXPECT_LE(controlled_misses, 0.02);
  EXPECT_GT(naive_misses, controlled_misses);
}

// Nothing meets the deadline; the fastest option does not fit the memory budget. optimize()'s
// least summed excess takes it anyway (a little late plus a little over budget); the switch
// decision keeps within memory and takes the least-late option that fits.
TEST(SwitchCost, WhenNothingMeetsTheDeadlineMemoryStillHolds) {
  ModelChoiceSpec m;
  m.name = "late";
  m.accuracy = 0.9;
  m.deadline_ms = 0.3;
  m.blocks = {{{0.0, 1.0, 2e6}, {0.05, 0.5, 1e6}, {0.1, 0.4, 1.8e6}, {0.02, 0.7, 1.2e6}}};
  SharedBudget budget;
  budget.memory_bytes = 1.5e6;
  const ScalingDecision plain = optimize({m}, budget, Objective::Sum);
  ASSERT_FALSE(plain.feasible);
  ASSERT_EQ(plain.choice[0][0], 2) << "the premise: the least summed excess breaks the memory budget";
  SwitchPolicy p;
  for (const std::vector<std::vector<int>>& cur : {std::vector<std::vector<int>>{{}}, {{0}}}) {
    const SwitchDecision sd = decide_switch({m}, budget, Objective::Sum, cur, p);
    EXPECT_FALSE(sd.decision.feasible);
    EXPECT_EQ(sd.decision.choice[0][0], 1) << "the fastest option within 1.5 MB";
    EXPECT_EQ(sd.decision.memory_excess_bytes, 0);
  }
  // When even the smallest option breaks the memory budget, the least summed excess stands.
  budget.memory_bytes = 0.5e6;
  const SwitchDecision sd = decide_switch({m}, budget, Objective::Sum, {{}}, p);
  EXPECT_FALSE(sd.decision.feasible);
  EXPECT_EQ(sd.decision.choice, optimize({m}, budget, Objective::Sum).choice);
}

// Late whatever it serves: a move must cut the lateness by more than the late tolerance, or the
// selection would follow every tick of noise between nearly equal late selections; and a late
// model serves within the tolerance of its fastest selection, accuracy deciding only there.
TEST(SwitchCost, LateEitherWayMovesOnlyForAClearGain) {
  ModelChoiceSpec m;
  m.name = "late";
  m.accuracy = 0.9;
  m.deadline_ms = 0.3;
  // Serving option 0; option 1 is as accurate, a little less late.
  m.blocks = {{{0.01, 0.5, 1e3}, {0.0, 0.498, 1e3}}};
  SwitchPolicy p;  // late tolerance 1%: the lateness must fall by 0.01 deadlines
  SwitchDecision sd = decide_switch({m}, {}, Objective::Sum, {{0}}, p);
  EXPECT_TRUE(sd.stays) << sd.why;
  EXPECT_FALSE(sd.decision.feasible);
  EXPECT_NE(sd.why.find("less than the late tolerance"), std::string::npos) << sd.why;
  // Arriving, it takes the more accurate of the two (within the tolerance of the least lateness).
  m.blocks[0][1].drop = 0.05;
  sd = decide_switch({m}, {}, Objective::Sum, {{}}, p);
  EXPECT_EQ(sd.decision.choice[0][0], 0) << "0.4% less late is not worth 4 points";
  // 4% faster is: deadlines come first.
  m.blocks[0][1].latency_ms = 0.48;
  sd = decide_switch({m}, {}, Objective::Sum, {{}}, p);
  EXPECT_EQ(sd.decision.choice[0][0], 1);
  sd = decide_switch({m}, {}, Objective::Sum, {{0}}, p);
  EXPECT_FALSE(sd.stays) << sd.why;
  p.late_tolerance = 0.05;  // a user who would rather keep the accuracy
  sd = decide_switch({m}, {}, Objective::Sum, {{}}, p);
  EXPECT_EQ(sd.decision.choice[0][0], 0);
  m.blocks[0][1].drop = 0.0;
  m.blocks[0][1].latency_ms = 0.35;  // 0.17 deadlines late instead of 0.67
  sd = decide_switch({m}, {}, Objective::Sum, {{0}}, p);
  EXPECT_FALSE(sd.stays) << sd.why;
  EXPECT_EQ(sd.decision.choice[0][0], 1);
}

// A forced move that cannot leave the whole headroom leaves as much of it as it can, instead of
// landing right at the deadline with the most accurate selection.
TEST(SwitchCost, AForcedMoveLeavesWhatHeadroomItCan) {
  ModelChoiceSpec m;
  m.name = "tight";
  m.accuracy = 0.9;
  m.deadline_ms = 1.0;
  // Serving option 0 (late); option 1 meets the deadline at its edge, option 2 with 12% free,
  // nothing with the whole 15%.
  m.blocks = {{{0.0, 1.2, 1e3}, {0.01, 0.99, 1e3}, {0.03, 0.88, 1e3}}};
  SwitchPolicy p;
  ASSERT_EQ(p.deadline_headroom, 0.15);
  for (const std::vector<std::vector<int>>& cur : {std::vector<std::vector<int>>{{0}}, {{}}}) {
    const SwitchDecision sd = decide_switch({m}, {}, Objective::Sum, cur, p);
    EXPECT_TRUE(sd.decision.feasible);
    EXPECT_EQ(sd.decision.choice[0][0], 2) << "10% of the deadline left beats 1%";
  }
  // Where nothing leaves even a third of the headroom (5%), the deadline itself decides.
  m.blocks[0][2].latency_ms = 0.97;
  EXPECT_EQ(decide_switch({m}, {}, Objective::Sum, {{0}}, p).decision.choice[0][0], 1);
  // And without a headroom, only the deadline.
  m.blocks[0][2].latency_ms = 0.88;
  p.deadline_headroom = 0;
  EXPECT_EQ(forced_headrooms(p), std::vector<double>{0.0});
  EXPECT_EQ(decide_switch({m}, {}, Objective::Sum, {{0}}, p).decision.choice[0][0], 1);
}
