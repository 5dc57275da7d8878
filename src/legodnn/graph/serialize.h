#pragma once
// Tensors as files that Python's torch.load opens (a dict of tensors), and model folders (graph
// JSON + tensors). The graph's JSON form alone is graph_json.h (torch-free).
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "legodnn/graph/graph_json.h"
#include "legodnn/graph/weights.h"

namespace legodnn {

/// Writes tensors atomically in PyTorch's pickle format (torch.load gives a dict name -> tensor).
void save_tensors(const std::string& path, const Weights& w);
/// Reads a file written by save_tensors (or by Python's torch.save of a dict of tensors);
/// throws IoError naming the file when it is missing or damaged.
Weights load_tensors(const std::string& path);
/// The tensors of a tensor file's bytes (what load_tensors does once the file is read): the zip's
/// CRC-32s checked, the pickle's opcodes walked (util/pickle_check.h), then unpickled; NaN or
/// infinite weights refused. Errors start with `source`.
Weights tensors_from_bytes(const std::string& bytes, const std::string& source);

/// Saves a model to a folder: model.json (graph and `meta`) and weights.pt.
void save_model(const std::string& dir, const Model& m, const nlohmann::json& meta);
/// Loads a model folder written by save_model; checks the weights against the graph. Trainable
/// tensors come back with requires_grad set. `meta` receives the stored metadata when given.
Model load_model(const std::string& dir, nlohmann::json* meta = nullptr);

}  // namespace legodnn
