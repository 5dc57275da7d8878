#pragma once
// One entry per op: what the torch-free passes (validation, shape inference, graph_stats, channel
// groups, pruning) know about it. The entries live in graph/ops/<family>.cpp, listed in
// graph/op_list.h; the passes look an op up here and hold no per-op code. The ATen side of an op
// (its kernel) is in graph/ops/kernel.h. Torch-free.
#include <cstdint>
#include <string>
#include <vector>

#include "legodnn/graph/graph.h"

namespace legodnn {

/// How a tensor's channels map onto channel groups: consecutive segments (concat puts several side
/// by side). Used by the channel-group pass (blocks/channels.h) and by pruning.
struct ChannelSegment {
  int group = 0;
  int64_t offset = 0;  ///< first channel of the segment within the tensor
  int64_t count = 0;   ///< channels (features, for a flattened tensor: count * repeat)
  int64_t repeat = 1;  ///< > 1 after flatten: each channel becomes `repeat` consecutive features
};
/// A tensor's channel layout.
using ChannelLayout = std::vector<ChannelSegment>;
/// Number of channels (features) a layout covers.
int64_t layout_width(const ChannelLayout& l);

/// What an op's channel rule may ask and do, for the node being analysed; implemented by the
/// channel-group pass (blocks/channels.cpp).
class ChannelCoupling {
 public:
  virtual ~ChannelCoupling() = default;
  /// Layout of input j.
  virtual const ChannelLayout& input(size_t j) const = 0;
  /// Shape of input j.
  virtual const Shape& input_shape(size_t j) const = 0;
  /// Shape of the node's output.
  virtual const Shape& output_shape() const = 0;
  /// A new group of `channels` channels; `produced`: the node's filters produce it (conv, linear).
  virtual ChannelLayout fresh(int64_t channels, bool produced) = 0;
  /// Records the node as a producer of every group in `l` (a depthwise conv).
  virtual void add_producer(const ChannelLayout& l) = 0;
  /// Couples two layouts channel by channel (freezes both where their segments do not line up).
  virtual void couple(const ChannelLayout& a, const ChannelLayout& b) = 0;
  /// Freezes every group of `l`, giving the reason.
  virtual void freeze(const ChannelLayout& l, const std::string& why) = 0;
  /// The channels of every group of `l` go in runs of `unit` (a grouped conv's groups): pruning
  /// keeps or drops whole runs. Where runs cannot line up (a segment not a multiple of `unit`, a
  /// flattened layout), the groups are frozen with `why`.
  virtual void require_unit(const ChannelLayout& l, int64_t unit, const std::string& why) = 0;
};

/// Kept channel (feature) indices of a node being pruned: its output's and each input's.
struct PruneIndices {
  std::vector<int64_t> output;
  std::vector<std::vector<int64_t>> inputs;
};
/// One step of slicing a tensor when a node is pruned: keep `index` along `dim`.
struct ParamSlice {
  std::string param;  ///< "weight", "bias", ...
  int64_t dim = 0;
  std::vector<int64_t> index;
};

/// Everything the torch-free passes know about one op.
struct OpInfo {
  /// Output shape from the inputs' shapes; checks the arity, attributes and input shapes and
  /// throws GraphError naming the node.
  Shape (*shape)(const Node& n, const std::vector<Shape>& inputs);
  /// The node's parameters and buffers (checks the attributes they follow from); nullptr: none.
  std::vector<ParamSpec> (*params)(const Node& n);
  /// Multiply-adds per sample; nullptr: none counted (only conv2d and linear count, DESIGN.md 3).
  int64_t (*macs)(const Node& n, const Shape& output);
  /// The output's channel layout from the inputs' (and the couplings this op makes).
  ChannelLayout (*channels)(const Node& n, ChannelCoupling& c);
  /// Pruning: rewrites the node's attributes for the kept channels and says how to slice its
  /// tensors (a tensor no slice names is copied whole); nullptr: nothing to rewrite.
  std::vector<ParamSlice> (*prune)(Node& n, const PruneIndices& keep);
};

/// The entry of an op.
const OpInfo& op_info(Op op);

}  // namespace legodnn
