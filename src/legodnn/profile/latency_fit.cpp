#include "legodnn/profile/latency_fit.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <string>

#include "legodnn/profile/accuracy_sweep.h"
#include "legodnn/util/error.h"

namespace legodnn {

double summed_saving_ms(const std::vector<std::vector<double>>& latency, const std::vector<int>& choice) {
  double s = 0;
  for (size_t i = 0; i < choice.size(); ++i) s += latency.at(i).at(0) - latency.at(i).at(choice[i]);
  return s;
}

std::vector<std::vector<double>> fit_block_latencies(const std::vector<std::vector<double>>& alone,
                                                     const std::vector<LatencyObservation>& obs,
                                                     const LatencyFitOptions& o) {
  if (!(o.prior_sd_ms > 0) || !(o.model_sd_ms >= 0) || !(o.floor_fraction >= 0 && o.floor_fraction < 1))
    throw OptionError("latency fit: prior_sd_ms must be > 0, model_sd_ms >= 0 and floor_fraction in [0, 1)");
  // The savings the alone times give, made >= 0 and monotone: the prior of the fit.
  std::vector<std::vector<double>> prior(alone.size());
  for (size_t i = 0; i < alone.size(); ++i) {
    if (alone[i].empty()) throw OptionError("latency fit: block " + std::to_string(i) + " has no descendants");
    for (double t : alone[i])
      if (!std::isfinite(t) || t < 0)
        throw OptionError("latency fit: block " + std::to_string(i) + ": latency " + std::to_string(t) +
                          " is not a finite number >= 0");
    prior[i].assign(alone[i].size(), 0.0);
    for (size_t j = 1; j < alone[i].size(); ++j)
      prior[i][j] = std::max(prior[i][j - 1], alone[i][0] - alone[i][j]);
  }
  std::vector<DropObservation> drops;
  for (size_t c = 0; c < obs.size(); ++c) {
    const auto& ob = obs[c];
    if (ob.choice.size() != alone.size())
      throw OptionError("latency fit: composition " + std::to_string(c) + " has " + std::to_string(ob.choice.size()) +
                        " choices for " + std::to_string(alone.size()) + " blocks");
    for (size_t i = 0; i < ob.choice.size(); ++i)
      if (ob.choice[i] < 0 || ob.choice[i] >= static_cast<int>(alone[i].size()))
        throw OptionError("latency fit: composition " + std::to_string(c) + ": block " + std::to_string(i) +
                          " choice " + std::to_string(ob.choice[i]) + " is out of range");
    if (!std::isfinite(ob.saving_ms) || !std::isfinite(ob.se_ms) || ob.se_ms < 0)
      throw OptionError("latency fit: composition " + std::to_string(c) + ": saving and its error must be finite");
    drops.push_back({ob.choice, ob.saving_ms, ob.se_ms});
  }
  SweepOptions so;
  so.prior_sd = o.prior_sd_ms;
  so.model_sd = o.model_sd_ms;
  auto saving = fit_drops(prior, drops, so);
  std::vector<std::vector<double>> out(alone.size());
  for (size_t i = 0; i < alone.size(); ++i) {
    const double floor = o.floor_fraction * alone[i][0];
    out[i].push_back(alone[i][0]);
    for (size_t j = 1; j < alone[i].size(); ++j) out[i].push_back(std::max(floor, alone[i][0] - saving[i][j]));
  }
  return out;
}

std::vector<std::vector<int>> latency_compositions(const std::vector<int>& descendants_per_block, int count,
                                                   uint64_t seed) {
  std::vector<std::vector<int>> out;
  if (descendants_per_block.empty() || count <= 0) return out;
  int most = 0;
  double space = 1;
  for (int n : descendants_per_block) {
    if (n < 1) throw OptionError("latency compositions: a block has no descendants");
    most = std::max(most, n);
    space *= n;
  }
  std::set<std::vector<int>> seen;
  auto add = [&](std::vector<int> c) {
    if (static_cast<int>(out.size()) < count && seen.insert(c).second) out.push_back(std::move(c));
  };
  for (int j = 1; j < most; ++j) {
    std::vector<int> c;
    for (int n : descendants_per_block) c.push_back(std::min(j, n - 1));
    add(c);
  }
  std::mt19937_64 rng(seed);
  const double want = std::min<double>(count, space - 1);  // the teacher is the reference, not a sample
  for (int tries = 0; static_cast<double>(out.size()) < want && tries < 100 * count; ++tries) {
    std::vector<int> c;
    for (int n : descendants_per_block) c.push_back(std::uniform_int_distribution<int>(0, n - 1)(rng));
    if (std::all_of(c.begin(), c.end(), [](int v) { return v == 0; })) continue;
    add(c);
  }
  return out;
}

LatencyFitError latency_fit_error(const std::vector<std::vector<double>>& latency,
                                  const std::vector<LatencyObservation>& obs) {
  LatencyFitError e;
  for (const auto& ob : obs) {
    const double err = std::abs(summed_saving_ms(latency, ob.choice) - ob.saving_ms);
    e.mean_abs_ms += err;
    e.max_abs_ms = std::max(e.max_abs_ms, err);
    ++e.count;
  }
  if (e.count) e.mean_abs_ms /= e.count;
  return e;
}

}  // namespace legodnn
