#pragma once
// Runs a graph with ATen ops: autograd works in training mode; serving wraps calls in
// at::InferenceMode. The graph is compiled once into a flat list of steps, each with its op's
// kernel (graph/ops/kernel.h) resolved and its attributes and tensors read.
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "legodnn/graph/graph.h"
#include "legodnn/graph/ops/kernel.h"
#include "legodnn/graph/weights.h"

namespace legodnn {

/// A compiled graph. Holds handles to the weight tensors given at construction (shared storage:
/// in-place updates by an optimizer are seen; replacing a map entry afterwards is not).
class Executor {
 public:
  /// Validates the graph and weights and compiles them; throws GraphError naming the node.
  Executor(const Graph& g, const Weights& w);

  /// Runs the graph on a batch [N,...]; `training` selects batch statistics and active dropout.
  at::Tensor forward(const at::Tensor& x, bool training = false) const;
  /// Runs the graph and returns the outputs of the named nodes (taps), in the order given.
  /// Stops after the last node a tap needs.
  std::vector<at::Tensor> run_taps(const at::Tensor& x, const std::vector<std::string>& taps,
                                   bool training = false) const;
  /// Overrides the momentum of every batch norm (training mode); momentum 1/(k+1) at the k-th
  /// batch gives the plain average of batch statistics, used to re-estimate running statistics.
  void set_batch_norm_momentum(double momentum);

 private:
  void execute(const at::Tensor& x, bool training, int last, const std::vector<char>* keep,
               std::vector<at::Tensor>& vals) const;

  std::vector<KernelStep> steps_;
  int input_ = 0;
  int output_ = 0;
  std::vector<std::string> names_;
};

}  // namespace legodnn
