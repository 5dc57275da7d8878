// conv2d with at::conv2d.
#include <ATen/ATen.h>

#include "legodnn/graph/ops/common.h"
#include "legodnn/graph/ops/kernel.h"

namespace legodnn {
namespace ops {
namespace {

enum { kWeight, kBias };
enum { kStride, kPadding, kDilation };

void conv2d_prepare(const Node& n, const Weights& w, KernelStep& s) {
  s.tensors[kWeight] = node_tensor(w, n, "weight");
  if (n.i("bias", 0)) s.tensors[kBias] = node_tensor(w, n, "bias");
  s.lists[kStride] = pair_attr(n, "stride", 1);
  s.lists[kPadding] = pair_attr(n, "padding", 0);
  s.lists[kDilation] = pair_attr(n, "dilation", 1);
  s.count = n.i("groups", 1);
}

at::Tensor conv2d_run(const KernelStep& s, const std::vector<at::Tensor>& v, const at::Tensor&, bool) {
  return at::conv2d(v[s.in[0]], s.tensors[kWeight], s.tensors[kBias], s.lists[kStride],
                    s.lists[kPadding], s.lists[kDilation], s.count);
}

std::string conv2d_script(const KernelStep& s, const ScriptOperands& o) {
  return "torch.conv2d(" + o.in[0] + ", " + o.tensors[kWeight] + ", " + o.tensors[kBias] + ", " +
         script_ints(s.lists[kStride]) + ", " + script_ints(s.lists[kPadding]) + ", " +
         script_ints(s.lists[kDilation]) + ", " + std::to_string(s.count) + ")";
}

}  // namespace

const OpKernel conv2d_kernel = {conv2d_prepare, conv2d_run, nullptr, conv2d_script};

}  // namespace ops
}  // namespace legodnn
