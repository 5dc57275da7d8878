#pragma once
// The blocks report (`legodnn blocks`): a model's blocks and their descendants' sizes. It reads
// descendants made by prune.h, so it sits on the tensor side; the manifest reports are tables.h.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "legodnn/blocks/prune.h"

namespace legodnn {

/// The blocks of `m` and each descendant's params and MACs as one JSON document (`legodnn blocks`).
nlohmann::json blocks_json(const Model& m, const std::string& name, const std::vector<BlockFamily>& families,
                           const std::vector<BlockSpec>& specs);
/// The same document as text.
std::string blocks_text(const nlohmann::json& doc);

}  // namespace legodnn
