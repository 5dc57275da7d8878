#include "legodnn/blocks/prune_plan.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "legodnn/util/error.h"

namespace legodnn {

std::vector<double> default_sparsities() { return {0.0, 0.2, 0.4, 0.6, 0.8}; }

std::vector<int64_t> kept_indices(const ChannelLayout& layout, const std::vector<std::vector<int64_t>>& keep) {
  std::vector<int64_t> idx;
  for (const auto& s : layout)
    for (int64_t c : keep[s.group])
      for (int64_t r = 0; r < s.repeat; ++r) idx.push_back(s.offset + c * s.repeat + r);
  return idx;
}

std::vector<std::vector<int64_t>> kept_channels(const ChannelAnalysis& ca,
                                                const std::vector<std::vector<double>>& importance,
                                                double s) {
  if (!(s >= 0.0 && s < 1.0)) throw OptionError("sparsity must be in [0, 1), got " + std::to_string(s));
  std::vector<std::vector<int64_t>> keep(ca.groups.size());
  for (size_t gi = 0; gi < ca.groups.size(); ++gi) {
    int64_t c = ca.groups[gi].channels;
    std::vector<int64_t> all(c);
    std::iota(all.begin(), all.end(), 0);
    if (ca.groups[gi].frozen || s == 0.0) {
      keep[gi] = all;
      continue;
    }
    // Whole runs of `unit` channels (a grouped conv's groups), ranked by their summed importance.
    const int64_t unit = ca.groups[gi].unit, runs = c / unit;
    // The epsilon keeps products like 0.6 * 5 = 3.0000000000000004 from losing a channel.
    int64_t n = std::max<int64_t>(1, runs - static_cast<int64_t>(std::floor(s * runs + 1e-9)));
    std::vector<double> imp(runs, 0.0);
    for (int64_t ch = 0; ch < c; ++ch) imp[ch / unit] += importance[gi][ch];
    std::vector<int64_t> order(runs);
    std::iota(order.begin(), order.end(), 0);
    // Most important first; ties broken by the lower index, so the choice is deterministic.
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return imp[a] > imp[b]; });
    order.resize(n);
    std::sort(order.begin(), order.end());
    keep[gi].clear();
    for (int64_t r : order)
      for (int64_t ch = r * unit; ch < (r + 1) * unit; ++ch) keep[gi].push_back(ch);
  }
  return keep;
}

std::vector<PrunedNode> prune_plan(const Graph& block, const ChannelAnalysis& ca,
                                   const std::vector<std::vector<int64_t>>& keep) {
  std::vector<PrunedNode> plan;
  for (size_t k = 0; k < block.size(); ++k) {
    PrunedNode p{block.nodes()[k], {}, {}};
    p.params = param_specs(p.node);  // the tensors to carry over, before the rule rewrites the node
    if (auto rule = op_info(p.node.op).prune) {
      PruneIndices idx;
      idx.output = kept_indices(ca.layout[k], keep);
      for (const auto& in : p.node.inputs) idx.inputs.push_back(kept_indices(ca.layout[block.index(in)], keep));
      p.slices = rule(p.node, idx);
    }
    plan.push_back(std::move(p));
  }
  return plan;
}

}  // namespace legodnn
