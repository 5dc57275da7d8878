// concat with at::cat along channels.
#include <ATen/ATen.h>

#include "legodnn/graph/ops/kernel.h"

namespace legodnn {
namespace ops {
namespace {

at::Tensor concat_run(const KernelStep& s, const std::vector<at::Tensor>& v, const at::Tensor&, bool) {
  std::vector<at::Tensor> parts;
  parts.reserve(s.in.size());
  for (int j : s.in) parts.push_back(v[j]);
  return at::cat(parts, 1);
}

std::string concat_script(const KernelStep&, const ScriptOperands& o) {
  std::string parts;
  for (const auto& x : o.in) parts += (parts.empty() ? "" : ", ") + x;
  return "torch.cat([" + parts + "], 1)";
}

}  // namespace

const OpKernel concat_kernel = {prepare_nothing, concat_run, nullptr, concat_script};

}  // namespace ops
}  // namespace legodnn
