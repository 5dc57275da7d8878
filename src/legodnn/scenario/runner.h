#pragma once
// Scenario runner (DESIGN.md sections 9 and 12): every active model serves its test
// images in its own thread; at each event (and when a deadline is at risk or the load eases) the
// optimizer re-solves for all models together, charging each switch for what it moves, and the
// switcher applies the result. One run
// uses one system: LegoDNN (blocks) or the model-grained baseline (whole models).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <map>
#include <string>
#include <vector>

#include "legodnn/runtime/miss_rate.h"
#include "legodnn/runtime/optimizer.h"
#include "legodnn/runtime/switch_cost.h"
#include "legodnn/scenario/scenario.h"

namespace legodnn {

class Servable;  // runtime/servable.h (tensors); this header stays torch-free for the reports
struct Split;

/// What the runner needs of one model under one system.
struct ModelSystem {
  ModelChoiceSpec spec;                          ///< profiled costs for the optimizer
  std::vector<std::vector<double>> sparsity;     ///< [block][option], for the records
  /// Opens the model serving `selection`; throws Error (or c10::Error) for a model that cannot be loaded.
  std::function<std::unique_ptr<Servable>(const std::vector<int>& selection)> open;
};

/// LegoDNN: a ScalableModel over the block repository `dir`.
ModelSystem legodnn_system(const std::string& dir, int warm_up_forwards = 0);
/// The model-grained baseline: whole-model variants in `dir` (legodnn baseline).
ModelSystem model_grained_system(const std::string& dir, int warm_up_forwards = 0);

enum class SystemKind { LegoDnn, ModelGrained };
const char* system_name(SystemKind k);

struct RunOptions {
  SystemKind system = SystemKind::LegoDnn;
  std::string csv;             ///< the per-step records (written atomically at the end); empty = none
  /// One row per inference (model, time, latency, deadline, missed, the serving state's version and
  /// the forwards since it began), written atomically at the end; empty = none.
  std::string inferences_csv;
  /// Deadlines as a miss-rate target: each model plans with profiled latency x a high quantile of
  /// its recent measured/profiled ratios x a feedback factor driven by the misses it observes.
  MissRateOptions miss;
  /// What a switch costs and the gain a switch that no budget forces must clear.
  SwitchPolicy switching;
  /// Between events, re-solve when a serving selection's planned latency breaks its deadline, or
  /// when a model's planning ratio fell by this fraction since the last solve (the hysteresis then
  /// decides whether to move).
  double recalibrate = 0.2;
  /// Forwards each system runs on a staged serving state before it commits (ServingState::
  /// warm_up), so that the serving thread does not pay for a new state's slow first forwards;
  /// and forwards each new serving thread runs on its first image before its first request
  /// (uncounted: a thread's own first forward was slow whatever the opening had run).
  int warm_up = 1;
  uint64_t seed = 0;           ///< where each model starts in the test set
  /// Test images of the models whose scenario entry names its own "data" folder, by model name
  /// (owned by the caller); every other model serves the `test` given to run_scenario.
  std::map<std::string, const Split*> model_tests;
  bool progress = true;        ///< a line per event on stderr
};

/// Per model, over the whole run.
struct ModelSummary {
  std::string name;
  int64_t inferences = 0, misses = 0;
  int64_t correct = 0;                ///< inferences whose top-1 label was right
  double mean_measured_accuracy = 0;  ///< mean over the steps the model was active of the rolling window
  double mean_estimated_accuracy = 0;
  int switches = 0, failed_switches = 0;
  int64_t bytes_moved = 0;            ///< read from disk or taken from the cache of inactive blocks
  int64_t bytes_from_disk = 0;        ///< of bytes_moved, those read from the repository's files
  double switch_ms = 0;
  int configurations = 0;             ///< distinct selections used
};

/// The run between two scenario events (the first begins at the start, the last ends at the end).
struct PhaseSummary {
  std::string began_with;             ///< the events that began it ("start" for the first)
  double start_s = 0, end_s = 0;
  int64_t inferences = 0, correct = 0, misses = 0;
  int64_t bytes_moved = 0;            ///< by the switches of the solve that began it and those within it
  int switches = 0;
};

struct RunSummary {
  std::string system;
  std::vector<ModelSummary> models;
  std::vector<PhaseSummary> phases;
  int solves = 0, infeasible_solves = 0;
  double median_solve_us = 0;
  int steps = 0;
  int memory_violations = 0;          ///< steps whose memory in use exceeded the budget
  double mean_measured_accuracy = 0;  ///< over models and steps
  double mean_estimated_accuracy = 0;
  int64_t inferences = 0, misses = 0, correct = 0;
  int64_t bytes_moved = 0, bytes_from_disk = 0;
  int switches = 0;
  double switch_ms = 0;
  int configurations = 0;
};

/// One row of the per-step records (RunOptions::csv); an empty optional or vector is an empty cell.
/// Rows are of three kinds: "event" (a scenario event, or a model that failed to open), "switch"
/// (one per model and solve: what the solve chose and what applying it did) and "step" (one per
/// serving model and step: what it measured since the last step).
struct RunRecord {
  std::string system;                       ///< "legodnn" or "model-grained"
  double t_s = 0;                           ///< seconds since the run started
  std::string kind;                         ///< "event", "switch" or "step"
  std::string model;                        ///< empty for an event that concerns no model
  std::string event;                        ///< the event; on a switch row, the reason for the solve
  std::optional<bool> feasible;             ///< switch: the solve met every budget
  std::optional<double> solve_us;           ///< switch: the solve's time
  std::vector<int> selection;               ///< switch, step: the selection serving (after the switch)
  std::vector<double> sparsities;           ///< switch, step: the sparsity of each block of `selection`
  std::optional<double> est_accuracy;       ///< switch: the solve's estimate; step: that of the serving selection
  std::optional<double> measured_accuracy;  ///< step: over the rolling window (empty before any inference)
  std::optional<double> est_latency_ms;     ///< as est_accuracy
  std::optional<double> measured_latency_ms;  ///< step: median since the last step (empty when none ran)
  std::optional<double> deadline_ms;        ///< the model's deadline (the solve plans against it with planning_ratio)
  std::optional<int64_t> inferences;        ///< step: since the last step
  std::optional<int64_t> misses;            ///< step: of those, over the deadline
  std::optional<int64_t> memory_bytes;      ///< switch, step: the model's memory in use
  std::optional<double> memory_budget_bytes;  ///< switch, step: the shared budget (inf: none)
  std::optional<int64_t> switch_bytes;      ///< switch: bytes read from disk or taken from the cache
  std::optional<double> switch_ms;          ///< switch: the switch's (or the opening's) whole time
  std::optional<double> latency_ratio;      ///< switch: measured/profiled latency the solve used; step: now
  // Columns added after the first 21:
  std::optional<bool> switch_ok;            ///< switch, and an event of a failed opening: the switch took effect
  std::string switch_error;                 ///< why the switch or the opening failed
  std::vector<int> planned_selection;       ///< switch, failed opening: the selection the solve chose
  std::optional<double> planning_ratio;     ///< switch: the ratio the solve planned with; step: now
  std::optional<double> miss_feedback;      ///< switch, step: the miss-rate controller's feedback factor
  std::string decision;                     ///< switch: why the solve moved or kept the serving selection
};

/// The records' column names, in order: the CSV header.
const std::vector<std::string>& run_record_columns();

/// Runs the scenario in real time on `test` images ([N,C,H,W] with labels). Throws IoError or
/// OptionError for models that cannot be opened before anything runs.
RunSummary run_scenario(const Scenario& sc, const Split& test, const RunOptions& o);

/// Serves every model of the scenario at its initial selection for `seconds` with each of
/// `systems` (no events, no memory budget, nothing recorded), so that the runs that follow start in
/// a warm process. Without it the first system of a process paid the process's one-off costs (its
/// first forwards of every kernel, lazily bound code): on the default and four-model scenarios
/// LegoDNN, which runs first, missed 2-7 deadlines in its first half second against the
/// baseline's 0-3; with it, the baseline none in six default runs (README, "Scenario file").
void warm_up_process(const Scenario& sc, const Split& test, const std::vector<SystemKind>& systems,
                     const RunOptions& o, double seconds);

/// Writes the summary as JSON (atomically).
void write_summary_json(const std::vector<RunSummary>& runs, const std::string& path);

}  // namespace legodnn
