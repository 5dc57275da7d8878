// Benchmark: solve time of the exact scaling optimizer on one model (9 blocks x 5 options) and
// five models (45 blocks), over budgets from loose to infeasible. Median and 90th percentile.
//   build/bench_optimizer [--reps R] [--five]
// The five-model case is opt-in: the current Pareto search takes seconds per solve there.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "legodnn/runtime/optimizer.h"

using namespace legodnn;

namespace {

// A model shaped like a profiled resnet20: 9 blocks, sparsities 0..0.8; latency and memory fall
// roughly linearly with sparsity, drops grow convexly, with per-block noise.
ModelChoiceSpec synthetic_model(std::mt19937_64& rng, int blocks, int options, const char* name) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  ModelChoiceSpec m;
  m.name = name;
  m.accuracy = 0.93;
  m.frame_ms = 0.3;
  m.frame_bytes = 20e3;
  m.rate_hz = 30;
  double full = m.frame_ms;
  for (int b = 0; b < blocks; ++b) {
    double lat = 0.2 + 0.3 * u(rng), bytes = 2e4 * (1 + 4 * u(rng)), sens = 0.002 + 0.03 * u(rng);
    std::vector<OptionCost> opts;
    for (int o = 0; o < options; ++o) {
      double s = 0.8 * o / std::max(1, options - 1);
      opts.push_back({sens * s * s * (0.8 + 0.4 * u(rng)), lat * (1 - 0.7 * s) * (0.95 + 0.1 * u(rng)),
                      bytes * (1 - s) * (1 - s) + 100});
    }
    full += opts[0].latency_ms;
    m.blocks.push_back(opts);
  }
  m.deadline_ms = full;
  return m;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
double p90(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() * 9 / 10];
}

void run(const char* what, std::vector<ModelChoiceSpec> models, int reps) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  double full_bytes = 0;
  for (const auto& m : models)
    for (const auto& b : m.blocks) full_bytes += b[0].bytes;
  std::vector<ModelChoiceSpec> base = models;
  std::vector<double> us;
  int feasible = 0;
  int64_t states = 0;
  for (int r = 0; r < reps; ++r) {
    // Each solve sees new budgets: deadlines 45%-110% of the unpruned latency, memory 30%-110%.
    for (size_t m = 0; m < models.size(); ++m) models[m].deadline_ms = base[m].deadline_ms * (0.45 + 0.65 * u(rng));
    SharedBudget b;
    b.memory_bytes = full_bytes * (0.3 + 0.8 * u(rng));
    auto t0 = std::chrono::steady_clock::now();
    auto d = optimize(models, b, Objective::Sum);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    feasible += d.feasible;
    states += d.states;
  }
  std::printf("%-34s median %9.1f us   p90 %9.1f us   (%d of %d feasible, %.0f Pareto states per solve)\n", what,
              median(us), p90(us), feasible, reps, static_cast<double>(states) / reps);
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 501;
  bool five_models = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) reps = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--five")) five_models = true;
  }
  std::mt19937_64 rng(1);
  run("1 model, 9 blocks x 5 options", {synthetic_model(rng, 9, 5, "a")}, reps);
  if (!five_models) return 0;
  std::vector<ModelChoiceSpec> five;
  for (const char* n : {"a", "b", "c", "d", "e"}) five.push_back(synthetic_model(rng, 9, 5, n));
  run("5 models, 45 blocks x 5 options", five, std::max(5, reps / 50));
  return 0;
}
