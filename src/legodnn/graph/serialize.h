#pragma once
// Graph structure as JSON; tensors as files that Python's torch.load opens (a dict of tensors).
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "legodnn/graph/weights.h"

namespace legodnn {

/// The graph as a JSON value: {"format","version","output","nodes":[{name,op,inputs,attrs}]}.
nlohmann::json graph_to_json(const Graph& g);
/// Parses and validates a graph. Nodes may come in any order (they are sorted); a cycle, a
/// dangling edge, an unknown op or a bad shape throws GraphError naming `source` and the node.
Graph graph_from_json(const nlohmann::json& j, const std::string& source);

/// Writes tensors atomically in PyTorch's pickle format (torch.load gives a dict name -> tensor).
void save_tensors(const std::string& path, const Weights& w);
/// Reads a file written by save_tensors (or by Python's torch.save of a dict of tensors);
/// throws IoError naming the file when it is missing or damaged.
Weights load_tensors(const std::string& path);

/// Saves a model to a folder: model.json (graph and `meta`) and weights.pt.
void save_model(const std::string& dir, const Model& m, const nlohmann::json& meta);
/// Loads a model folder written by save_model; checks the weights against the graph. Trainable
/// tensors come back with requires_grad set. `meta` receives the stored metadata when given.
Model load_model(const std::string& dir, nlohmann::json* meta = nullptr);

}  // namespace legodnn
