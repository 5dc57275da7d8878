// input: the value fed to the executor.
#include "legodnn/graph/ops/kernel.h"

namespace legodnn {
namespace ops {
namespace {

at::Tensor input_run(const KernelStep&, const std::vector<at::Tensor>&, const at::Tensor& x, bool) {
  return x;
}

std::string input_script(const KernelStep&, const ScriptOperands& o) { return o.input; }

}  // namespace

const OpKernel input_kernel = {prepare_nothing, input_run, nullptr, input_script};

}  // namespace ops
}  // namespace legodnn
