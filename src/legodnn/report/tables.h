#pragma once
// Reports for people and tools: the tables and JSON documents the CLI prints for repositories,
// blocks, selections and model-grained sets. Each returns text; the caller decides where it goes.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "legodnn/baseline/model_grained.h"
#include "legodnn/blocks/prune.h"
#include "legodnn/repository/repository.h"
#include "legodnn/runtime/optimizer.h"

namespace legodnn {

/// A repository's summary, block table and profile table (`legodnn inspect`).
std::string inspect_text(const Repository& repo);
/// The block table and the profile table as CSV: {"..._blocks.csv" text, "..._profiles.csv" text}.
std::pair<std::string, std::string> inspect_csv(const Repository& repo);

/// The blocks of `m` and each descendant's params and MACs as one JSON document (`legodnn blocks`).
nlohmann::json blocks_json(const Model& m, const std::string& name, const std::vector<BlockFamily>& families,
                           const std::vector<BlockSpec>& specs);
/// The same document as text.
std::string blocks_text(const nlohmann::json& doc);

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
