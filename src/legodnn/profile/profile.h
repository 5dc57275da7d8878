#pragma once
// Profiling (DESIGN.md section 7): latency of blocks and frame as served, and accuracy drops per
// (block, sparsity) measured inside context models, with the additive estimate checked.
#include <cstdint>
#include <vector>

#include "legodnn/blocks/prune.h"
#include "legodnn/data/fashion_mnist.h"
#include "legodnn/profile/latency_fit.h"

namespace legodnn {

/// How latency is measured.
struct LatencyOptions {
  int64_t batch = 1;
  int warmup = 5;
  int repeats = 31;
};

/// Median forward time (ms) of `m` after conv+bn folding, in inference mode, on random input of
/// per-sample shape `input_shape`.
double measure_latency_ms(const Model& m, const Shape& input_shape, const LatencyOptions& o = {});

/// Paired timing of compositions against the teacher (latency_fit.h): per composition, after
/// `o.warmup` rounds, `rounds` rounds of one teacher forward and one composition forward in turn.
/// A shared machine's speed drifts by tens of percent within seconds, which scales every time, so
/// the saving is measured as a fraction of the teacher's time in the same round (the median over
/// rounds) and given in ms of `teacher_ms`, the profiled teacher latency; its standard error is
/// 1.25 * 1.4826 * MAD / sqrt(rounds), in the same ms.
std::vector<LatencyObservation> time_savings(const Model& teacher, const std::vector<BlockFamily>& fams,
                                             const std::vector<std::vector<int>>& choices, const LatencyOptions& o,
                                             int rounds, double teacher_ms);

/// Accuracy and per-image correctness of a model on a split (inference mode, folded).
struct Correctness {
  double accuracy = 0;
  std::vector<uint8_t> correct;
};
/// Evaluates `m` (folded for speed) on `data`.
Correctness correctness(const Model& m, const Split& data, int64_t batch_size = 500);

/// Accuracy drop of each (block, descendant), averaged over context models.
struct DropTable {
  std::vector<std::vector<double>> raw;   ///< [block][desc] mean measured drop (fraction)
  std::vector<std::vector<double>> se;    ///< its standard error
  std::vector<std::vector<double>> drop;  ///< monotone in sparsity, never below 0: what the optimizer uses
  std::vector<int> contexts;              ///< descendant index used uniformly by each context model
  std::vector<double> context_accuracy;   ///< accuracy of each context model on the split
};

/// Measures drop(i, j) = acc(context with block i original) - acc(context with block i at j) on
/// `data`, for each context (every block at descendant index contexts[c]), and averages.
DropTable measure_drops(const Model& teacher, const std::vector<BlockFamily>& fams, const Split& data,
                        const std::vector<int>& contexts, int64_t batch_size = 500);

/// The factor k for which teacher accuracy - k * (summed drops) best fits (least squares) the
/// measured accuracy of `count` random compositions on `data` (a split other than the test set).
/// 1 when nothing can be fitted.
double calibrate_drop_scale(const Model& teacher, const std::vector<BlockFamily>& fams,
                            const std::vector<std::vector<double>>& drops, double teacher_accuracy,
                            const Split& data, int count, uint64_t seed);

/// One composition checked against the additive estimate.
struct EstimateCheck {
  std::vector<int> choice;
  double estimated = 0;  ///< teacher accuracy minus the summed drops
  double measured = 0;
};

/// Random compositions (seeded), each measured on `data` and estimated additively from `drops`
/// and `teacher_accuracy` (measured on the same data).
std::vector<EstimateCheck> check_additive_estimate(const Model& teacher, const std::vector<BlockFamily>& fams,
                                                   const std::vector<std::vector<double>>& drops,
                                                   double teacher_accuracy, const Split& data, int count,
                                                   uint64_t seed);

}  // namespace legodnn
