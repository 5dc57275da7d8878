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

/// Current version of a model folder's model.json ({"format": "legodnn-model", "version", "graph", "meta"}).
inline constexpr int kModelVersion = 1;
/// The graph of a model folder's model.json document, read from `source`; `meta` receives its
/// metadata when given. Throws IoError naming `source` and the field, GraphError for the graph.
Graph model_graph_from_json(const nlohmann::json& doc, const std::string& source, nlohmann::json* meta = nullptr);

}  // namespace legodnn
