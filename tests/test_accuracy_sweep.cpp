// Accuracy sweep: the refit makes the additive estimate right on the optimizer's picks of a
// synthetic non-additive accuracy function, fitted drops stay >= 0 and monotone, and the
// manifest's new section is optional and round-trips; on a tiny repository the whole stage runs.
#include <cmath>

#include <gtest/gtest.h>

#include "legodnn/data/fashion_mnist.h"
#include "legodnn/pipeline/calibrate.h"
#include "legodnn/profile/accuracy_sweep.h"
#include "legodnn/repository/repository.h"
#include "legodnn/runtime/from_repository.h"
#include "test_util.h"
#include "tiny_repository.h"

using namespace legodnn;
using legodnn::testing::TempDir;

namespace {

// Six blocks of four options: more sparsity, less memory and latency, more drop.
ModelChoiceSpec synthetic_spec() {
  ModelChoiceSpec s;
  s.name = "synthetic";
  s.accuracy = 0.9;
  s.frame_ms = 1;
  s.frame_bytes = 1000;
  for (int i = 0; i < 6; ++i) {
    std::vector<OptionCost> opts;
    for (int j = 0; j < 4; ++j)
      opts.push_back({0.004 * j * j * (1 + 0.3 * i) / 4.0, (4.0 - j) * (1 + 0.1 * i), 1000.0 * (4 - j) * (1 + 0.2 * (i % 3))});
    s.blocks.push_back(opts);
  }
  return s;
}

// Errors compound: the true drop grows with the square of the summed single-block drops.
double true_accuracy(const ModelChoiceSpec& s, const std::vector<int>& c) {
  double d = 0;
  for (size_t i = 0; i < c.size(); ++i) d += s.blocks[i][c[i]].drop;
  return s.accuracy - d - 4.0 * d * d;
}

void expect_non_negative_monotone(const std::vector<std::vector<double>>& x) {
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(x[i][0], 0.0) << "block " << i;
    for (size_t j = 1; j < x[i].size(); ++j) {
      EXPECT_GE(x[i][j], 0.0) << i << "," << j;
      EXPECT_GE(x[i][j], x[i][j - 1]) << i << "," << j;
    }
  }
}

}  // namespace

TEST(AccuracySweep, BudgetsRunFromLoosestToTightest) {
  ModelChoiceSpec s = synthetic_spec();
  auto b = sweep_budgets(s, 5);
  ASSERT_EQ(b.size(), 5u + 4u + 4u);
  auto picks = sweep_picks(s, b);
  ASSERT_FALSE(picks.empty());
  EXPECT_EQ(picks.front(), std::vector<int>(6, 0));  // loosest: the teacher
  // The tightest memory admits only the smallest composition.
  SharedBudget sb;
  sb.memory_bytes = b[4].memory_bytes;
  EXPECT_EQ(optimize({s}, sb).choice[0], std::vector<int>(6, 3));
}

TEST(AccuracySweep, RefitReducesTheErrorOnTheOptimizersPicks) {
  ModelChoiceSpec s = synthetic_spec();
  int calls = 0;
  MeasureFn measure = [&](const std::vector<int>& c) {
    ++calls;
    return CompositionAccuracy{true_accuracy(s, c), 0.001};
  };
  SweepOptions o;
  o.points = 6;
  o.rounds = 5;
  o.tolerance = 0.002;
  SweepResult r = run_accuracy_sweep(s, s.accuracy, measure, o);
  EXPECT_EQ(calls, static_cast<int>(r.compositions.size()));  // each composition measured once
  EXPECT_GT(r.before.max_abs, 0.02);                           // additive is far off in the corner
  EXPECT_LT(r.after.max_abs, 0.5 * r.before.max_abs);
  EXPECT_LT(r.after.mean_abs, 0.5 * r.before.mean_abs);
  EXPECT_LT(r.after.max_abs, 0.006);
  EXPECT_GE(r.rounds, 1);
  expect_non_negative_monotone(r.drops);
  // Estimates recorded per composition agree with the drops.
  for (const auto& c : r.compositions) {
    EXPECT_NEAR(c.estimated_after, s.accuracy - summed_drop(r.drops, c.choice), 1e-12);
    EXPECT_NEAR(c.measured, true_accuracy(s, c.choice), 1e-12);
  }
}

TEST(AccuracySweep, FittedDropsStayNonNegativeAndMonotone) {
  std::vector<std::vector<double>> prior{{0, 0.01, 0.02, 0.05}, {0, 0.0, 0.01, 0.01}};
  // Measurements that ask for a negative drop and for less drop at more sparsity.
  std::vector<DropObservation> obs{{{1, 0}, -0.03, 0.001}, {{3, 0}, 0.0, 0.001}, {{0, 3}, -0.02, 0.001},
                                   {{2, 2}, 0.08, 0.001}};
  SweepOptions o;
  o.prior_sd = 0.05;
  auto x = fit_drops(prior, obs, o);
  expect_non_negative_monotone(x);
  EXPECT_EQ(x[0][1], 0.0);  // pushed below zero, held at zero
  // Without observations the prior comes back.
  auto same = fit_drops(prior, {}, o);
  for (size_t i = 0; i < prior.size(); ++i)
    for (size_t j = 0; j < prior[i].size(); ++j) EXPECT_NEAR(same[i][j], prior[i][j], 1e-12);
}

TEST(AccuracySweep, ManifestWithoutTheSectionLoadsWithProfiledDrops) {
  TempDir tmp;
  Manifest m = legodnn::testing::write_tiny_repository(tmp.path, {0.0, 0.5});
  nlohmann::json j = manifest_to_json(m);
  EXPECT_FALSE(j.contains("accuracy_sweep"));  // written only when a sweep ran
  for (auto& b : j["blocks"])
    for (auto& d : b["descendants"]) {
      d["profile"]["acc_drop"] = 0.03;
      d["profile"].erase("acc_drop_profiled");  // as before the sweep existed
    }
  Manifest back = parse_manifest(j, "manifest.json");
  EXPECT_TRUE(back.accuracy_sweep.empty());
  for (const auto& b : back.blocks)
    for (const auto& d : b.descendants) EXPECT_EQ(d.profile.acc_drop_profiled, 0.03);
}

TEST(AccuracySweep, ManifestWithTheSectionRoundTrips) {
  TempDir tmp;
  Manifest m = legodnn::testing::write_tiny_repository(tmp.path, {0.0, 0.5});
  m.blocks[0].descendants[1].profile.acc_drop = 0.04;
  m.blocks[0].descendants[1].profile.acc_drop_profiled = 0.01;
  m.accuracy_sweep = {{"compositions", {{{"choice", {1, 0}}, {"measured_val", 0.5}}}},
                      {"error", {{"test", {{"after", {{"max_abs_error", 0.004}}}}}}}};
  write_manifest(tmp.path, m);
  Manifest back = Repository::open(tmp.path).manifest();
  EXPECT_EQ(back.accuracy_sweep, m.accuracy_sweep);
  EXPECT_EQ(back.blocks[0].descendants[1].profile.acc_drop, 0.04);
  EXPECT_EQ(back.blocks[0].descendants[1].profile.acc_drop_profiled, 0.01);
  EXPECT_EQ(manifest_to_json(back), manifest_to_json(m));
}

TEST(AccuracySweep, CalibrateRewritesATinyRepository) {
  TempDir tmp;
  Manifest m = legodnn::testing::write_tiny_repository(tmp.path, {0.0, 0.5, 0.75});
  // As profiling leaves it: latencies, drops, the teacher's accuracy.
  m.stages["profile"] = {{"seconds", 0}};
  m.profile = {{"teacher_test_accuracy", 0.5}, {"latency", {{"frame_ms", 0.1}}}};
  for (auto& b : m.blocks)
    for (size_t j = 0; j < b.descendants.size(); ++j) {
      b.descendants[j].profile.latency_ms = 1.0 - 0.3 * j;
      b.descendants[j].profile.acc_drop = b.descendants[j].profile.acc_drop_profiled = 0.01 * j;
    }
  write_manifest(tmp.path, m);
  Split data = load_fashion_mnist_test();
  CalibrateOptions o;
  o.sweep.points = 3;
  o.sweep.rounds = 2;
  auto r = calibrate_repository(tmp.path, data.head(64), data.subset(64, 3), o);
  EXPECT_GT(r.measured_val, 1);
  EXPECT_GT(r.measured_test, 1);
  Manifest back = Repository::open(tmp.path).manifest();
  EXPECT_TRUE(back.stages.contains("sweep"));
  const auto& list = back.accuracy_sweep.at("compositions");
  EXPECT_EQ(list.size(), r.sweep.compositions.size());
  for (const auto& c : list) {
    EXPECT_EQ(c.at("choice").size(), m.blocks.size());
    EXPECT_TRUE(c.at("measured_val").is_number());
  }
  std::vector<std::vector<double>> drops;
  for (size_t i = 0; i < back.blocks.size(); ++i) {
    drops.emplace_back();
    for (size_t j = 0; j < back.blocks[i].descendants.size(); ++j) {
      const auto& p = back.blocks[i].descendants[j].profile;
      EXPECT_EQ(p.acc_drop_profiled, 0.01 * j);  // kept
      EXPECT_NEAR(p.acc_drop, r.sweep.drops[i][j], 1e-15);
      drops.back().push_back(p.acc_drop);
    }
  }
  expect_non_negative_monotone(drops);
  // The optimizer now sees the fitted drops.
  ModelChoiceSpec spec = choice_spec(back, tmp.path);
  EXPECT_NEAR(spec.blocks[0][2].drop, r.sweep.drops[0][2], 1e-15);
}
