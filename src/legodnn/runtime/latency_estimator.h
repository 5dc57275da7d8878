#pragma once
// Latency estimator (DESIGN.md section 9): the profiled per-block table, scaled by a ratio learnt
// online from measured forward latencies, so the optimizer reacts when other work slows the CPU.
// Torch-free.
#include <cstdint>
#include <vector>

#include "legodnn/runtime/optimizer.h"

namespace legodnn {

/// Estimates a composition's latency as ratio * (frame + sum of chosen blocks).
class LatencyEstimator {
 public:
  /// `alpha` is the weight of each new observation in the exponentially weighted ratio.
  explicit LatencyEstimator(ModelChoiceSpec profiled, double alpha = 0.3);

  /// The current estimate for a choice (one option index per block); throws OptionError for a
  /// choice of the wrong length or out of range.
  double estimate_ms(const std::vector<int>& choice) const;
  /// The profiled (uncalibrated) latency of a choice.
  double profiled_ms(const std::vector<int>& choice) const;
  /// Feeds one measured forward latency of `choice`. A measurement that is not a positive finite
  /// number is ignored (and counted): a serving process must not fail on one bad reading.
  void observe(const std::vector<int>& choice, double measured_ms);
  /// measured / profiled, smoothed; 1 before any observation.
  double ratio() const { return ratio_; }
  /// Observations used and ignored so far.
  int64_t observations() const { return used_; }
  int64_t ignored() const { return ignored_; }
  /// The profiled spec with every latency (frame and blocks) scaled by the current ratio.
  ModelChoiceSpec calibrated() const;
  /// The profiled spec.
  const ModelChoiceSpec& profiled() const { return spec_; }

 private:
  ModelChoiceSpec spec_;
  double alpha_;
  double ratio_ = 1.0;
  int64_t used_ = 0, ignored_ = 0;
};

/// `spec` with every latency (frame and blocks) multiplied by `factor`.
ModelChoiceSpec with_latency_scale(ModelChoiceSpec spec, double factor);

}  // namespace legodnn
