#include "legodnn/graph/weights.h"

#include <cmath>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "legodnn/util/error.h"
#include "legodnn/util/format.h"

namespace legodnn {

Weights init_weights(const Graph& g, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  Weights w;
  for (const auto& n : g.nodes()) {
    for (const auto& p : param_specs(n)) {
      at::Tensor t = at::empty(p.shape, at::kFloat);
      switch (p.init) {
        case ParamInit::KaimingNormalFanOut: {  // for ReLU networks, as torchvision's ResNets
          int64_t fan_out = p.shape[0] * p.shape[2] * p.shape[3];
          t.normal_(0.0, std::sqrt(2.0 / static_cast<double>(fan_out)), gen);
          break;
        }
        case ParamInit::UniformFanIn: {  // PyTorch's default for linear layers
          double bound = 1.0 / std::sqrt(static_cast<double>(p.fan_in));
          t.uniform_(-bound, bound, gen);
          break;
        }
        case ParamInit::Ones: t.fill_(1.0); break;
        case ParamInit::Zeros: t.zero_(); break;
      }
      if (p.trainable) t.requires_grad_(true);
      w.emplace(param_key(n.name, p.name), t);
    }
  }
  return w;
}

void check_weights(const Graph& g, const Weights& w) {
  size_t expected = 0;
  for (const auto& n : g.nodes()) {
    for (const auto& p : param_specs(n)) {
      ++expected;
      auto key = param_key(n.name, p.name);
      auto it = w.find(key);
      if (it == w.end()) throw GraphError("node '" + n.name + "': tensor '" + key + "' is missing");
      const at::Tensor& t = it->second;
      if (!t.defined() || t.scalar_type() != at::kFloat)
        throw GraphError("node '" + n.name + "': tensor '" + key + "' must be float32");
      if (t.sizes().vec() != p.shape)
        throw GraphError("node '" + n.name + "': tensor '" + key + "' has shape " + shape_string(t.sizes().vec()) +
                         " but the node needs " + shape_string(p.shape));
    }
  }
  if (w.size() != expected) {
    for (const auto& [key, t] : w) {
      auto dot = key.rfind('.');
      std::string node = key.substr(0, dot);
      bool known = false;
      if (dot != std::string::npos && g.contains(node))
        for (const auto& p : param_specs(g.node(node))) known |= p.name == key.substr(dot + 1);
      if (!known) throw GraphError("tensor '" + key + "' belongs to no node of the graph");
    }
  }
}

std::vector<at::Tensor> trainable_tensors(const Graph& g, const Weights& w) {
  std::vector<at::Tensor> out;
  for (const auto& n : g.nodes())
    for (const auto& p : param_specs(n))
      if (p.trainable) out.push_back(w.at(param_key(n.name, p.name)));
  return out;
}

void require_grad_on_trainables(const Graph& g, Weights& w) {
  for (const auto& n : g.nodes())
    for (const auto& p : param_specs(n)) {
      if (!p.trainable) continue;
      auto it = w.find(param_key(n.name, p.name));
      if (it == w.end()) throw GraphError("node '" + n.name + "': tensor '" + param_key(n.name, p.name) + "' is missing");
      it->second.requires_grad_(true);
    }
}

Weights clone_weights(const Weights& w) {
  Weights out;
  for (const auto& [k, t] : w) {
    at::Tensor c = t.detach().clone();
    c.requires_grad_(t.requires_grad());
    out.emplace(k, c);
  }
  return out;
}

}  // namespace legodnn
