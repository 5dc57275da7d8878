// mean over H,W with at::mean.
#include <ATen/ATen.h>

#include "legodnn/graph/ops/kernel.h"

namespace legodnn {
namespace ops {
namespace {

enum { kKeepdim };

void mean_prepare(const Node& n, const Weights&, KernelStep& s) {
  s.flags[kKeepdim] = n.i("keepdim", 0);
}

at::Tensor mean_run(const KernelStep& s, const std::vector<at::Tensor>& v, const at::Tensor&, bool) {
  return at::mean(v[s.in[0]], {2, 3}, s.flags[kKeepdim]);
}

std::string mean_script(const KernelStep& s, const ScriptOperands& o) {
  return "torch.mean(" + o.in[0] + ", [2, 3], " + script_bool(s.flags[kKeepdim]) + ")";
}

}  // namespace

const OpKernel mean_kernel = {mean_prepare, mean_run, nullptr, mean_script};

}  // namespace ops
}  // namespace legodnn
