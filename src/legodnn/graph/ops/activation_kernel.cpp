// relu, relu6, hardswish, hardsigmoid, silu, sigmoid, identity, dropout with ATen.
#include <ATen/ATen.h>

#include "legodnn/graph/ops/kernel.h"

namespace legodnn {
namespace ops {
namespace {

using Values = std::vector<at::Tensor>;

at::Tensor relu_run(const KernelStep& s, const Values& v, const at::Tensor&, bool) {
  return at::relu(v[s.in[0]]);
}
at::Tensor relu6_run(const KernelStep& s, const Values& v, const at::Tensor&, bool) {
  return at::hardtanh(v[s.in[0]], 0.0, 6.0);
}
at::Tensor hardswish_run(const KernelStep& s, const Values& v, const at::Tensor&, bool) {
  return at::hardswish(v[s.in[0]]);
}
at::Tensor hardsigmoid_run(const KernelStep& s, const Values& v, const at::Tensor&, bool) {
  return at::hardsigmoid(v[s.in[0]]);
}
at::Tensor silu_run(const KernelStep& s, const Values& v, const at::Tensor&, bool) {
  return at::silu(v[s.in[0]]);
}
at::Tensor sigmoid_run(const KernelStep& s, const Values& v, const at::Tensor&, bool) {
  return at::sigmoid(v[s.in[0]]);
}
at::Tensor identity_run(const KernelStep& s, const Values& v, const at::Tensor&, bool) {
  return v[s.in[0]];
}

enum { kP };
void dropout_prepare(const Node& n, const Weights&, KernelStep& s) { s.reals[kP] = n.f("p", 0.5); }
at::Tensor dropout_run(const KernelStep& s, const Values& v, const at::Tensor&, bool training) {
  return at::dropout(v[s.in[0]], s.reals[kP], training);
}

// Exported for inference: dropout is the identity there.
std::string relu_script(const KernelStep&, const ScriptOperands& o) { return "torch.relu(" + o.in[0] + ")"; }
std::string relu6_script(const KernelStep&, const ScriptOperands& o) {
  return "torch.hardtanh(" + o.in[0] + ", 0.0, 6.0)";
}
std::string hardswish_script(const KernelStep&, const ScriptOperands& o) { return "torch.hardswish(" + o.in[0] + ")"; }
std::string hardsigmoid_script(const KernelStep&, const ScriptOperands& o) {
  return "torch.hardsigmoid(" + o.in[0] + ")";
}
std::string silu_script(const KernelStep&, const ScriptOperands& o) { return "torch.silu(" + o.in[0] + ")"; }
std::string sigmoid_script(const KernelStep&, const ScriptOperands& o) { return "torch.sigmoid(" + o.in[0] + ")"; }
std::string same_script(const KernelStep&, const ScriptOperands& o) { return o.in[0]; }

}  // namespace
const OpKernel relu_kernel = {prepare_nothing, relu_run, nullptr, relu_script};
const OpKernel relu6_kernel = {prepare_nothing, relu6_run, nullptr, relu6_script};
const OpKernel hardswish_kernel = {prepare_nothing, hardswish_run, nullptr, hardswish_script};
const OpKernel hardsigmoid_kernel = {prepare_nothing, hardsigmoid_run, nullptr, hardsigmoid_script};
const OpKernel silu_kernel = {prepare_nothing, silu_run, nullptr, silu_script};
const OpKernel sigmoid_kernel = {prepare_nothing, sigmoid_run, nullptr, sigmoid_script};
const OpKernel identity_kernel = {prepare_nothing, identity_run, nullptr, same_script};
const OpKernel dropout_kernel = {dropout_prepare, dropout_run, nullptr, same_script};

}  // namespace ops
}  // namespace legodnn
