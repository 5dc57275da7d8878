#include "legodnn/graph/executor.h"

#include <algorithm>

#include "legodnn/util/error.h"

namespace legodnn {

Executor::Executor(const Graph& g, const Weights& w) {
  g.validate();
  check_weights(g, w);
  auto cons = g.consumers();
  input_ = g.index(g.input());
  output_ = g.index(g.output());
  const auto& nodes = g.nodes();
  std::vector<int> last_use(nodes.size(), -1);
  for (size_t k = 0; k < nodes.size(); ++k)
    for (int c : cons[k]) last_use[k] = std::max(last_use[k], c);
  steps_.resize(nodes.size());
  for (size_t k = 0; k < nodes.size(); ++k) {
    const Node& n = nodes[k];
    KernelStep& s = steps_[k];
    s.kernel = &op_kernel(n.op);
    s.op = n.op;
    names_.push_back(n.name);
    for (const auto& in : n.inputs) s.in.push_back(g.index(in));
    s.kernel->prepare(n, w, s);
  }
  // Free each intermediate value after its last reader, so memory stays at the live set.
  for (size_t k = 0; k < nodes.size(); ++k)
    if (last_use[k] >= 0 && static_cast<int>(k) != output_) steps_[last_use[k]].release.push_back(k);
}

void Executor::execute(const at::Tensor& x, bool training, int last, const std::vector<char>* keep,
                       std::vector<at::Tensor>& v) const {
  v.assign(steps_.size(), at::Tensor());
  for (int k = 0; k <= last; ++k) {
    const KernelStep& s = steps_[k];
    at::Tensor out = s.kernel->run(s, v, x, training);
    v[k] = std::move(out);
    for (int r : s.release)
      if (!keep || !(*keep)[r]) v[r].reset();
  }
}

void Executor::set_batch_norm_momentum(double momentum) {
  for (auto& s : steps_)
    if (s.kernel->set_momentum) s.kernel->set_momentum(s, momentum);
}

at::Tensor Executor::forward(const at::Tensor& x, bool training) const {
  std::vector<at::Tensor> vals;
  execute(x, training, output_, nullptr, vals);
  return vals[output_];
}

std::vector<at::Tensor> Executor::run_taps(const at::Tensor& x, const std::vector<std::string>& taps,
                                           bool training) const {
  std::vector<int> idx;
  int last = 0;
  for (const auto& t : taps) {
    auto it = std::find(names_.begin(), names_.end(), t);
    if (it == names_.end()) throw GraphError("tap '" + t + "' names no node of the graph");
    idx.push_back(static_cast<int>(it - names_.begin()));
    last = std::max(last, idx.back());
  }
  std::vector<char> keep(steps_.size(), 0);
  for (int i : idx) keep[i] = 1;
  std::vector<at::Tensor> vals;
  execute(x, training, last, &keep, vals);
  std::vector<at::Tensor> out;
  for (int i : idx) out.push_back(vals[i]);
  return out;
}

}  // namespace legodnn
