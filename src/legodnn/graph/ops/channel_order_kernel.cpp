// slice (at::narrow along channels) and channel_shuffle (at::channel_shuffle) with ATen.
#include <ATen/ATen.h>

#include "legodnn/graph/ops/kernel.h"

namespace legodnn {
namespace ops {
namespace {

enum { kStart, kLength };
void slice_prepare(const Node& n, const Weights&, KernelStep& s) {
  s.lists[0] = {n.i("start"), n.i("end") - n.i("start")};
}
at::Tensor slice_run(const KernelStep& s, const std::vector<at::Tensor>& v, const at::Tensor&, bool) {
  return at::narrow(v[s.in[0]], 1, s.lists[0][kStart], s.lists[0][kLength]);
}
std::string slice_script(const KernelStep& s, const ScriptOperands& o) {
  return "torch.narrow(" + o.in[0] + ", 1, " + std::to_string(s.lists[0][kStart]) + ", " +
         std::to_string(s.lists[0][kLength]) + ")";
}

void channel_shuffle_prepare(const Node& n, const Weights&, KernelStep& s) { s.count = n.i("groups"); }
at::Tensor channel_shuffle_run(const KernelStep& s, const std::vector<at::Tensor>& v, const at::Tensor&, bool) {
  return at::channel_shuffle(v[s.in[0]], s.count);
}
std::string channel_shuffle_script(const KernelStep& s, const ScriptOperands& o) {
  return "torch.channel_shuffle(" + o.in[0] + ", " + std::to_string(s.count) + ")";
}

}  // namespace

const OpKernel slice_kernel = {slice_prepare, slice_run, nullptr, slice_script};
const OpKernel channel_shuffle_kernel = {channel_shuffle_prepare, channel_shuffle_run, nullptr, channel_shuffle_script};

}  // namespace ops
}  // namespace legodnn
