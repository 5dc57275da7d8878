#pragma once
// Graph structure as JSON (torch-free; tensors are in serialize.h).
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "legodnn/graph/graph.h"

namespace legodnn {

/// The graph as a JSON value: {"format","version","output","nodes":[{name,op,inputs,attrs}]}.
nlohmann::json graph_to_json(const Graph& g);
/// Parses and validates a graph. Nodes may come in any order (they are sorted); a cycle, a
/// dangling edge, an unknown op or a bad shape throws GraphError naming `source` and the node.
Graph graph_from_json(const nlohmann::json& j, const std::string& source);

}  // namespace legodnn
