#include "legodnn/graph/fold.h"

#include <unordered_map>
#include <unordered_set>

#include <ATen/ATen.h>

namespace legodnn {

Model fold_batch_norm(const Model& m) {
  const Graph& g = m.graph;
  auto cons = g.consumers();
  std::unordered_set<std::string> folded_bn;
  std::unordered_map<std::string, std::string> bn_of;  // conv -> the batch norm folded into it
  for (size_t k = 0; k < g.size(); ++k) {
    const Node& n = g.nodes()[k];
    if (n.op != Op::BatchNorm2d) continue;
    int src = g.index(n.inputs[0]);
    const Node& conv = g.nodes()[src];
    if (conv.op != Op::Conv2d || cons[src].size() != 1 || conv.name == g.output()) continue;
    folded_bn.insert(n.name);
    bn_of[conv.name] = n.name;
  }
  Model out;
  at::NoGradGuard no_grad;
  for (const auto& n : g.nodes()) {
    if (folded_bn.count(n.name)) continue;
    auto it = bn_of.find(n.name);
    if (it == bn_of.end()) {
      for (const auto& p : param_specs(n)) {
        auto key = param_key(n.name, p.name);
        out.weights.emplace(key, m.weights.at(key).detach());
      }
      out.graph.add(n);
      continue;
    }
    // The fused conv takes the batch norm's name, so every reader (and any tap) of the batch
    // norm's output finds it unchanged; the conv's own output had no other reader.
    const Node& bn = g.node(it->second);
    Node c = n;
    c.name = bn.name;
    c.attrs["bias"] = int64_t{1};
    auto w = m.weights.at(param_key(n.name, "weight")).detach();
    auto gamma = m.weights.at(param_key(bn.name, "weight")).detach();
    auto beta = m.weights.at(param_key(bn.name, "bias")).detach();
    auto mean = m.weights.at(param_key(bn.name, "running_mean")).detach();
    auto var = m.weights.at(param_key(bn.name, "running_var")).detach();
    // Do the arithmetic in double so the fused result is as close as float allows.
    auto scale = gamma.to(at::kDouble) / at::sqrt(var.to(at::kDouble) + bn.f("eps", 1e-5));
    auto b = n.i("bias", 0) ? m.weights.at(param_key(n.name, "bias")).detach().to(at::kDouble)
                            : at::zeros_like(mean, at::kDouble);
    out.weights.emplace(param_key(c.name, "weight"),
                        (w.to(at::kDouble) * scale.view({-1, 1, 1, 1})).to(at::kFloat).contiguous());
    out.weights.emplace(param_key(c.name, "bias"),
                        (beta.to(at::kDouble) + (b - mean.to(at::kDouble)) * scale).to(at::kFloat));
    out.graph.add(std::move(c));
  }
  out.graph.set_output(g.output());
  return out;
}

}  // namespace legodnn
