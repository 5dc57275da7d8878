#include "legodnn/graph/executor.h"

#include <algorithm>

#include <ATen/ATen.h>

#include "legodnn/util/error.h"

namespace legodnn {
namespace {

std::vector<int64_t> pair(const Node& n, const std::string& key, int64_t dflt) {
  auto v = n.ints(key, {dflt, dflt});
  if (v.size() == 1) v.push_back(v[0]);
  return v;
}

}  // namespace

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
    Step& s = steps_[k];
    s.op = n.op;
    names_.push_back(n.name);
    for (const auto& in : n.inputs) s.in.push_back(g.index(in));
    auto tensor = [&](const char* p) { return w.at(param_key(n.name, p)); };
    switch (n.op) {
      case Op::Conv2d:
        s.w = tensor("weight");
        if (n.i("bias", 0)) s.b = tensor("bias");
        s.a = pair(n, "stride", 1);
        s.b2 = pair(n, "padding", 0);
        s.c = pair(n, "dilation", 1);
        s.groups = n.i("groups", 1);
        break;
      case Op::BatchNorm2d:
        s.w = tensor("weight");
        s.b = tensor("bias");
        s.mean = tensor("running_mean");
        s.var = tensor("running_var");
        s.x1 = n.f("eps", 1e-5);
        s.x2 = n.f("momentum", 0.1);
        break;
      case Op::Linear:
        s.w = tensor("weight");
        if (n.i("bias", 1)) s.b = tensor("bias");
        break;
      case Op::MaxPool2d: case Op::AvgPool2d:
        s.a = pair(n, "kernel", 1);
        s.b2 = n.attrs.count("stride") ? pair(n, "stride", 1) : s.a;
        s.c = pair(n, "padding", 0);
        s.d = pair(n, "dilation", 1);
        s.flag = n.i("ceil_mode", 0);
        s.flag2 = n.i("count_include_pad", 1);
        break;
      case Op::AdaptiveAvgPool2d:
        s.a = pair(n, "output", 1);
        break;
      case Op::Dropout:
        s.x1 = n.f("p", 0.5);
        break;
      case Op::Upsample:
        s.flag = n.s("mode", "nearest") == "bilinear";
        s.flag2 = n.i("align_corners", 0);
        if (n.attrs.count("size")) s.a = pair(n, "size", 1);
        else s.b2 = pair(n, "scale", 2);
        break;
      default:
        break;
    }
  }
  // Free each intermediate value after its last reader, so memory stays at the live set.
  for (size_t k = 0; k < nodes.size(); ++k)
    if (last_use[k] >= 0 && static_cast<int>(k) != output_) steps_[last_use[k]].release.push_back(k);
}

void Executor::execute(const at::Tensor& x, bool training, int last, const std::vector<char>* keep,
                       std::vector<at::Tensor>& v) const {
  v.assign(steps_.size(), at::Tensor());
  for (int k = 0; k <= last; ++k) {
    const Step& s = steps_[k];
    at::Tensor out;
    switch (s.op) {
      case Op::Input: out = x; break;
      case Op::Conv2d:
        out = at::conv2d(v[s.in[0]], s.w, s.b, s.a, s.b2, s.c, s.groups);
        break;
      case Op::BatchNorm2d:
        out = at::batch_norm(v[s.in[0]], s.w, s.b, s.mean, s.var, training, s.x2, s.x1, false);
        break;
      case Op::Relu: out = at::relu(v[s.in[0]]); break;
      case Op::Relu6: out = at::hardtanh(v[s.in[0]], 0.0, 6.0); break;
      case Op::Hardswish: out = at::hardswish(v[s.in[0]]); break;
      case Op::Silu: out = at::silu(v[s.in[0]]); break;
      case Op::Sigmoid: out = at::sigmoid(v[s.in[0]]); break;
      case Op::MaxPool2d:
        out = at::max_pool2d(v[s.in[0]], s.a, s.b2, s.c, s.d, s.flag);
        break;
      case Op::AvgPool2d:
        out = at::avg_pool2d(v[s.in[0]], s.a, s.b2, s.c, s.flag, s.flag2);
        break;
      case Op::AdaptiveAvgPool2d: out = at::adaptive_avg_pool2d(v[s.in[0]], s.a); break;
      case Op::Add:
        out = at::add(v[s.in[0]], v[s.in[1]]);
        for (size_t j = 2; j < s.in.size(); ++j) out = at::add(out, v[s.in[j]]);
        break;
      case Op::Mul: out = at::mul(v[s.in[0]], v[s.in[1]]); break;
      case Op::Concat: {
        std::vector<at::Tensor> parts;
        parts.reserve(s.in.size());
        for (int j : s.in) parts.push_back(v[j]);
        out = at::cat(parts, 1);
        break;
      }
      case Op::Flatten: out = v[s.in[0]].flatten(1); break;
      case Op::Linear: out = at::linear(v[s.in[0]], s.w, s.b); break;
      case Op::Dropout: out = at::dropout(v[s.in[0]], s.x1, training); break;
      case Op::Identity: out = v[s.in[0]]; break;
      case Op::Upsample: {
        const at::Tensor& in = v[s.in[0]];
        std::vector<int64_t> size = s.a;
        if (size.empty()) size = {in.size(2) * s.b2[0], in.size(3) * s.b2[1]};
        out = s.flag ? at::upsample_bilinear2d(in, size, s.flag2)
                     : at::upsample_nearest2d(in, size);
        break;
      }
    }
    v[k] = std::move(out);
    for (int r : s.release)
      if (!keep || !(*keep)[r]) v[r].reset();
  }
}

void Executor::set_batch_norm_momentum(double momentum) {
  for (auto& s : steps_)
    if (s.op == Op::BatchNorm2d) s.x2 = momentum;
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
