// flatten to [F] per sample; channel c becomes H*W consecutive features.
#include "legodnn/graph/ops/common.h"

namespace legodnn {
namespace ops {
namespace {

Shape flatten_shape(const Node& n, const std::vector<Shape>& in) {
  expect_arity(n, 1);
  int64_t f = 1;
  for (auto d : in[0]) f *= d;
  return {f};
}

ChannelLayout flatten_channels(const Node&, ChannelCoupling& c) {
  const Shape& x = c.input_shape(0);
  int64_t rep = 1;
  for (size_t d = 1; d < x.size(); ++d) rep *= x[d];
  ChannelLayout out;
  for (auto s : c.input(0)) {
    s.offset *= rep;
    s.repeat *= rep;
    out.push_back(s);
  }
  return out;
}

}  // namespace

const OpInfo flatten_op = {flatten_shape, nullptr, nullptr, flatten_channels, nullptr};

}  // namespace ops
}  // namespace legodnn
