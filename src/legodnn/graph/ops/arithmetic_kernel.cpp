// add (of two or more inputs), mul (broadcasting) and affine (x * scale + shift) with ATen.
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

enum { kScale, kShift };
void affine_prepare(const Node& n, const Weights&, KernelStep& s) {
  s.reals[kScale] = n.f("scale", 1.0);
  s.reals[kShift] = n.f("shift", 0.0);
}
at::Tensor affine_run(const KernelStep& s, const std::vector<at::Tensor>& v, const at::Tensor&, bool) {
  const at::Tensor& x = v[s.in[0]];
  if (s.reals[kShift] == 0) return at::mul(x, s.reals[kScale]);
  if (s.reals[kScale] == 1) return at::add(x, s.reals[kShift]);
  return at::add(at::mul(x, s.reals[kScale]), s.reals[kShift]);
}
std::string affine_script(const KernelStep& s, const ScriptOperands& o) {
  if (s.reals[kShift] == 0) return "torch.mul(" + o.in[0] + ", " + script_real(s.reals[kScale]) + ")";
  if (s.reals[kScale] == 1) return "torch.add(" + o.in[0] + ", " + script_real(s.reals[kShift]) + ")";
  return "torch.add(torch.mul(" + o.in[0] + ", " + script_real(s.reals[kScale]) + "), " +
         script_real(s.reals[kShift]) + ")";
}
std::string add_script(const KernelStep&, const ScriptOperands& o) {
  std::string out = "torch.add(" + o.in[0] + ", " + o.in[1] + ")";
  for (size_t j = 2; j < o.in.size(); ++j) out = "torch.add(" + out + ", " + o.in[j] + ")";
  return out;
}
std::string mul_script(const KernelStep&, const ScriptOperands& o) {
  return "torch.mul(" + o.in[0] + ", " + o.in[1] + ")";
}

}  // namespace
const OpKernel affine_kernel = {affine_prepare, affine_run, nullptr, affine_script};

const OpKernel add_kernel = {prepare_nothing, add_run, nullptr, add_script};
const OpKernel mul_kernel = {prepare_nothing, mul_run, nullptr, mul_script};

}  // namespace ops
}  // namespace legodnn
