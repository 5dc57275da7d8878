#include "legodnn/graph/fold.h"

#include <unordered_map>

#include <ATen/ATen.h>

namespace legodnn {

Model fold_batch_norm(const Model& m) {
  const Graph& g = m.graph;
  auto cons = g.consumers();
  std::unordered_map<std::string, std::string> alias;  // folded bn -> its conv
  std::unordered_map<std::string, std::string> bn_of;  // conv -> bn folded into it
  for (size_t k = 0; k < g.size(); ++k) {
    const Node& n = g.nodes()[k];
    if (n.op != Op::BatchNorm2d) continue;
    int src = g.index(n.inputs[0]);
    const Node& conv = g.nodes()[src];
    if (conv.op != Op::Conv2d || cons[src].size() != 1 || conv.name == g.output()) continue;
    alias[n.name] = conv.name;
    bn_of[conv.name] = n.name;
  }
  Model out;
  at::NoGradGuard no_grad;
  for (const auto& n : g.nodes()) {
    if (alias.count(n.name)) continue;
    Node c = n;
    for (auto& in : c.inputs)
      if (alias.count(in)) in = alias.at(in);
    auto it = bn_of.find(n.name);
    if (it == bn_of.end()) {
      for (const auto& p : param_specs(n)) {
        auto key = param_key(n.name, p.name);
        out.weights.emplace(key, m.weights.at(key).detach());
      }
    } else {
      const Node& bn = g.node(it->second);
      auto w = m.weights.at(param_key(n.name, "weight")).detach();
      auto gamma = m.weights.at(param_key(bn.name, "weight")).detach();
      auto beta = m.weights.at(param_key(bn.name, "bias")).detach();
      auto mean = m.weights.at(param_key(bn.name, "running_mean")).detach();
      auto var = m.weights.at(param_key(bn.name, "running_var")).detach();
      // Do the arithmetic in double so the fused result is as close as float allows.
      auto scale = gamma.to(at::kDouble) / at::sqrt(var.to(at::kDouble) + bn.f("eps", 1e-5));
      auto b = n.i("bias", 0) ? m.weights.at(param_key(n.name, "bias")).detach().to(at::kDouble)
                              : at::zeros_like(mean, at::kDouble);
      auto new_w = (w.to(at::kDouble) * scale.view({-1, 1, 1, 1})).to(at::kFloat).contiguous();
      auto new_b = (beta.to(at::kDouble) + (b - mean.to(at::kDouble)) * scale).to(at::kFloat);
      c.attrs["bias"] = int64_t{1};
      out.weights.emplace(param_key(n.name, "weight"), new_w);
      out.weights.emplace(param_key(n.name, "bias"), new_b);
    }
    out.graph.add(std::move(c));
  }
  std::string o = g.output();
  out.graph.set_output(alias.count(o) ? alias.at(o) : o);
  return out;
}

}  // namespace legodnn
