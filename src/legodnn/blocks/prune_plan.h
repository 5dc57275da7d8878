#pragma once
// The torch-free half of structured channel pruning (DESIGN.md section 5): which channels each
// group keeps at a sparsity, and how every node of a block and its tensors change when they are
// kept (the index maps). Slicing the tensors by these maps is prune.h.
#include <cstdint>
#include <vector>

#include "legodnn/blocks/channels.h"
#include "legodnn/graph/graph.h"
#include "legodnn/graph/op.h"

namespace legodnn {

/// The default sparsities: 0.0 0.2 0.4 0.6 0.8.
std::vector<double> default_sparsities();

/// Channels kept per group at sparsity s: C - floor(s*C) (at least 1) of the most important ones,
/// in ascending index order; frozen groups keep all. A group whose channels go in runs (unit > 1,
/// a grouped conv) keeps R - floor(s*R) of its R runs, ranked by their summed importance.
/// `importance` is per group and channel (for example channel_importance in prune.h).
std::vector<std::vector<int64_t>> kept_channels(const ChannelAnalysis& ca,
                                                const std::vector<std::vector<double>>& importance,
                                                double sparsity);

/// Kept indices of a tensor dimension whose channels are laid out as `layout` (features after a
/// flatten repeat each channel), given the kept channels of every group.
std::vector<int64_t> kept_indices(const ChannelLayout& layout, const std::vector<std::vector<int64_t>>& keep);

/// One node of a pruned block: the node rewritten for the kept channels, the tensors it carries
/// over (those of the original node) and the slices they take (a tensor no slice names is copied whole).
struct PrunedNode {
  Node node;
  std::vector<ParamSpec> params;
  std::vector<ParamSlice> slices;
};

/// Every node of `block` (in order) pruned to keep `keep` channels per group of `ca`.
std::vector<PrunedNode> prune_plan(const Graph& block, const ChannelAnalysis& ca,
                                   const std::vector<std::vector<int64_t>>& keep);

}  // namespace legodnn
