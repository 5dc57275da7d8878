// max_pool2d, avg_pool2d, adaptive_avg_pool2d with ATen.
#include <ATen/ATen.h>

#include "legodnn/graph/ops/common.h"
#include "legodnn/graph/ops/kernel.h"

namespace legodnn {
namespace ops {
namespace {

using Values = std::vector<at::Tensor>;
enum { kKernel, kStride, kPadding, kDilation };
enum { kCeilMode, kCountIncludePad };

void window_prepare(const Node& n, const Weights&, KernelStep& s) {
  s.lists[kKernel] = pair_attr(n, "kernel", 1);
  s.lists[kStride] = n.attrs.count("stride") ? pair_attr(n, "stride", 1) : s.lists[kKernel];
  s.lists[kPadding] = pair_attr(n, "padding", 0);
  s.lists[kDilation] = pair_attr(n, "dilation", 1);
  s.flags[kCeilMode] = n.i("ceil_mode", 0);
  s.flags[kCountIncludePad] = n.i("count_include_pad", 1);
}

at::Tensor max_pool2d_run(const KernelStep& s, const Values& v, const at::Tensor&, bool) {
  return at::max_pool2d(v[s.in[0]], s.lists[kKernel], s.lists[kStride], s.lists[kPadding],
                        s.lists[kDilation], s.flags[kCeilMode]);
}

at::Tensor avg_pool2d_run(const KernelStep& s, const Values& v, const at::Tensor&, bool) {
  return at::avg_pool2d(v[s.in[0]], s.lists[kKernel], s.lists[kStride], s.lists[kPadding],
                        s.flags[kCeilMode], s.flags[kCountIncludePad]);
}

enum { kOutput };
void adaptive_prepare(const Node& n, const Weights&, KernelStep& s) {
  s.lists[kOutput] = pair_attr(n, "output", 1);
}
at::Tensor adaptive_run(const KernelStep& s, const Values& v, const at::Tensor&, bool) {
  return at::adaptive_avg_pool2d(v[s.in[0]], s.lists[kOutput]);
}

std::string max_pool2d_script(const KernelStep& s, const ScriptOperands& o) {
  return "torch.max_pool2d(" + o.in[0] + ", " + script_ints(s.lists[kKernel]) + ", " + script_ints(s.lists[kStride]) +
         ", " + script_ints(s.lists[kPadding]) + ", " + script_ints(s.lists[kDilation]) + ", " +
         script_bool(s.flags[kCeilMode]) + ")";
}
std::string avg_pool2d_script(const KernelStep& s, const ScriptOperands& o) {
  return "torch.avg_pool2d(" + o.in[0] + ", " + script_ints(s.lists[kKernel]) + ", " + script_ints(s.lists[kStride]) +
         ", " + script_ints(s.lists[kPadding]) + ", " + script_bool(s.flags[kCeilMode]) + ", " +
         script_bool(s.flags[kCountIncludePad]) + ")";
}
std::string adaptive_script(const KernelStep& s, const ScriptOperands& o) {
  return "torch.adaptive_avg_pool2d(" + o.in[0] + ", " + script_ints(s.lists[kOutput]) + ")";
}

}  // namespace

const OpKernel max_pool2d_kernel = {window_prepare, max_pool2d_run, nullptr, max_pool2d_script};
const OpKernel avg_pool2d_kernel = {window_prepare, avg_pool2d_run, nullptr, avg_pool2d_script};
const OpKernel adaptive_avg_pool2d_kernel = {adaptive_prepare, adaptive_run, nullptr, adaptive_script};

}  // namespace ops
}  // namespace legodnn
