// relu, relu6, hardswish, silu, sigmoid, identity, dropout with ATen.
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

}  // namespace

const OpKernel relu_kernel = {prepare_nothing, relu_run, nullptr};
const OpKernel relu6_kernel = {prepare_nothing, relu6_run, nullptr};
const OpKernel hardswish_kernel = {prepare_nothing, hardswish_run, nullptr};
const OpKernel silu_kernel = {prepare_nothing, silu_run, nullptr};
const OpKernel sigmoid_kernel = {prepare_nothing, sigmoid_run, nullptr};
const OpKernel identity_kernel = {prepare_nothing, identity_run, nullptr};
const OpKernel dropout_kernel = {dropout_prepare, dropout_run, nullptr};

}  // namespace ops
}  // namespace legodnn
