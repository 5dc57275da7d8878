// concat along channels of one or more [C,H,W] inputs of one spatial size; the output's layout
// puts the inputs' layouts side by side.
#include "legodnn/graph/ops/common.h"

namespace legodnn {
namespace ops {
namespace {

Shape concat_shape(const Node& n, const std::vector<Shape>& in) {
  if (n.inputs.empty()) fail(n, "expects at least 1 input");
  Shape out = expect_chw(n, in, 0);
  for (size_t k = 1; k < in.size(); ++k) {
    const auto& x = expect_chw(n, in, k);
    if (x[1] != out[1] || x[2] != out[2])
      fail(n, "spatial sizes differ: " + n.inputs[k] + " " + shape_str(x) + " vs " + shape_str(out));
    out[0] += x[0];
  }
  return out;
}

ChannelLayout concat_channels(const Node& n, ChannelCoupling& c) {
  ChannelLayout out;
  int64_t off = 0;
  for (size_t j = 0; j < n.inputs.size(); ++j) {
    for (auto s : c.input(j)) {
      s.offset += off;
      out.push_back(s);
    }
    off += layout_width(c.input(j));
  }
  return out;
}

}  // namespace

const OpInfo concat_op = {concat_shape, nullptr, nullptr, concat_channels, nullptr};

}  // namespace ops
}  // namespace legodnn
