// mean over H,W of a [C,H,W] input (TorchScript's x.mean([2, 3], keepdim)). Attribute: keepdim = 0
// (0: output [C]; 1: output [C,1,1]). No tensors; its MACs are not counted (like pooling's, see
// DESIGN.md section 3); channels pass through; nothing to rewrite when channels are pruned.
#include "legodnn/graph/ops/common.h"

namespace legodnn {
namespace ops {
namespace {

Shape mean_shape(const Node& n, const std::vector<Shape>& in) {
  expect_arity(n, 1);
  const auto& x = expect_chw(n, in);
  int64_t keepdim = n.i("keepdim", 0);
  if (keepdim != 0 && keepdim != 1)
    fail(n, "keepdim must be 0 or 1 (or a JSON bool), got " + std::to_string(keepdim));
  return keepdim ? Shape{x[0], 1, 1} : Shape{x[0]};
}

}  // namespace

const OpInfo mean_op = {mean_shape, nullptr, nullptr, pass_channels, nullptr};

}  // namespace ops
}  // namespace legodnn
