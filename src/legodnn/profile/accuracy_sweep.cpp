#include "legodnn/profile/accuracy_sweep.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>

#include "legodnn/util/error.h"

namespace legodnn {

namespace {

// Cost range of a single model: the least and the most any composition takes.
struct Range {
  double lo = 0, hi = 0;
};

Range cost_range(const ModelChoiceSpec& s, double base, double OptionCost::*field) {
  Range r{base, base};
  for (const auto& opts : s.blocks) {
    double lo = opts.at(0).*field, hi = lo;
    for (const auto& o : opts) {
      lo = std::min(lo, o.*field);
      hi = std::max(hi, o.*field);
    }
    r.lo += lo;
    r.hi += hi;
  }
  return r;
}

// A budget at the least a composition takes, loosened by rounding only (the optimizer sums the
// same costs in another order).
double at_least(double v) { return v * (1 + 1e-9) + 1e-12; }

}  // namespace

std::vector<SweepBudget> sweep_budgets(const ModelChoiceSpec& spec, int points) {
  if (points < 2) throw OptionError("accuracy sweep: points per axis must be at least 2, got " + std::to_string(points));
  const Range mem = cost_range(spec, spec.frame_bytes, &OptionCost::bytes);
  const Range lat = cost_range(spec, spec.frame_ms, &OptionCost::latency_ms);
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<SweepBudget> out;
  for (int axis = 0; axis < 3; ++axis)
    for (int k = 0; k < points; ++k) {
      const double f = static_cast<double>(k) / (points - 1);  // 0 loosest .. 1 tightest
      const double m = at_least(mem.hi - f * (mem.hi - mem.lo));
      const double d = at_least(lat.hi - f * (lat.hi - lat.lo));
      // The loosest point of the later axes repeats the first axis's: skip it.
      if (axis > 0 && k == 0) continue;
      out.push_back({axis == 1 ? inf : m, axis == 0 ? inf : d});
    }
  return out;
}

std::vector<std::vector<int>> sweep_picks(const ModelChoiceSpec& spec, const std::vector<SweepBudget>& budgets) {
  std::vector<std::vector<int>> out;
  for (const auto& b : budgets) {
    ModelChoiceSpec s = spec;
    s.deadline_ms = b.deadline_ms;
    SharedBudget sb;
    sb.memory_bytes = b.memory_bytes;
    ScalingDecision d = optimize({s}, sb);
    if (!d.feasible) continue;
    if (std::find(out.begin(), out.end(), d.choice.at(0)) == out.end()) out.push_back(d.choice.at(0));
  }
  return out;
}

double summed_drop(const std::vector<std::vector<double>>& drops, const std::vector<int>& choice) {
  double s = 0;
  for (size_t i = 0; i < choice.size(); ++i) s += drops.at(i).at(choice[i]);
  return s;
}

std::vector<std::vector<double>> fit_drops(const std::vector<std::vector<double>>& prior,
                                           const std::vector<DropObservation>& obs, const SweepOptions& o) {
  if (!(o.prior_sd > 0)) throw OptionError("accuracy sweep: prior_sd must be positive, got " + std::to_string(o.prior_sd));
  if (!(o.model_sd >= 0)) throw OptionError("accuracy sweep: model_sd must be >= 0, got " + std::to_string(o.model_sd));
  const size_t nb = prior.size();
  for (const auto& c : obs)
    if (c.choice.size() != nb)
      throw OptionError("accuracy sweep: a composition has " + std::to_string(c.choice.size()) + " choices for " +
                        std::to_string(nb) + " blocks");
  // Unknowns: increments delta[i][k] >= 0 (k >= 1), x[i][j] = sum_{k<=j} delta[i][k].
  std::vector<std::vector<double>> delta(nb), x(nb);
  for (size_t i = 0; i < nb; ++i) {
    x[i].assign(prior[i].size(), 0.0);
    delta[i].assign(prior[i].size(), 0.0);
    for (size_t k = 1; k < prior[i].size(); ++k) delta[i][k] = std::max(0.0, prior[i][k] - x[i][k - 1]), x[i][k] = x[i][k - 1] + delta[i][k];
  }
  const double wp = 1.0 / (o.prior_sd * o.prior_sd);
  std::vector<double> w(obs.size()), r(obs.size());
  for (size_t c = 0; c < obs.size(); ++c) {
    const double sd = std::max(0.0, obs[c].se) + o.model_sd;
    w[c] = sd > 0 ? 1.0 / (sd * sd) : 1e12;
    r[c] = summed_drop(x, obs[c].choice) - obs[c].drop;
  }
  for (int sweep = 0; sweep < 2000; ++sweep) {
    double moved = 0;
    for (size_t i = 0; i < nb; ++i)
      for (size_t k = 1; k < prior[i].size(); ++k) {
        // The objective along delta[i][k] is a parabola a t^2 + ...: one exact step, clipped at 0.
        double a = 0, g = 0;
        for (size_t c = 0; c < obs.size(); ++c)
          if (obs[c].choice[i] >= static_cast<int>(k)) {
            a += w[c];
            g += w[c] * r[c];
          }
        for (size_t j = k; j < prior[i].size(); ++j) {
          a += wp;
          g += wp * (x[i][j] - prior[i][j]);
        }
        const double next = std::max(0.0, delta[i][k] - g / a);
        const double step = next - delta[i][k];
        if (step == 0) continue;
        delta[i][k] = next;
        for (size_t j = k; j < prior[i].size(); ++j) x[i][j] += step;
        for (size_t c = 0; c < obs.size(); ++c)
          if (obs[c].choice[i] >= static_cast<int>(k)) r[c] += step;
        moved = std::max(moved, std::abs(step));
      }
    if (moved < 1e-12) break;
  }
  // Prefix sums of the non-negative increments, afresh: monotone without rounding residue.
  for (size_t i = 0; i < nb; ++i)
    for (size_t k = 1; k < prior[i].size(); ++k) x[i][k] = x[i][k - 1] + delta[i][k];
  return x;
}

EstimateError estimate_error(const std::vector<SweptComposition>& cs,
                             const std::function<bool(const SweptComposition&)>& use,
                             const std::function<double(const SweptComposition&)>& estimate,
                             const std::function<double(const SweptComposition&)>& truth) {
  EstimateError e;
  double sum = 0;
  for (const auto& c : cs) {
    if (!use(c)) continue;
    const double err = std::abs(estimate(c) - truth(c));
    sum += err;
    e.max_abs = std::max(e.max_abs, err);
    ++e.count;
  }
  e.mean_abs = e.count ? sum / e.count : 0.0;
  return e;
}

SweepResult run_accuracy_sweep(const ModelChoiceSpec& spec, double teacher_accuracy, const MeasureFn& measure,
                               const SweepOptions& o, const std::function<void(const std::string&)>& progress) {
  if (o.rounds < 0) throw OptionError("accuracy sweep: rounds must be >= 0, got " + std::to_string(o.rounds));
  SweepResult res;
  std::vector<std::vector<double>> prior;
  for (const auto& opts : spec.blocks) {
    prior.emplace_back();
    for (const auto& op : opts) prior.back().push_back(op.drop);
  }
  const auto budgets = sweep_budgets(spec, o.points);
  res.budgets = static_cast<int>(budgets.size());
  res.drops = prior;
  std::map<std::vector<int>, size_t> index;  // choice -> position in res.compositions
  ModelChoiceSpec current = spec;
  std::vector<std::vector<int>> picks = sweep_picks(current, budgets);
  for (int round = 0;; ++round) {
    int fresh = 0;
    for (const auto& p : picks) {
      if (index.count(p)) continue;
      CompositionAccuracy m = measure(p);
      SweptComposition c;
      c.choice = p;
      c.first_round = round;
      c.measured = m.accuracy;
      c.drop_se = m.drop_se;
      index.emplace(p, res.compositions.size());
      res.compositions.push_back(std::move(c));
      ++fresh;
    }
    std::vector<char> in_picks(res.compositions.size(), 0);
    for (const auto& p : picks) in_picks[index.at(p)] = 1;
    if (round == 0)
      for (size_t k = 0; k < in_picks.size(); ++k) res.compositions[k].picked_before = in_picks[k];
    auto err = estimate_error(
        res.compositions, [&](const SweptComposition& c) { return in_picks[index.at(c.choice)] != 0; },
        [&](const SweptComposition& c) { return teacher_accuracy - summed_drop(res.drops, c.choice); },
        [](const SweptComposition& c) { return c.measured; });
    if (round == 0) res.before = err;
    if (progress) {
      char line[200];
      std::snprintf(line, sizeof line,
                    "sweep round %d: %zu picks over %zu budgets (%d newly measured), estimate error on them "
                    "mean %.2f max %.2f points",
                    round, picks.size(), budgets.size(), fresh, 100 * err.mean_abs, 100 * err.max_abs);
      progress(line);
    }
    res.after = err;
    if (err.max_abs <= o.tolerance) res.converged = true;
    if (res.converged || round == o.rounds) {
      for (size_t k = 0; k < in_picks.size(); ++k) res.compositions[k].picked_after = in_picks[k];
      break;
    }
    std::vector<DropObservation> obs;
    for (const auto& c : res.compositions) obs.push_back({c.choice, teacher_accuracy - c.measured, c.drop_se});
    res.drops = fit_drops(prior, obs, o);
    ++res.rounds;
    for (size_t i = 0; i < current.blocks.size(); ++i)
      for (size_t j = 0; j < current.blocks[i].size(); ++j) current.blocks[i][j].drop = res.drops[i][j];
    picks = sweep_picks(current, budgets);
  }
  for (auto& c : res.compositions) {
    c.estimated_before = teacher_accuracy - summed_drop(prior, c.choice);
    c.estimated_after = teacher_accuracy - summed_drop(res.drops, c.choice);
  }
  return res;
}

}  // namespace legodnn
