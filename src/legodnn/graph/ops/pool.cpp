// Pooling over H,W; channels pass through.
// max_pool2d: kernel, stride = kernel, padding = 0, dilation = 1, ceil_mode = 0.
// avg_pool2d: kernel, stride = kernel, padding = 0, ceil_mode = 0, count_include_pad = 1.
// adaptive_avg_pool2d: output = 1 (one or two values).
#include "legodnn/graph/ops/common.h"

namespace legodnn {
namespace ops {
namespace {

Shape window_shape(const Node& n, const std::vector<Shape>& in) {
  expect_arity(n, 1);
  const auto& x = expect_chw(n, in);
  auto k = pair_attr(n, "kernel", 1, 1);
  auto s = n.attrs.count("stride") ? pair_attr(n, "stride", 1, 1) : k;
  auto p = pair_attr(n, "padding", 0, 0);
  auto d = n.op == Op::MaxPool2d ? pair_attr(n, "dilation", 1, 1) : std::vector<int64_t>{1, 1};
  // As PyTorch: a window may not be padded by more than half its size.
  for (int a = 0; a < 2; ++a)
    if (2 * p[a] > k[a]) fail(n, "padding " + shape_str(p) + " is more than half the kernel " + shape_str(k));
  bool ceil_mode = n.i("ceil_mode", 0);
  Shape out{x[0], conv_out(x[1], k[0], s[0], p[0], d[0], ceil_mode),
            conv_out(x[2], k[1], s[1], p[1], d[1], ceil_mode)};
  if (out[1] <= 0 || out[2] <= 0) fail(n, "input " + shape_str(x) + " is too small for the window");
  return out;
}

Shape adaptive_shape(const Node& n, const std::vector<Shape>& in) {
  expect_arity(n, 1);
  const auto& x = expect_chw(n, in);
  auto o = pair_attr(n, "output", 1, 1);
  return {x[0], o[0], o[1]};
}

}  // namespace

const OpInfo max_pool2d_op = {window_shape, nullptr, nullptr, pass_channels, nullptr};
const OpInfo avg_pool2d_op = {window_shape, nullptr, nullptr, pass_channels, nullptr};
const OpInfo adaptive_avg_pool2d_op = {adaptive_shape, nullptr, nullptr, pass_channels, nullptr};

}  // namespace ops
}  // namespace legodnn
