#include "legodnn/runtime/switch_cost.h"

#include <cmath>
#include <limits>
#include <optional>

#include "legodnn/util/error.h"

namespace legodnn {

void validate_policy(const SwitchPolicy& p) {
  LEGODNN_CHECK(std::isfinite(p.cost_per_mb) && p.cost_per_mb >= 0, OptionError,
                "switch policy: cost per MB must be a finite number >= 0, got ", p.cost_per_mb);
  LEGODNN_CHECK(std::isfinite(p.hysteresis) && p.hysteresis >= 0, OptionError,
                "switch policy: hysteresis must be a finite number >= 0, got ", p.hysteresis);
  LEGODNN_CHECK(p.deadline_headroom >= 0 && p.deadline_headroom < 1, OptionError,
                "switch policy: deadline headroom must be in [0, 1), got ", p.deadline_headroom);
  LEGODNN_CHECK(p.cached_fraction >= 0 && p.cached_fraction <= 1, OptionError,
                "switch policy: the cached fraction must be in [0, 1], got ", p.cached_fraction);
  LEGODNN_CHECK(p.late_tolerance >= 0 && p.late_tolerance < 1, OptionError,
                "switch policy: the late tolerance must be in [0, 1), got ", p.late_tolerance);
}

std::vector<double> forced_headrooms(const SwitchPolicy& p) {
  if (!(p.deadline_headroom > 0)) return {0.0};
  const double h = p.deadline_headroom;
  return {h, h * 2 / 3, h / 3, 0.0};
}

std::vector<ModelChoiceSpec> charge_switches(const std::vector<ModelChoiceSpec>& models,
                                             const std::vector<std::vector<int>>& current, const SwitchPolicy& p,
                                             Objective objective, const CachedOptions& cached) {
  validate_policy(p);
  LEGODNN_CHECK(current.size() == models.size(), OptionError, "charge_switches: ", current.size(),
                " serving selections for ", models.size(), " models");
  LEGODNN_CHECK(cached.empty() || cached.size() == models.size(), OptionError, "charge_switches: ",
                cached.size(), " cache masks for ", models.size(), " models");
  std::vector<ModelChoiceSpec> out = models;
  for (size_t m = 0; m < models.size(); ++m) {
    const std::vector<int>& cur = current[m];
    if (cur.empty()) continue;
    ModelChoiceSpec& spec = out[m];
    LEGODNN_CHECK(cur.size() == spec.blocks.size(), OptionError, "model '", spec.name, "': serving selection has ",
                  cur.size(), " entries for ", spec.blocks.size(), " blocks");
    // Under the sum objective, the model's drops are multiplied by its weight: divide so the
    // objective pays the charge once. A model of weight 0 counts for nothing, nor do its switches.
    const double w = objective == Objective::Sum ? spec.weight : 1.0;
    const double price = w > 0 ? p.cost_per_mb / 1e6 / w : 0.0;
    const std::vector<std::vector<bool>> none;
    const auto& mask = cached.empty() ? none : cached[m];
    LEGODNN_CHECK(mask.empty() || mask.size() == spec.blocks.size(), OptionError, "model '", spec.name,
                  "': cache mask has ", mask.size(), " entries for ", spec.blocks.size(), " blocks");
    for (size_t b = 0; b < spec.blocks.size(); ++b) {
      LEGODNN_CHECK(cur[b] >= 0 && static_cast<size_t>(cur[b]) < spec.blocks[b].size(), OptionError, "model '",
                    spec.name, "' block ", b, ": serving option ", cur[b], " out of range (",
                    spec.blocks[b].size(), " options)");
      LEGODNN_CHECK(mask.empty() || mask[b].size() == spec.blocks[b].size(), OptionError, "model '", spec.name,
                    "' block ", b, ": cache mask has ", mask.empty() ? 0 : mask[b].size(), " entries for ",
                    spec.blocks[b].size(), " options");
      for (size_t o = 0; o < spec.blocks[b].size(); ++o) {
        if (static_cast<int>(o) == cur[b]) continue;
        const double f = !mask.empty() && mask[b][o] ? p.cached_fraction : 1.0;
        spec.blocks[b][o].drop += f * price * spec.blocks[b][o].bytes;
      }
    }
  }
  return out;
}

namespace {

// When no selection meets every budget, optimize() returns the one with the least summed relative
// excess, which may trade memory for latency (with blocks, the fastest composition need not be
// the smallest) and takes accuracy into account only between equally late selections. Memory
// that is not there cannot be used, while a late answer is still an answer; and a model that will
// be late anyway is to be as little late as it can: misses grow fast with lateness. So: only the
// models that cannot meet their deadline get it relaxed, to their fastest composition's latency
// plus `tolerance` (small: estimate noise); memory and the processor share hold; the objective
// decides within that. When
// memory couples the models so that this admits nothing, every deadline is relaxed further by the
// least common factor that admits a selection (bisection to 1%). Empty when nothing fits the
// memory budget even without deadlines.
std::optional<ScalingDecision> least_late_within_memory(const std::vector<ModelChoiceSpec>& models,
                                                        const SharedBudget& budget, Objective objective,
                                                        double tolerance) {
  // raise_to_least_excess raises each deadline no composition meets to the fastest one's latency.
  std::vector<ModelChoiceSpec> late = models;
  const RaisedProblem raised = raise_to_least_excess(models, budget);
  for (size_t m = 0; m < late.size(); ++m)
    if (raised.models[m].deadline_ms > late[m].deadline_ms) late[m].deadline_ms = raised.models[m].deadline_ms * (1 + tolerance);
  auto relaxed = [&](double f) {
    std::vector<ModelChoiceSpec> out = late;
    for (auto& m : out) m.deadline_ms = f > 0 ? m.deadline_ms * f : std::numeric_limits<double>::infinity();
    return out;
  };
  ScalingDecision at_hi = optimize(late, budget, objective);
  if (at_hi.feasible) return at_hi;
  ScalingDecision loose = optimize(relaxed(0), budget, objective);  // no deadlines at all
  if (!loose.feasible) return std::nullopt;
  double lo = 1, hi = 2;
  at_hi = optimize(relaxed(hi), budget, objective);
  for (int k = 0; k < 20 && !at_hi.feasible; ++k) {
    lo = hi;
    hi *= 4;
    at_hi = optimize(relaxed(hi), budget, objective);
  }
  if (!at_hi.feasible) return loose;  // deadlines no factor can meet (zero): memory alone decides
  for (int k = 0; k < 30 && hi > lo * 1.01; ++k) {
    const double mid = std::sqrt(lo * hi);
    ScalingDecision d = optimize(relaxed(mid), budget, objective);
    if (d.feasible) {
      hi = mid;
      at_hi = std::move(d);
    } else {
      lo = mid;
    }
  }
  return at_hi;
}

// Whether `moved` is worth a switch from `stay` when neither meets the budgets: it holds memory
// and the processor share where staying does not, or (as good on those) its summed relative
// deadline excess is lower by more than `margin`.
bool meaningfully_less_late(const std::vector<ModelChoiceSpec>& models, const ScalingDecision& stay,
                            const ScalingDecision& moved, double margin) {
  if (moved.memory_excess_bytes < stay.memory_excess_bytes || moved.share_excess < stay.share_excess) return true;
  if (moved.memory_excess_bytes > stay.memory_excess_bytes || moved.share_excess > stay.share_excess) return false;
  auto lateness = [&](const ScalingDecision& d) {
    double sum = 0;
    for (size_t m = 0; m < models.size(); ++m)
      if (d.deadline_excess_ms[m] > 0) sum += d.deadline_excess_ms[m] / std::max(models[m].deadline_ms, 1e-9);
    return sum;
  };
  return lateness(moved) < lateness(stay) - margin;
}

}  // namespace

SwitchDecision decide_switch(const std::vector<ModelChoiceSpec>& models, const SharedBudget& budget,
                             Objective objective, const std::vector<std::vector<int>>& current,
                             const SwitchPolicy& p, const CachedOptions& cached) {
  std::vector<ModelChoiceSpec> charged = charge_switches(models, current, p, objective, cached);
  SwitchDecision out;
  out.stay_objective = std::numeric_limits<double>::quiet_NaN();
  bool all_serving = true;
  for (const auto& c : current) all_serving = all_serving && !c.empty();
  ScalingDecision stay;
  if (all_serving) {
    stay = evaluate_choice(models, budget, current, objective);
    out.stay_objective = stay.objective;
    out.stay_feasible = stay.feasible;
  }
  // Every move leaves the headroom free on every deadline if it can: a voluntary one must, a
  // forced one (or an opening) leaves as much of it as any selection can (forced_headrooms), down
  // to none. Without it a forced move lands right at the edge of the plan, and the next bit of
  // noise misses or forces another.
  auto with_headroom = [&](double h) {
    std::vector<ModelChoiceSpec> roomy = charged;
    for (auto& m : roomy) m.deadline_ms *= 1 - h;
    return roomy;
  };
  ScalingDecision best = optimize(with_headroom(p.deadline_headroom), budget, objective);
  if (!out.stay_feasible && !best.feasible) {
    const std::vector<double> levels = forced_headrooms(p);
    for (size_t k = 1; k < levels.size() && !best.feasible; ++k)
      best = optimize(with_headroom(levels[k]), budget, objective);
  }
  if (!out.stay_feasible && !best.feasible) {
    if (auto within = least_late_within_memory(charged, budget, objective, p.late_tolerance)) {
      best = std::move(*within);
      best.feasible = false;  // its deadlines were relaxed
    }
  }
  std::vector<std::vector<int>> chosen = best.choice;
  bool feasible = best.feasible;
  out.charged_objective = best.objective;
  if (!all_serving) {
    out.why = "a model has no serving selection";
  } else if (!out.stay_feasible && !best.feasible && best.choice != current &&
             !meaningfully_less_late(models, stay,
                                     evaluate_choice(models, budget, best.choice, objective), p.late_tolerance)) {
    // Late either way, and moving would not make it less late by the tolerance: every tick of
    // noise would otherwise move it between nearly equal late selections.
    out.stays = true;
    out.charged_objective = out.stay_objective;
    out.why = "nothing meets the budgets; moving would cut the lateness by less than the late tolerance";
    chosen = current;
  } else if (!out.stay_feasible) {
    out.stays = best.choice == current;
    out.why = out.stays ? "nothing meets the budgets; the serving selection breaks them least"
                        : "the serving selection breaks a budget";
  } else if (best.feasible && best.choice != current && best.objective - p.hysteresis > out.stay_objective) {
    out.charged_objective = best.objective - p.hysteresis;
    out.why = "a gain of " + std::to_string(best.objective - out.stay_objective) + " clears the hysteresis";
  } else {
    // Staying meets every budget, and no move within the headroom clears the hysteresis.
    chosen = current;
    feasible = true;
    out.stays = true;
    out.charged_objective = out.stay_objective;
    out.why = best.choice == current ? "the serving selection is the best"
              : best.feasible ? "a gain of " + std::to_string(best.objective - out.stay_objective) +
                                    " does not clear the hysteresis"
                              : "nothing else leaves the deadline headroom";
  }
  out.decision = evaluate_choice(models, budget, chosen, objective);
  out.decision.states = best.states;
  out.decision.feasible = feasible;
  return out;
}

Replan replan_reason(double profiled_ms, double deadline_ms, double planning_ratio, double planning_at_solve,
                     double eased) {
  if (profiled_ms * planning_ratio > deadline_ms * (1 + 1e-9) && planning_ratio > planning_at_solve * 1.02)
    return Replan::DeadlineAtRisk;
  if (planning_ratio < planning_at_solve * (1 - eased)) return Replan::LoadEased;
  return Replan::None;
}

}  // namespace legodnn
