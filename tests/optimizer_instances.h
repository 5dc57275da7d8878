#pragma once
// Random instances of the scaling optimizer's problem and a brute-force reference, shared by the
// optimizer's tests and the CBC backend's.
#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "legodnn/runtime/optimizer.h"

namespace legodnn::testing {

struct Instance {
  std::vector<ModelChoiceSpec> models;
  SharedBudget budget;
  Objective objective = Objective::Sum;
};

// Options that look like profiled descendants: higher sparsity, lower latency and memory, larger
// drop, with noise so that dominance is not trivial. Blocks per model and options per block are
// drawn from [min, max].
inline Instance random_instance(std::mt19937_64& rng, int max_models, int max_blocks, int max_options,
                                int min_blocks = 1, int min_options = 1) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Instance in;
  int nm = 1 + rng() % max_models;
  double total_full_bytes = 0, total_full_share = 0;
  for (int m = 0; m < nm; ++m) {
    ModelChoiceSpec s;
    s.name = "m" + std::to_string(m);
    s.accuracy = 0.8 + 0.15 * u(rng);
    s.frame_ms = 0.2 * u(rng);
    s.frame_bytes = 1000 * u(rng);
    s.weight = 0.5 + u(rng);
    s.rate_hz = 10 + 100 * u(rng);
    int nb = min_blocks + static_cast<int>(rng() % (max_blocks - min_blocks + 1));
    double full_ms = s.frame_ms;
    for (int b = 0; b < nb; ++b) {
      int no = min_options + static_cast<int>(rng() % (max_options - min_options + 1));
      std::vector<OptionCost> opts;
      double lat = 0.5 + u(rng), bytes = 1e4 * (0.5 + u(rng)), drop = 0;
      for (int o = 0; o < no; ++o) {
        opts.push_back({drop, lat, bytes});
        drop += 0.02 * u(rng);
        lat *= 0.6 + 0.5 * u(rng);
        bytes *= 0.5 + 0.4 * u(rng);
      }
      full_ms += opts[0].latency_ms;
      total_full_bytes += opts[0].bytes;
      s.blocks.push_back(opts);
    }
    s.deadline_ms = full_ms * (0.45 + 1.0 * u(rng));  // some deadlines cannot be met
    total_full_share += s.rate_hz * full_ms / 1000;
    in.models.push_back(s);
  }
  in.budget.memory_bytes = total_full_bytes * (0.3 + 1.0 * u(rng));
  in.budget.processor_share = rng() % 2;
  if (in.budget.processor_share)
    for (auto& m : in.models) m.rate_hz *= (0.3 + 1.2 * u(rng)) / std::max(1e-9, total_full_share);
  in.objective = rng() % 2 ? Objective::Sum : Objective::MaxMin;
  return in;
}

inline double total_excess(const Instance& in, const ScalingDecision& d) {
  double t = 0;
  for (size_t m = 0; m < in.models.size(); ++m)
    if (std::isfinite(in.models[m].deadline_ms))
      t += d.deadline_excess_ms[m] / std::max(in.models[m].deadline_ms, 1e-9);
  t += d.memory_excess_bytes / std::max(in.budget.memory_bytes, 1e-9);
  t += d.share_excess;
  return t;
}

// Every composition of every model: the best feasible objective, or the least total excess.
struct Brute {
  bool feasible = false;
  double best = -1e300;
  double least_excess = 1e300;
};
// Calls f(choice) for every composition of every model.
inline void for_each_choice(const Instance& in, const std::function<void(const std::vector<std::vector<int>>&)>& f) {
  std::vector<std::vector<int>> choice(in.models.size());
  for (size_t m = 0; m < in.models.size(); ++m) choice[m].assign(in.models[m].blocks.size(), 0);
  std::function<void(size_t, size_t)> rec = [&](size_t m, size_t b) {
    if (m == in.models.size()) return f(choice);
    if (b == in.models[m].blocks.size()) return rec(m + 1, 0);
    for (size_t o = 0; o < in.models[m].blocks[b].size(); ++o) {
      choice[m][b] = static_cast<int>(o);
      rec(m, b + 1);
    }
  };
  rec(0, 0);
}

inline Brute brute_force(const Instance& in) {
  Brute r;
  for_each_choice(in, [&](const std::vector<std::vector<int>>& choice) {
    auto d = evaluate_choice(in.models, in.budget, choice, in.objective);
    if (d.feasible) {
      r.feasible = true;
      r.best = std::max(r.best, d.objective);
    }
    r.least_excess = std::min(r.least_excess, total_excess(in, d));
  });
  return r;
}

}  // namespace legodnn::testing
