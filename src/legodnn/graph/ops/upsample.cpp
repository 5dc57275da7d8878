// upsample over H,W. Attributes: mode = "nearest" | "bilinear", align_corners = 0 (bilinear), and
// either size (one or two values) or scale = 2 (integer, one or two values).
#include "legodnn/graph/ops/common.h"

namespace legodnn {
namespace ops {
namespace {

Shape upsample_shape(const Node& n, const std::vector<Shape>& in) {
  expect_arity(n, 1);
  const auto& x = expect_chw(n, in);
  auto mode = n.s("mode", "nearest");
  if (mode != "nearest" && mode != "bilinear") fail(n, "unknown upsample mode '" + mode + "'");
  if (n.attrs.count("size")) {
    auto sz = pair_attr(n, "size", 1);
    return {x[0], sz[0], sz[1]};
  }
  auto sc = pair_attr(n, "scale", 2);
  if (sc[0] <= 0 || sc[1] <= 0) fail(n, "scale must be positive");
  return {x[0], x[1] * sc[0], x[2] * sc[1]};
}

}  // namespace

const OpInfo upsample_op = {upsample_shape, nullptr, nullptr, pass_channels, nullptr};

}  // namespace ops
}  // namespace legodnn
