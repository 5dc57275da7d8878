#pragma once
// Block detection (DESIGN.md section 4): cut points, segments, and blocks. Torch-free.
#include <string>
#include <utility>
#include <vector>

#include "legodnn/graph/graph.h"

namespace legodnn {

/// A run of consecutive graph nodes with one entry tensor and one exit tensor.
struct BlockSpec {
  int id = 0;
  std::string entry;               ///< node whose output enters the block (not part of it)
  std::string exit;                ///< last node of the block; its output leaves the block
  std::vector<std::string> nodes;  ///< the block's nodes, in graph order
  int convs = 0;                   ///< conv2d nodes inside
};

/// Detection options.
struct DetectOptions {
  int max_convs = 3;          ///< at most this many conv2d nodes per block
  double max_ratio = 0.0;     ///< > 0: max_convs = max(floor(max_ratio * total convs), 2)
  bool cross_stages = false;  ///< let a block span a change of spatial resolution
};

/// Nodes whose output every input-to-output path passes through, in graph order (input first,
/// output last). Only nodes on some input-to-output path are considered.
std::vector<std::string> cut_points(const Graph& g);

/// Blocks by the rules of DESIGN.md section 4: segments between cut points (a segment without
/// convs joins the one before it), grouped into blocks within a stage of equal resolution and at
/// most max_convs convs; a run whose convs touch no prunable channel group stays in the frame.
std::vector<BlockSpec> detect_blocks(const Graph& g, const DetectOptions& o = {});

/// Blocks given as (first node, last node) pairs: each block is the nodes from first to last in
/// graph order. Throws GraphError saying why a pair is not single-entry single-exit.
std::vector<BlockSpec> explicit_blocks(const Graph& g,
                                       const std::vector<std::pair<std::string, std::string>>& pairs);

/// The frame: names of the nodes outside every block, in graph order.
std::vector<std::string> frame_nodes(const Graph& g, const std::vector<BlockSpec>& blocks);

/// The block as a graph of its own: an input node named after the entry (with the entry's
/// shape), then the block's nodes; the output is the exit.
Graph block_graph(const Graph& g, const BlockSpec& b);

}  // namespace legodnn
