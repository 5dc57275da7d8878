// linear with at::linear.
#include <ATen/ATen.h>

#include "legodnn/graph/ops/kernel.h"

namespace legodnn {
namespace ops {
namespace {

enum { kWeight, kBias };

void linear_prepare(const Node& n, const Weights& w, KernelStep& s) {
  s.tensors[kWeight] = node_tensor(w, n, "weight");
  if (n.i("bias", 1)) s.tensors[kBias] = node_tensor(w, n, "bias");
}

at::Tensor linear_run(const KernelStep& s, const std::vector<at::Tensor>& v, const at::Tensor&, bool) {
  return at::linear(v[s.in[0]], s.tensors[kWeight], s.tensors[kBias]);
}

std::string linear_script(const KernelStep&, const ScriptOperands& o) {
  return "torch.linear(" + o.in[0] + ", " + o.tensors[kWeight] + ", " + o.tensors[kBias] + ")";
}

}  // namespace

const OpKernel linear_kernel = {linear_prepare, linear_run, nullptr, linear_script};

}  // namespace ops
}  // namespace legodnn
