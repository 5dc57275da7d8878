#pragma once
// Reports for people and tools: the tables and JSON documents the CLI prints for repositories,
// selections and model-grained sets (torch-free: manifests only; the blocks report is blocks.h).
// Each returns text; the caller decides where it goes.
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "legodnn/baseline/model_grained_manifest.h"
#include "legodnn/repository/manifest.h"
#include "legodnn/runtime/optimizer.h"

namespace legodnn {

/// A repository's summary, block table and profile table (`legodnn inspect`): the manifest of the
/// repository in `dir`.
std::string inspect_text(const std::string& dir, const Manifest& man);
/// The block table and the profile table as CSV: {"..._blocks.csv" text, "..._profiles.csv" text}.
std::pair<std::string, std::string> inspect_csv(const Manifest& man);

/// A scaling decision over repositories as JSON (`legodnn select --json`): per model the chosen
/// sparsities, estimated accuracy and latency and deadline excess. `names` are the models' names.
nlohmann::json selection_json(const ScalingDecision& d, const std::vector<const Manifest*>& manifests,
                              const std::vector<std::string>& repos, const std::vector<std::string>& names,
                              const std::string& solver, double solve_us);
/// The same decision as text.
std::string selection_text(const nlohmann::json& doc);

/// A model-grained set's variant table (`legodnn baseline`).
std::string baseline_table(const ModelGrainedManifest& man);

}  // namespace legodnn
