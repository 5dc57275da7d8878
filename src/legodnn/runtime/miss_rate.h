#pragma once
// Deadlines as a miss-rate target (DESIGN.md section 12). The runtime plans a model's selection so
// that profiled latency x planning ratio <= deadline, where the planning ratio is a high quantile of
// the recent measured/profiled latency ratios (the tail under the current load, not the mean) times
// a feedback factor that an integral controller moves until the misses it observes meet the target.
//
// The misses the feedback counts are the inferences whose ratio exceeded the planning ratio in
// force: each of them is a deadline miss for a selection planned right at its deadline. Counting
// the model's own misses instead would wind the factor down whenever the serving selection has
// slack (selections are discrete), until a slower one is chosen and misses: a limit cycle of
// switches. A selection planned at its deadline misses exactly when its ratio exceeds the plan, so
// both counts agree where it matters. Torch-free.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace legodnn {

/// Options of MissRateController.
struct MissRateOptions {
  double target = 0.01;       ///< wanted fraction of inferences over their deadline, in (0, 0.5)
  int window = 400;           ///< recent ratios the quantile is taken over
  /// Before this many ratios, `prior_ratio` stands for the quantile. Few: the prior (the profile
  /// measured alone) is optimistic next to other models, and every inference planned with it may
  /// miss; the (1 - target) quantile of a few ratios is their maximum, a cautious first plan.
  int min_samples = 10;
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
  /// missed its deadline (counted for observed_miss_rate). A ratio that is not a positive finite
  /// number is ignored (it counts as an inference without an exceedance).
  void observe(double ratio, bool missed);
  /// Once per control period (the runner's step): compares the exceedances of the planning ratio
  /// since the last update with target x inferences, moves the feedback factor, and sets the
  /// planning ratio for the next period. A period without inferences changes nothing, nor does
  /// one planned with the prior (before min_samples ratios: no quantile to correct yet).
  void update();
  /// Between control periods: sets the planning ratio from the quantile of the ratios observed so
  /// far (times the current feedback), without moving the feedback. A load that grows shows in the
  /// tail within a few inferences; the runner calls this often so that it re-plans then, not at the
  /// end of the period. Keeps the prior until min_samples ratios are in.
  void refresh();

  /// The factor to multiply profiled latencies by when checking a deadline, as of the last update
  /// (the prior before it).
  double planning_ratio() const { return planning_; }
  /// The (1 - target) quantile of the recent ratios (the prior before min_samples).
  double quantile_ratio() const;
  double feedback() const { return feedback_; }
  /// Misses / inferences over everything observed.
  double observed_miss_rate() const { return inferences_ ? static_cast<double>(misses_) / inferences_ : 0.0; }
  int64_t inferences() const { return inferences_; }
  /// Inferences whose ratio exceeded the planning ratio in force, over everything observed.
  int64_t exceedances() const { return exceedances_; }
  const MissRateOptions& options() const { return o_; }

 private:
  MissRateOptions o_;
  std::vector<double> ring_;  ///< the last `window` ratios
  size_t next_ = 0;
  double feedback_ = 1.0;
  double planning_;
  bool planned_from_quantile_ = false;  ///< the plan in force comes from measured ratios
  int64_t exceedances_ = 0, period_exceedances_ = 0;
  int64_t inferences_ = 0, misses_ = 0;
  int64_t period_inferences_ = 0;
};

}  // namespace legodnn
