#pragma once
// Convenience for writing graphs by hand: tracks shapes as nodes are added, so a conv needs
// only its output channels. Torch-free.
#include <string>
#include <vector>

#include "legodnn/graph/graph.h"

namespace legodnn {

/// Builds a Graph node by node, inferring each node's shape as it goes.
class GraphBuilder {
 public:
  /// Starts a graph with one input node of per-sample shape `shape` ([C,H,W]).
  explicit GraphBuilder(const Shape& shape, const std::string& input_name = "input");

  /// conv2d; padding -1 means kernel/2 (same size at stride 1).
  std::string conv(const std::string& name, const std::string& in, int64_t out_channels,
                   int64_t kernel, int64_t stride = 1, int64_t padding = -1, int64_t groups = 1,
                   bool bias = false, int64_t dilation = 1);
  /// batch_norm2d over the input's channels.
  std::string bn(const std::string& name, const std::string& in, double eps = 1e-5,
                 double momentum = 0.1);
  /// A one-input op without attributes (relu, relu6, hardswish, silu, sigmoid, identity, flatten).
  std::string unary(const std::string& name, Op op, const std::string& in);
  /// max_pool2d or avg_pool2d; stride defaults to the kernel.
  std::string pool(const std::string& name, Op op, const std::string& in, int64_t kernel,
                   int64_t stride = -1, int64_t padding = 0);
  /// adaptive_avg_pool2d to out x out.
  std::string adaptive_avg_pool(const std::string& name, const std::string& in, int64_t out = 1);
  /// Element-wise sum of two or more same-shaped inputs.
  std::string add(const std::string& name, const std::vector<std::string>& ins);
  /// Element-wise product with broadcasting.
  std::string mul(const std::string& name, const std::string& a, const std::string& b);
  /// Concatenation along channels.
  std::string concat(const std::string& name, const std::vector<std::string>& ins);
  /// linear over a flat input.
  std::string linear(const std::string& name, const std::string& in, int64_t out_features,
                     bool bias = true);
  /// dropout with probability p.
  std::string dropout(const std::string& name, const std::string& in, double p);
  /// upsample by an integer scale ("nearest" or "bilinear").
  std::string upsample(const std::string& name, const std::string& in, int64_t scale,
                       const std::string& mode = "nearest");
  /// Adds any node; its shape is inferred and checked.
  std::string add_node(Node n);

  /// Per-sample shape of a node added so far.
  const Shape& shape(const std::string& name) const;
  /// Channels (first dimension) of a node added so far.
  int64_t channels(const std::string& name) const { return shape(name)[0]; }
  /// The graph built so far, validated.
  Graph finish() const;

 private:
  Graph g_;
  std::vector<Shape> shapes_;
};

}  // namespace legodnn
