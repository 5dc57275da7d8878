#pragma once
// Multi-DNN scenarios (DESIGN.md section 9): the models a device runs and a timeline of resource
// events. Torch-free: parsing and validation only; runner.h executes them.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "legodnn/runtime/optimizer.h"

namespace legodnn {

/// One model of a scenario.
struct ScenarioModel {
  std::string name;
  std::string repo;        ///< block repository (LegoDNN)
  std::string baseline;    ///< whole-model variants (model-grained baseline); may be empty
  std::string data;        ///< its own images (Fashion-MNIST or an image folder); empty = the run's --data
  double deadline_ms = std::numeric_limits<double>::infinity();
  double weight = 1;
  double rate_hz = 0;      ///< requests per second; 0 = serve back to back
  bool active = true;      ///< running from the start (false: arrives with an event)
};

/// One resource event.
struct ScenarioEvent {
  enum class Kind { Memory, Deadline, Arrive, Leave, CpuLoad };
  double at_s = 0;
  Kind kind = Kind::Memory;
  std::string model;       ///< Deadline, Arrive, Leave
  double value = 0;        ///< Memory: MB; Deadline: ms; CpuLoad: busy threads (0 = off)
  std::string describe() const;
};

/// A whole scenario.
struct Scenario {
  std::string name;
  double duration_s = 10;
  double step_s = 0.5;          ///< how often the runner records a row per model
  double memory_mb = std::numeric_limits<double>::infinity();
  Objective objective = Objective::Sum;
  bool processor_share = false;
  int window = 200;             ///< labelled images in the rolling accuracy window
  /// When the models' requests come: "staggered" (default; model k of n, in file order, at k/n of
  /// its period past each period's start, as independent apps' timers or cameras would) or
  /// "aligned" (every model's requests at the same instants, as if all read one camera's frames:
  /// they contend for the cores at every frame).
  bool aligned_arrivals = false;
  std::vector<ScenarioModel> models;
  std::vector<ScenarioEvent> events;  ///< sorted by time (stable)
};

/// Parses and validates a scenario; `source` names the file in errors. Relative repository paths
/// are resolved against `base_dir` when it is not empty. Throws OptionError naming the field.
Scenario parse_scenario(const nlohmann::json& j, const std::string& source, const std::string& base_dir = "");
/// Reads a scenario file (JSON). Throws IoError when unreadable, OptionError when invalid.
Scenario load_scenario(const std::string& path);

}  // namespace legodnn
