// upsample with at::upsample_nearest2d / at::upsample_bilinear2d.
#include <ATen/ATen.h>

#include "legodnn/graph/ops/common.h"
#include "legodnn/graph/ops/kernel.h"

namespace legodnn {
namespace ops {
namespace {

enum { kSize, kScale };
enum { kBilinear, kAlignCorners };

void upsample_prepare(const Node& n, const Weights&, KernelStep& s) {
  s.flags[kBilinear] = n.s("mode", "nearest") == "bilinear";
  s.flags[kAlignCorners] = n.i("align_corners", 0);
  if (n.attrs.count("size")) s.lists[kSize] = pair_attr(n, "size", 1);
  else s.lists[kScale] = pair_attr(n, "scale", 2);
}

at::Tensor upsample_run(const KernelStep& s, const std::vector<at::Tensor>& v, const at::Tensor&, bool) {
  const at::Tensor& in = v[s.in[0]];
  std::vector<int64_t> size = s.lists[kSize];
  if (size.empty()) size = {in.size(2) * s.lists[kScale][0], in.size(3) * s.lists[kScale][1]};
  return s.flags[kBilinear] ? at::upsample_bilinear2d(in, size, s.flags[kAlignCorners])
                            : at::upsample_nearest2d(in, size);
}

std::string upsample_script(const KernelStep& s, const ScriptOperands& o) {
  const std::string& in = o.in[0];
  std::string size = s.lists[kSize].empty() ? "[" + in + ".size(2) * " + std::to_string(s.lists[kScale][0]) + ", " +
                                                  in + ".size(3) * " + std::to_string(s.lists[kScale][1]) + "]"
                                            : script_ints(s.lists[kSize]);
  return s.flags[kBilinear]
             ? "torch.upsample_bilinear2d(" + in + ", " + size + ", " + script_bool(s.flags[kAlignCorners]) + ")"
             : "torch.upsample_nearest2d(" + in + ", " + size + ")";
}

}  // namespace

const OpKernel upsample_kernel = {upsample_prepare, upsample_run, nullptr, upsample_script};

}  // namespace ops
}  // namespace legodnn
