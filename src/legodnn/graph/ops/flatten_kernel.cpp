// flatten: [N, ...] -> [N, F].
#include <ATen/ATen.h>

#include "legodnn/graph/ops/kernel.h"

namespace legodnn {
namespace ops {
namespace {

at::Tensor flatten_run(const KernelStep& s, const std::vector<at::Tensor>& v, const at::Tensor&, bool) {
  return v[s.in[0]].flatten(1);
}

std::string flatten_script(const KernelStep&, const ScriptOperands& o) { return "torch.flatten(" + o.in[0] + ", 1)"; }

}  // namespace

const OpKernel flatten_kernel = {prepare_nothing, flatten_run, nullptr, flatten_script};

}  // namespace ops
}  // namespace legodnn
