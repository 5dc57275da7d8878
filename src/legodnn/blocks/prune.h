#pragma once
// Descendant blocks by structured channel pruning (DESIGN.md section 5), and composed models: the
// tensor side. Which channels are kept and the index maps are prune_plan.h (torch-free).
#include <cstdint>
#include <vector>

#include "legodnn/blocks/channels.h"
#include "legodnn/blocks/detect.h"
#include "legodnn/blocks/prune_plan.h"
#include "legodnn/graph/weights.h"

namespace legodnn {

/// Per channel group, the importance of each channel: the L1 norm of the filters (conv output
/// filters, linear rows) that produce it, summed over the group's producers.
std::vector<std::vector<double>> channel_importance(const Graph& block, const Weights& w,
                                                    const ChannelAnalysis& ca);

/// A new, physically smaller block (graph + sliced weights) keeping `keep` channels per group.
/// The interface (input and output shapes) is unchanged.
Model prune_block(const Graph& block, const Weights& w, const ChannelAnalysis& ca,
                  const std::vector<std::vector<int64_t>>& keep);

/// One block's descendants, one per sparsity (sparsity 0 is the original, bit for bit).
struct BlockFamily {
  BlockSpec spec;
  Graph original;                    ///< the block as a graph of its own (block_graph)
  std::vector<double> sparsities;
  std::vector<Model> descendants;    ///< same order as sparsities
};

/// The weights of the block's nodes, taken from the whole model's weights (shared storage).
Weights block_weights(const Graph& block, const Weights& model_weights);

/// Builds the descendants of every block of a model.
std::vector<BlockFamily> make_descendants(const Model& m, const std::vector<BlockSpec>& blocks,
                                          const std::vector<double>& sparsities);

/// The teacher graph with the nodes of block i (`block_nodes[i]`) taken from `chosen[i]` (graph and
/// weights) and every other node's tensors from `outside`: a model the executor runs.
Model assemble(const Graph& teacher, const Weights& outside,
               const std::vector<std::vector<std::string>>& block_nodes,
               const std::vector<const Model*>& chosen);

/// The frame of `teacher` plus, for each block, the chosen descendant: a model the executor runs.
/// `choice[i]` indexes families[i].descendants.
Model compose(const Model& teacher, const std::vector<BlockFamily>& families,
              const std::vector<int>& choice);

}  // namespace legodnn
