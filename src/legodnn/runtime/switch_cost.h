#pragma once
// Decisions that count the cost of switching (DESIGN.md section 12). The online optimizer's
// objective charges every block a solve would replace for the bytes that must be brought in, and
// a voluntary switch must gain more than a hysteresis over staying:
//
//   maximize  J(x) - sum_{m,b: x_mb != cur_mb} c * bytes(x_mb) - h * [x != cur]
//   over      x = cur, or x within the budgets with every deadline shortened by the headroom,
//             when cur meets the budgets (a voluntary switch);
//             otherwise (a forced switch, no hysteresis) the x within the budgets with the
//             deadlines shortened by the largest of the forced headrooms (the headroom, 2/3
//             and 1/3 of it, none) that any x meets
//
// where J is the optimizer's objective (weighted sum or minimum of estimated accuracies), c the
// price of a byte in accuracy, h the hysteresis and the headroom a fraction of each deadline that a
// voluntary move must leave free (latencies are noisy; without it the selection would move back as
// soon as the tail grows a little). The byte charge is additive over blocks, so it folds into the
// options' drops and optimize() stays exact for it; the rest is one comparison between that
// optimum and staying, which is exact too.
//
// When nothing meets every budget, the memory budget (and the processor share) still hold where
// any selection meets them, not optimize()'s least summed excess, which may trade memory for
// latency (with blocks, the fastest composition need not be the smallest): each model that cannot
// meet its deadline has it relaxed to its fastest composition's latency plus the headroom (so
// that accuracy, not a percent of lateness, decides between late selections); if memory couples
// the models so that nothing fits even then, every deadline is relaxed further by the least
// common factor that admits a selection. And a move between two late selections must cut the
// summed relative lateness by more than the headroom (or hold memory where staying does not).
// Torch-free.
#include <string>
#include <vector>

#include "legodnn/runtime/optimizer.h"

namespace legodnn {

/// Prices of a switch, in accuracy (fraction; 0.01 = one point).
struct SwitchPolicy {
  /// Accuracy a switch must pay per MB of blocks it brings in (read from disk or the cache).
  double cost_per_mb = 0.002;
  /// A switch that staying does not force (the serving selection still meets every budget) must
  /// gain more than this in the charged objective. Gains below the accuracy estimate's noise then
  /// never cause a switch.
  double hysteresis = 0.005;
  /// A voluntary switch must meet every deadline with this fraction of it to spare; a forced one
  /// leaves as much of it as any selection can, in steps (forced_headrooms).
  double deadline_headroom = 0.15;
  /// What a block taken from the cache of inactive blocks costs, as a fraction of its price from
  /// disk (a warm switch costs about a tenth of a cold one's time: README, bench_serving).
  double cached_fraction = 0.1;
  /// When a model cannot meet its deadline whatever it serves, deadlines come first: it serves a
  /// selection at most this fraction slower than its fastest (accuracy decides only within that),
  /// and it moves between late selections only when that cuts the summed lateness by more than
  /// this (in deadlines), so that noise does not move it back and forth.
  double late_tolerance = 0.01;
};

/// Per model, which options the cache holds: [model][block][option]; an empty entry (or an
/// empty list) means nothing cached.
using CachedOptions = std::vector<std::vector<std::vector<bool>>>;

/// Throws OptionError for a negative or non-finite price.
void validate_policy(const SwitchPolicy& p);

/// The headrooms a forced switch (or an opening) tries, largest first: the policy's, 2/3 and 1/3
/// of it, then none. It takes the first that any selection within the budgets leaves: a forced
/// move that cannot leave the whole headroom should not land right at the edge of its plan, where
/// the next bit of noise misses (on the default scenario such edge selections missed where the
/// coarser model-grained variants, with slack, did not).
std::vector<double> forced_headrooms(const SwitchPolicy& p);

/// The problem whose drops also carry the byte charge of replacing the serving option of each
/// block: for model m with a serving selection current[m] (empty: it arrives and loads anyway, no
/// charge), option o of block b != current[m][b] has drop + cost_per_mb * bytes / 1e6, times
/// cached_fraction when cached[m][b][o] (divided by the model's weight under the sum objective, so
/// the weighted objective pays it once). Throws OptionError for a serving selection or a cache
/// mask that does not fit its model.
std::vector<ModelChoiceSpec> charge_switches(const std::vector<ModelChoiceSpec>& models,
                                             const std::vector<std::vector<int>>& current, const SwitchPolicy& p,
                                             Objective objective, const CachedOptions& cached = {});

/// What decide_switch chose.
struct SwitchDecision {
  /// The chosen selection, its estimates evaluated on the uncharged problem (true accuracies).
  ScalingDecision decision;
  double charged_objective = 0;       ///< the objective including the byte charge (and h if it moves)
  double stay_objective = 0;          ///< the charged objective of staying (= J(cur)); NaN without cur
  bool stay_feasible = false;         ///< the serving selection meets every budget
  bool stays = false;                 ///< the decision is the serving selection
  std::string why;                    ///< one line: why it moves or stays
};

/// Solves the charged problem and applies the hysteresis. `current` has one entry per model, empty
/// for a model without a serving selection; then staying is not an option and no hysteresis applies.
SwitchDecision decide_switch(const std::vector<ModelChoiceSpec>& models, const SharedBudget& budget,
                             Objective objective, const std::vector<std::vector<int>>& current,
                             const SwitchPolicy& p, const CachedOptions& cached = {});

/// Why to solve again between scenario events, from one serving model's state.
enum class Replan { None, DeadlineAtRisk, LoadEased };
/// DeadlineAtRisk when the serving selection's planned latency (profiled x planning ratio) breaks
/// the deadline and the ratio has grown since the last solve (a selection that solve already knew
/// to break it, for nothing met it, is not solved again until the tail grows); LoadEased when the
/// planning ratio fell by `eased` (a fraction) since the last solve; None otherwise.
Replan replan_reason(double profiled_ms, double deadline_ms, double planning_ratio, double planning_at_solve,
                     double eased);

}  // namespace legodnn
