#pragma once
// Block latencies as served (build stage "latency"). Each descendant is first timed alone; summed,
// those times misjudge compositions: a block timed alone runs with its weights warm in cache and
// its per-call overhead, so the saving of a pruned descendant inside the whole model is not the
// difference of the two blocks timed alone, and some descendants time faster than sparser ones
// (the stage records, per repository, the held-out error of both; `legodnn inspect` prints it).
// The stage times whole compositions against the
// teacher, in pairs, and fits per-descendant savings to them: least squares, regularized towards
// the alone times' savings, kept >= 0 and monotone in sparsity (a sparser descendant is a channel
// subset of a denser one: it never costs more). The model stays additive, so the optimizer stays
// exact for it. Torch-free: timing is the caller's.
#include <cstdint>
#include <vector>

namespace legodnn {

/// One timed composition: `saving_ms` = teacher latency - composition latency (paired), and its
/// standard error.
struct LatencyObservation {
  std::vector<int> choice;
  double saving_ms = 0;
  double se_ms = 0;
};

struct LatencyFitOptions {
  double prior_sd_ms = 0.02;   ///< how far a saving may move from its alone-timed value at unit cost
  double model_sd_ms = 0.005;  ///< added to each observation's standard error: what additive cannot fit
  double floor_fraction = 0.05; ///< a fitted descendant latency never goes below this part of the original's
};

/// Fitted per-descendant latencies (ms) from the alone-timed ones `alone[i][j]` (j = 0: the
/// original block) and the observations. Throws OptionError for observations that do not fit the
/// table (wrong length, index out of range) or non-finite values.
std::vector<std::vector<double>> fit_block_latencies(const std::vector<std::vector<double>>& alone,
                                                     const std::vector<LatencyObservation>& obs,
                                                     const LatencyFitOptions& o = {});

/// Summed saving of a choice under per-descendant latencies (teacher's blocks minus the chosen).
double summed_saving_ms(const std::vector<std::vector<double>>& latency, const std::vector<int>& choice);

/// `count` compositions to time: every uniform one (all blocks at descendant j, j >= 1), then
/// seeded random ones (each block's descendant uniform), without repeats where the space allows.
std::vector<std::vector<int>> latency_compositions(const std::vector<int>& descendants_per_block, int count,
                                                   uint64_t seed);

/// Mean and max absolute error of `latency`'s summed savings against the observations (ms).
struct LatencyFitError {
  int count = 0;
  double mean_abs_ms = 0;
  double max_abs_ms = 0;
};
LatencyFitError latency_fit_error(const std::vector<std::vector<double>>& latency,
                                  const std::vector<LatencyObservation>& obs);

}  // namespace legodnn
