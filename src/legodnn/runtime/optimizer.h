#pragma once
// Scaling optimizer (DESIGN.md section 9): for every running model, one descendant per block that
// maximizes accuracy within per-model deadlines, a shared memory budget and optionally the
// processor share, solved exactly. Torch-free.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace legodnn {

/// One descendant as the optimizer sees it.
struct OptionCost {
  double drop = 0;        ///< accuracy drop (fraction) against the original block
  double latency_ms = 0;  ///< batch-1 latency
  double bytes = 0;       ///< memory of its tensors
};

/// One running model.
struct ModelChoiceSpec {
  std::string name;
  double accuracy = 0;   ///< the teacher's accuracy (fraction)
  double frame_ms = 0;   ///< latency outside the blocks
  double frame_bytes = 0;
  std::vector<std::vector<OptionCost>> blocks;  ///< [block][option]
  double deadline_ms = std::numeric_limits<double>::infinity();  ///< T_m <= deadline
  double weight = 1;     ///< in the sum objective
  double rate_hz = 0;    ///< inferences per second, for the processor-share constraint
};

/// Budgets shared by all models.
struct SharedBudget {
  double memory_bytes = std::numeric_limits<double>::infinity();  ///< total over all models
  bool processor_share = false;  ///< require sum_m rate_m * T_m / 1000 <= 1
};

/// What to maximize.
enum class Objective { Sum, MaxMin };

/// The optimizer's answer.
struct ScalingDecision {
  bool feasible = false;                  ///< false: nothing meets the budgets; `choice` violates them least
  std::vector<std::vector<int>> choice;   ///< [model][block] option index
  double objective = 0;                   ///< sum of weighted accuracies, or the minimum accuracy
  std::vector<double> accuracy;           ///< estimated, per model
  std::vector<double> latency_ms;         ///< estimated, per model
  double memory_bytes = 0;                ///< total
  double share = 0;                       ///< sum_m rate_m * T_m / 1000
  std::vector<double> deadline_excess_ms; ///< per model, 0 when met
  double memory_excess_bytes = 0;
  double share_excess = 0;
  int64_t states = 0;                     ///< Pareto states explored (a measure of work)
};

/// Solves exactly. Throws OptionError for NaN or negative budgets, costs or weights and for a
/// model without blocks or a block without options. When infeasible, returns the selection that
/// minimizes the summed relative excess (deadline excess / deadline + memory excess / budget +
/// share excess), ties broken by the objective.
///
/// Method: a Lagrangian relaxation of the budgets bounds the objective and, with a repair and
/// local-search heuristic, gives a first feasible selection; a dynamic program over Pareto sets of
/// partial selections then finds the optimum, dropping every partial selection whose bound cannot
/// beat the best found (see optimizer.cpp).
ScalingDecision optimize(const std::vector<ModelChoiceSpec>& models, const SharedBudget& budget,
                         Objective objective = Objective::Sum);

/// The problem with every budget raised to the least value any selection can reach (each deadline
/// to the model's fastest composition, memory to the smallest, the processor share to the least).
/// Each excess term is at least its value there, so when this problem admits a selection, the
/// selections within it are exactly those with the least total excess, and the objective decides
/// among them: how both solvers answer when nothing fits.
struct RaisedProblem {
  std::vector<ModelChoiceSpec> models;
  SharedBudget budget;
};
RaisedProblem raise_to_least_excess(const std::vector<ModelChoiceSpec>& models, const SharedBudget& budget);

/// The checks every solver makes first: throws OptionError naming the model, block, option and
/// field for NaN or negative budgets, costs or weights, infinite costs, no models, a model
/// without blocks or a block without options.
void validate_problem(const std::vector<ModelChoiceSpec>& models, const SharedBudget& budget);

/// The estimated accuracy, latency and memory of a given choice (no optimization).
ScalingDecision evaluate_choice(const std::vector<ModelChoiceSpec>& models, const SharedBudget& budget,
                                const std::vector<std::vector<int>>& choice, Objective objective);

}  // namespace legodnn
