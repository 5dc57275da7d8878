// input: the graph's single input. Attribute: shape (per-sample, e.g. [3,32,32]).
#include <algorithm>

#include "legodnn/graph/ops/common.h"

namespace legodnn {
namespace ops {
namespace {

Shape input_shape(const Node& n, const std::vector<Shape>&) {
  expect_arity(n, 0);
  auto s = n.ints("shape");
  if (s.empty() || std::any_of(s.begin(), s.end(), [](int64_t d) { return d <= 0; }))
    fail(n, "input shape must be positive, got " + shape_str(s));
  return s;
}

// A block's input is its interface: its channels are never pruned.
ChannelLayout input_channels(const Node&, ChannelCoupling& c) {
  auto l = c.fresh(c.output_shape()[0], false);
  c.freeze(l, "block input");
  return l;
}

}  // namespace

const OpInfo input_op = {input_shape, nullptr, nullptr, input_channels, nullptr};

}  // namespace ops
}  // namespace legodnn
