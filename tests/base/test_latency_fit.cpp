// Build stage "latency": per-descendant latencies fitted to timed compositions (latency_fit.h).
#include <cmath>
#include <random>
#include <set>

#include "legodnn/profile/latency_fit.h"
#include "legodnn/util/error.h"
#include "test_util.h"

using namespace legodnn;

namespace {

// True block latencies: block i's original costs 0.1 + 0.02 i ms, descendant j saves 12% of it
// per step. Timed alone, the savings look half as large, with noise that breaks monotonicity.
struct Synthetic {
  std::vector<std::vector<double>> truth, alone;
};

Synthetic synthetic(int blocks, int descendants, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, 0.004);
  Synthetic s;
  for (int i = 0; i < blocks; ++i) {
    std::vector<double> t, a;
    const double t0 = 0.1 + 0.02 * i;
    for (int j = 0; j < descendants; ++j) {
      t.push_back(t0 * (1 - 0.12 * j));
      a.push_back(j == 0 ? t0 + 0.01 : t0 + 0.01 - 0.5 * 0.12 * j * t0 + noise(rng));
    }
    s.truth.push_back(t);
    s.alone.push_back(a);
  }
  return s;
}

std::vector<LatencyObservation> timed(const std::vector<std::vector<double>>& truth,
                                      const std::vector<std::vector<int>>& choices, double sd, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, sd);
  std::vector<LatencyObservation> obs;
  for (const auto& c : choices) obs.push_back({c, summed_saving_ms(truth, c) + noise(rng), sd});
  return obs;
}

}  // namespace

TEST(LatencyFit, FittedSavingsPredictUnseenCompositionsFarBetterThanTheAloneTimes) {
  const int nb = 8, nd = 4;
  Synthetic s = synthetic(nb, nd, 1);
  std::vector<int> per(nb, nd);
  auto train = latency_compositions(per, 60, 2);
  auto test = latency_compositions(per, 200, 3);
  auto fitted = fit_block_latencies(s.alone, timed(s.truth, train, 0.01, 4));
  auto held_out = timed(s.truth, test, 0.0, 5);  // exact: the error is the model's alone
  auto before = latency_fit_error(s.alone, held_out);
  auto after = latency_fit_error(fitted, held_out);
  EXPECT_EQ(after.count, static_cast<int>(test.size()));
  EXPECT_GT(before.mean_abs_ms, 0.05);
  EXPECT_LT(after.mean_abs_ms, 0.25 * before.mean_abs_ms);
  EXPECT_LT(after.max_abs_ms, before.max_abs_ms);
  for (int i = 0; i < nb; ++i) {
    EXPECT_EQ(fitted[i][0], s.alone[i][0]) << "the original block keeps its alone time (the frame is fitted to it)";
    for (int j = 1; j < nd; ++j) EXPECT_LE(fitted[i][j], fitted[i][j - 1]) << "block " << i << " descendant " << j;
  }
}

TEST(LatencyFit, WithoutObservationsTheAloneTimesStayButBecomeMonotone) {
  std::vector<std::vector<double>> alone{{0.10, 0.11, 0.07, 0.08}, {0.2, 0.15}};
  auto f = fit_block_latencies(alone, {});
  ASSERT_EQ(f.size(), 2u);
  EXPECT_NEAR(f[0][0], 0.10, 1e-12);
  EXPECT_NEAR(f[0][1], 0.10, 1e-9);  // slower than its original when timed alone: no saving
  EXPECT_NEAR(f[0][2], 0.07, 1e-9);
  EXPECT_NEAR(f[0][3], 0.07, 1e-9);  // never slower than a denser descendant
  EXPECT_NEAR(f[1][1], 0.15, 1e-9);
}

TEST(LatencyFit, ASavingLargerThanTheBlockStopsAtTheFloor) {
  std::vector<std::vector<double>> alone{{0.1, 0.09}};
  std::vector<LatencyObservation> obs{{{1}, 0.5, 0.0001}};  // timing noise claims 0.5 ms saved
  LatencyFitOptions o;
  o.prior_sd_ms = 10;  // the observation decides
  auto f = fit_block_latencies(alone, obs, o);
  EXPECT_NEAR(f[0][1], o.floor_fraction * 0.1, 1e-12);
}

TEST(LatencyFit, BadInputIsRefusedNamingTheComposition) {
  std::vector<std::vector<double>> alone{{0.1, 0.09}, {0.2, 0.1}};
  EXPECT_THROWS_WITH(fit_block_latencies(alone, {{{1}, 0.01, 0.001}}), OptionError, "composition 0 has 1 choices for 2 blocks");
  EXPECT_THROWS_WITH(fit_block_latencies(alone, {{{0, 2}, 0.01, 0.001}}), OptionError, "composition 0: block 1 choice 2 is out of range");
  EXPECT_THROWS_WITH(fit_block_latencies(alone, {{{0, 1}, NAN, 0.001}}), OptionError, "composition 0: saving and its error must be finite");
  EXPECT_THROWS_WITH(fit_block_latencies({{0.1, -1}}, {}), OptionError, "block 0: latency");
}

TEST(LatencyFit, CompositionsStartWithTheUniformOnesAndNeverRepeat) {
  auto c = latency_compositions({4, 2, 4}, 12, 7);
  ASSERT_EQ(c.size(), 12u);
  EXPECT_EQ(c[0], (std::vector<int>{1, 1, 1}));
  EXPECT_EQ(c[1], (std::vector<int>{2, 1, 2}));
  EXPECT_EQ(c[2], (std::vector<int>{3, 1, 3}));
  std::set<std::vector<int>> seen(c.begin(), c.end());
  EXPECT_EQ(seen.size(), c.size());
  EXPECT_EQ(seen.count({0, 0, 0}), 0u);
  // A small space: every composition but the teacher, then no more.
  EXPECT_EQ(latency_compositions({2, 2}, 50, 1).size(), 3u);
  EXPECT_EQ(latency_compositions({2, 2}, 50, 1), latency_compositions({2, 2}, 50, 1));
}
