#pragma once
// Channel groups inside a block (DESIGN.md section 5): channels that must be pruned together,
// found by union-find over the couplings each op's channel rule (graph/op.h) makes. Torch-free.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "legodnn/graph/graph.h"
#include "legodnn/graph/op.h"  // ChannelSegment

namespace legodnn {

/// One group of coupled channels. All its members have the same channel count.
struct ChannelGroup {
  int id = 0;
  int64_t channels = 0;
  int64_t unit = 1;                    ///< channels go in runs of `unit` (whole groups of a grouped conv)
  bool frozen = false;                 ///< reaches the block's input or output, or a coupling we cannot prune
  std::string why_frozen;              ///< "block input", "block output", "grouped conv g" ...
  std::vector<std::string> producers;  ///< conv2d / linear nodes whose output channels are this group
};

/// The channel groups of a block graph (as built by block_graph) and each node's layout.
struct ChannelAnalysis {
  std::vector<ChannelGroup> groups;
  /// Per node of the block graph (by index), its output's layout; empty for shapeless outputs.
  std::vector<std::vector<ChannelSegment>> layout;
  /// Number of groups that may be pruned.
  int prunable() const;
};

/// Analyses a single-input graph: the input's and the output's channels are frozen.
ChannelAnalysis analyse_channels(const Graph& block);

}  // namespace legodnn
