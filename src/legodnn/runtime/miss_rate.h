#pragma once
// Deadlines as a miss-rate target (DESIGN.md section 12). The runtime plans a model's selection so
// that profiled latency x planning ratio <= deadline, where the planning ratio is a high quantile of
// the recent measured/profiled latency ratios (the tail under the current load, not the mean) times
// a feedback factor that an integral controller moves until the observed miss rate meets the
// target. Torch-free.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace legodnn {

/// Options of MissRateController.
struct MissRateOptions {
  double target = 0.01;       ///< wanted fraction of inferences over their deadline, in (0, 0.5)
  int window = 400;           ///< recent ratios the quantile is taken over
  int min_samples = 20;       ///< before this many ratios, `prior_ratio` stands for the quantile
  double prior_ratio = 1.0;   ///< measured/profiled ratio assumed before any measurement
  /// Integral gain on log(feedback) per update, per expected miss: the step is
  /// gain * (misses - expected) / max(expected, 1). Symmetric, so the controller settles where the
  /// observed rate equals the target (0.02-0.05 settled in simulation without oscillating).
  double gain = 0.03;
  double max_step = 0.2;                    ///< |log step| per update at most
  double min_feedback = 0.5, max_feedback = 3.0;
};

/// Tracks one model's latency tail and its deadline misses; thread-compatible (the caller locks).
class MissRateController {
 public:
  explicit MissRateController(MissRateOptions o = {});

  /// One served inference: measured / profiled latency of the selection it ran, and whether it
  /// missed its deadline. A ratio that is not a positive finite number is ignored.
  void observe(double ratio, bool missed);
  /// Once per control period (the runner's step): compares the misses since the last update with
  /// target x inferences and moves the feedback factor. A period without inferences changes nothing.
  void update();

  /// The factor to multiply profiled latencies by when checking a deadline.
  double planning_ratio() const { return quantile_ratio() * feedback_; }
  /// The (1 - target) quantile of the recent ratios (the prior before min_samples).
  double quantile_ratio() const;
  double feedback() const { return feedback_; }
  /// Misses / inferences over everything observed.
  double observed_miss_rate() const { return inferences_ ? static_cast<double>(misses_) / inferences_ : 0.0; }
  int64_t inferences() const { return inferences_; }
  const MissRateOptions& options() const { return o_; }

 private:
  MissRateOptions o_;
  std::vector<double> ring_;  ///< the last `window` ratios
  size_t next_ = 0;
  double feedback_ = 1.0;
  int64_t inferences_ = 0, misses_ = 0;
  int64_t period_inferences_ = 0, period_misses_ = 0;
};

}  // namespace legodnn
