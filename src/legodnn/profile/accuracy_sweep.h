#pragma once
// Accuracy sweep (build stage "sweep"): the additive accuracy estimate made right where the
// optimizer goes. Budgets are swept from loose to the tightest; the compositions optimize() picks
// are measured on the validation split; per-descendant drops are refitted to those measurements
// (least squares, regularized towards the profiled drops, kept >= 0 and monotone in sparsity);
// the sweep is repeated with the refitted drops until the picks' estimates hold. The model stays
// additive, so the optimizer stays exact for it. Torch-free: measurement is a callback.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "legodnn/runtime/optimizer.h"

namespace legodnn {

/// How the sweep runs and fits.
struct SweepOptions {
  int points = 8;            ///< budget points per axis (memory alone, deadline alone, both together)
  int rounds = 4;            ///< at most this many refits
  double prior_sd = 0.02;    ///< how far (fraction) a drop may move from its profiled value at unit cost
  double model_sd = 0.003;   ///< added to each measurement's standard error: what additive cannot fit
  double tolerance = 0.006;  ///< stop once every pick's validation estimate is within this (fraction)
};

/// One budget of the sweep.
struct SweepBudget {
  double memory_bytes;
  double deadline_ms;
};

/// Budgets from the loosest (the teacher fits) to the tightest (the least memory / latency any
/// composition reaches), along memory alone, the deadline alone, and both together.
std::vector<SweepBudget> sweep_budgets(const ModelChoiceSpec& spec, int points);

/// The distinct compositions optimize() picks for `spec` (alone) over `budgets`, in order of
/// first appearance. Infeasible budgets (none, by construction) are skipped.
std::vector<std::vector<int>> sweep_picks(const ModelChoiceSpec& spec, const std::vector<SweepBudget>& budgets);

/// One measured composition: its accuracy drop against the teacher (fraction, on the same data)
/// and that drop's standard error.
struct DropObservation {
  std::vector<int> choice;
  double drop = 0;
  double se = 0;
};

/// Per-block drops x[i][j] (x[i][0] = 0) minimizing
///   sum_c ((sum_i x[i][c_i] - drop_c) / (se_c + model_sd))^2 + sum_ij ((x[i][j] - prior[i][j]) / prior_sd)^2
/// subject to 0 <= x[i][1] <= x[i][2] <= ... (coordinate descent on the non-negative increments,
/// which is exact for this convex problem). `prior` must be >= 0 and monotone.
std::vector<std::vector<double>> fit_drops(const std::vector<std::vector<double>>& prior,
                                           const std::vector<DropObservation>& obs, const SweepOptions& o);

/// Summed drops of a choice.
double summed_drop(const std::vector<std::vector<double>>& drops, const std::vector<int>& choice);

/// A measurement of one composition: accuracy and the standard error of its drop against the teacher.
struct CompositionAccuracy {
  double accuracy = 0;
  double drop_se = 0;
};
using MeasureFn = std::function<CompositionAccuracy(const std::vector<int>& choice)>;

/// A composition the sweep measured.
struct SweptComposition {
  std::vector<int> choice;
  int first_round = 0;          ///< the round whose sweep picked it first (0: profiled drops)
  bool picked_before = false;   ///< picked by the sweep with the profiled drops
  bool picked_after = false;    ///< picked by the sweep with the final drops
  double measured = 0;          ///< on the measuring split (validation)
  double drop_se = 0;
  double estimated_before = 0;  ///< teacher accuracy (measuring split) minus the profiled drops
  double estimated_after = 0;   ///< ... minus the fitted drops
};

/// Error of an estimate over some compositions (fraction).
struct EstimateError {
  int count = 0;
  double mean_abs = 0;
  double max_abs = 0;
};

/// What the sweep did.
struct SweepResult {
  std::vector<std::vector<double>> drops;   ///< fitted drops, what the optimizer is to use
  std::vector<SweptComposition> compositions;
  int rounds = 0;                           ///< refits done
  bool converged = false;                   ///< the last sweep's picks were all within tolerance
  EstimateError before;                     ///< profiled drops on the first sweep's picks (measuring split)
  EstimateError after;                      ///< fitted drops on the last sweep's picks (measuring split)
  int budgets = 0;                          ///< budget points per sweep
};

/// Runs the sweep on `spec` (its drops are the profiled ones) against `measure` (accuracy on the
/// measuring split, whose teacher accuracy is `teacher_accuracy`). `progress`, when set, is told
/// each round's line.
SweepResult run_accuracy_sweep(const ModelChoiceSpec& spec, double teacher_accuracy, const MeasureFn& measure,
                               const SweepOptions& o,
                               const std::function<void(const std::string&)>& progress = nullptr);

/// The error of `estimate(c)` against `truth(c)` over the compositions selected by `use`.
EstimateError estimate_error(const std::vector<SweptComposition>& cs,
                             const std::function<bool(const SweptComposition&)>& use,
                             const std::function<double(const SweptComposition&)>& estimate,
                             const std::function<double(const SweptComposition&)>& truth);

}  // namespace legodnn
