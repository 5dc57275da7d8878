// add (of two or more inputs) and mul (broadcasting) with ATen.
#include <ATen/ATen.h>

#include "legodnn/graph/ops/kernel.h"

namespace legodnn {
namespace ops {
namespace {

at::Tensor add_run(const KernelStep& s, const std::vector<at::Tensor>& v, const at::Tensor&, bool) {
  at::Tensor out = at::add(v[s.in[0]], v[s.in[1]]);
  for (size_t j = 2; j < s.in.size(); ++j) out = at::add(out, v[s.in[j]]);
  return out;
}

at::Tensor mul_run(const KernelStep& s, const std::vector<at::Tensor>& v, const at::Tensor&, bool) {
  return at::mul(v[s.in[0]], v[s.in[1]]);
}

}  // namespace

const OpKernel add_kernel = {prepare_nothing, add_run, nullptr};
const OpKernel mul_kernel = {prepare_nothing, mul_run, nullptr};

}  // namespace ops
}  // namespace legodnn
