#pragma once
// A three-node graph as JSON (input, a 3x3 conv, a relu), shared by the graph tests. Torch-free.
#include <nlohmann/json.hpp>

namespace legodnn::testing {

inline nlohmann::json tiny_graph_json() {
  return nlohmann::json::parse(R"({"nodes": [
    {"name": "input", "op": "input", "attrs": {"shape": [3, 8, 8]}},
    {"name": "c", "op": "conv2d", "inputs": ["input"],
     "attrs": {"in_channels": 3, "out_channels": 4, "kernel": [3, 3], "padding": [1, 1]}},
    {"name": "r", "op": "relu", "inputs": ["c"]}
  ]})");
}

}  // namespace legodnn::testing
