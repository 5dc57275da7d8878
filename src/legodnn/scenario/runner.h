#pragma once
// Scenario runner (DESIGN.md section 9): every active model serves Fashion-MNIST test images in
// its own thread; at each event (and when the measured latency drifts from the calibrated table)
// the optimizer re-solves for all models together and the switcher applies the result. One run
// uses one system: LegoDNN (blocks) or the model-grained baseline (whole models).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "legodnn/runtime/optimizer.h"
#include "legodnn/runtime/scalable_model.h"
#include "legodnn/scenario/scenario.h"

namespace legodnn {

struct Split;

/// One model as served by one system: run, switch, memory. Thread-safe like ScalableModel.
class ServedModel {
 public:
  virtual ~ServedModel() = default;
  /// Runs a batch; `ran_with` receives the selection that computed it.
  virtual at::Tensor forward(const at::Tensor& x, std::vector<int>* ran_with) const = 0;
  virtual SwitchReport switch_to(const std::vector<int>& selection) = 0;
  virtual MemoryUse memory() const = 0;
  virtual void set_cache_limit(int64_t bytes) = 0;
};

/// What the runner needs of one model under one system.
struct ModelSystem {
  ModelChoiceSpec spec;                          ///< profiled costs for the optimizer
  std::vector<std::vector<double>> sparsity;     ///< [block][option], for the records
  std::function<std::unique_ptr<ServedModel>(const std::vector<int>& selection)> open;
};

/// LegoDNN: a ScalableModel over the block repository `dir`.
ModelSystem legodnn_system(const std::string& dir);
/// The model-grained baseline: whole-model variants in `dir` (legodnn baseline).
ModelSystem model_grained_system(const std::string& dir);

enum class SystemKind { LegoDnn, ModelGrained };
const char* system_name(SystemKind k);

struct RunOptions {
  SystemKind system = SystemKind::LegoDnn;
  std::string csv;             ///< the per-step records (written atomically at the end); empty = none
  double recalibrate = 0.15;   ///< re-solve when a model's latency ratio moved by this since the last solve
  uint64_t seed = 0;           ///< where each model starts in the test set
  bool progress = true;        ///< a line per event on stderr
};

/// Per model, over the whole run.
struct ModelSummary {
  std::string name;
  int64_t inferences = 0, misses = 0;
  double mean_measured_accuracy = 0;  ///< mean over the steps the model was active
  double mean_estimated_accuracy = 0;
  int switches = 0, failed_switches = 0;
  int64_t bytes_moved = 0;
  double switch_ms = 0;
  int configurations = 0;             ///< distinct selections used
};

struct RunSummary {
  std::string system;
  std::vector<ModelSummary> models;
  int solves = 0, infeasible_solves = 0;
  double median_solve_us = 0;
  int steps = 0;
  int memory_violations = 0;          ///< steps whose memory in use exceeded the budget
  double mean_measured_accuracy = 0;  ///< over models and steps
  double mean_estimated_accuracy = 0;
  int64_t inferences = 0, misses = 0;
  int64_t bytes_moved = 0;
  double switch_ms = 0;
  int configurations = 0;
};

/// Runs the scenario in real time on `test` images ([N,C,H,W] with labels). Throws IoError or
/// OptionError for models that cannot be opened before anything runs.
RunSummary run_scenario(const Scenario& sc, const Split& test, const RunOptions& o);

/// Writes the summary as JSON (atomically).
void write_summary_json(const std::vector<RunSummary>& runs, const std::string& path);

}  // namespace legodnn
