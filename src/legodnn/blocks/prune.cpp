#include "legodnn/blocks/prune.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

#include <ATen/ATen.h>

#include "legodnn/graph/op.h"
#include "legodnn/util/error.h"

namespace legodnn {
namespace {

at::Tensor select(const at::Tensor& t, int64_t dim, const std::vector<int64_t>& idx) {
  if (static_cast<int64_t>(idx.size()) == t.size(dim)) return t.detach().clone();
  return t.detach().index_select(dim, at::tensor(idx, at::kLong)).contiguous();
}

}  // namespace

std::vector<std::vector<double>> channel_importance(const Graph& block, const Weights& w,
                                                    const ChannelAnalysis& ca) {
  std::vector<std::vector<double>> imp(ca.groups.size());
  for (size_t gi = 0; gi < ca.groups.size(); ++gi) {
    const auto& grp = ca.groups[gi];
    imp[gi].assign(grp.channels, 0.0);
    for (const auto& p : grp.producers) {
      at::Tensor wt = w.at(param_key(p, "weight")).detach();
      const Node& n = block.node(p);
      // Rows of the producer's output that belong to this group (a producer may feed a
      // concatenation at an offset only through its own output, which is one whole group).
      at::Tensor l1 = wt.abs().reshape({wt.size(0), -1}).sum(1).to(at::kDouble);
      if (l1.size(0) != grp.channels)
        throw GraphError("node '" + n.name + "': producer width " + std::to_string(l1.size(0)) +
                         " differs from its channel group's " + std::to_string(grp.channels));
      auto acc = l1.accessor<double, 1>();
      for (int64_t c = 0; c < grp.channels; ++c) imp[gi][c] += acc[c];
    }
  }
  return imp;
}

Model prune_block(const Graph& block, const Weights& w, const ChannelAnalysis& ca,
                  const std::vector<std::vector<int64_t>>& keep) {
  Model out;
  for (auto& p : prune_plan(block, ca, keep)) {
    for (const auto& spec : p.params) {
      auto key = param_key(p.node.name, spec.name);
      at::Tensor t = w.at(key);
      bool sliced = false;
      for (const auto& sl : p.slices)
        if (sl.param == spec.name) {
          t = select(t, sl.dim, sl.index);
          sliced = true;
        }
      out.weights.emplace(key, sliced ? t : t.detach().clone());
    }
    out.graph.add(std::move(p.node));
  }
  out.graph.set_output(block.output());
  require_grad_on_trainables(out.graph, out.weights);
  out.graph.validate();
  return out;
}

Weights block_weights(const Graph& block, const Weights& mw) {
  Weights w;
  for (const auto& n : block.nodes())
    for (const auto& p : param_specs(n)) {
      auto key = param_key(n.name, p.name);
      w.emplace(key, mw.at(key));
    }
  return w;
}

std::vector<BlockFamily> make_descendants(const Model& m, const std::vector<BlockSpec>& blocks,
                                          const std::vector<double>& sparsities) {
  std::vector<BlockFamily> fams;
  for (const auto& b : blocks) {
    BlockFamily f;
    f.spec = b;
    f.original = block_graph(m.graph, b);
    f.sparsities = sparsities;
    Weights w = block_weights(f.original, m.weights);
    auto ca = analyse_channels(f.original);
    auto imp = channel_importance(f.original, w, ca);
    for (double s : sparsities) {
      if (s == 0.0) {
        f.descendants.push_back({f.original, clone_weights(w)});  // the original, bit for bit
        continue;
      }
      f.descendants.push_back(prune_block(f.original, w, ca, kept_channels(ca, imp, s)));
    }
    fams.push_back(std::move(f));
  }
  return fams;
}

Model compose(const Model& teacher, const std::vector<BlockFamily>& families, const std::vector<int>& choice) {
  if (choice.size() != families.size())
    throw OptionError("a composition needs one choice per block: got " + std::to_string(choice.size()) +
                      " for " + std::to_string(families.size()) + " blocks");
  std::vector<std::vector<std::string>> nodes;
  std::vector<const Model*> chosen;
  for (size_t i = 0; i < families.size(); ++i) {
    if (choice[i] < 0 || choice[i] >= static_cast<int>(families[i].descendants.size()))
      throw OptionError("block " + std::to_string(i) + ": choice " + std::to_string(choice[i]) +
                        " is out of range 0.." + std::to_string(families[i].descendants.size() - 1));
    nodes.push_back(families[i].spec.nodes);
    chosen.push_back(&families[i].descendants[choice[i]]);
  }
  return assemble(teacher.graph, teacher.weights, nodes, chosen);
}

Model assemble(const Graph& teacher, const Weights& outside,
               const std::vector<std::vector<std::string>>& block_nodes,
               const std::vector<const Model*>& chosen) {
  std::unordered_map<std::string, const Model*> owner;  // block node -> chosen descendant
  for (size_t i = 0; i < block_nodes.size(); ++i)
    for (const auto& name : block_nodes[i]) owner[name] = chosen.at(i);
  Model out;
  for (const auto& n : teacher.nodes()) {
    auto it = owner.find(n.name);
    const Node& node = it == owner.end() ? n : it->second->graph.node(n.name);
    const Weights& src = it == owner.end() ? outside : it->second->weights;
    for (const auto& p : param_specs(node)) {
      auto key = param_key(node.name, p.name);
      out.weights.emplace(key, src.at(key));
    }
    out.graph.add(node);
  }
  out.graph.set_output(teacher.output());
  out.graph.validate();
  return out;
}

}  // namespace legodnn
