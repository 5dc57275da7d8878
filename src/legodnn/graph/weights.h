#pragma once
// Tensors of a graph, kept apart from its structure so analyses stay torch-free.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "legodnn/graph/graph.h"

namespace legodnn {

/// Parameter and buffer tensors of a graph, keyed by param_key(node, param).
using Weights = std::map<std::string, at::Tensor>;

/// A graph with its tensors.
struct Model {
  Graph graph;
  Weights weights;
};

/// Fresh weights: Kaiming-normal convs (fan out), unit batch norms, PyTorch-default linears.
Weights init_weights(const Graph& g, uint64_t seed);
/// Checks that every tensor the graph needs is present, float, and of the right shape, and that
/// nothing else is; throws GraphError naming the node and tensor.
void check_weights(const Graph& g, const Weights& w);
/// The trainable tensors in graph order (for an optimizer).
std::vector<at::Tensor> trainable_tensors(const Graph& g, const Weights& w);
/// Sets requires_grad on every trainable tensor of the graph (every loader does, so that a loaded
/// model can be fine-tuned); throws GraphError naming a missing one.
void require_grad_on_trainables(const Graph& g, Weights& w);
/// A deep copy (new storage) of every tensor.
Weights clone_weights(const Weights& w);

}  // namespace legodnn
