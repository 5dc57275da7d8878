// Element-wise arithmetic. add: two or more inputs of one shape, all coupled channel by channel.
// mul: two inputs broadcast as at::mul does (a squeeze-excitation gate [C,1,1] times [C,H,W]).
// affine: one input times a number plus a number (attributes scale = 1, shift = 0; finite), what
// TorchScript's add, sub, mul and div with a scalar become.
#include <algorithm>
#include <cmath>

#include "legodnn/graph/ops/common.h"

namespace legodnn {
namespace ops {
namespace {

Shape add_shape(const Node& n, const std::vector<Shape>& in) {
  if (n.inputs.size() < 2) fail(n, "expects at least 2 inputs");
  for (size_t k = 1; k < in.size(); ++k)
    if (in[k] != in[0])
      fail(n, "input shapes differ: " + n.inputs[0] + " " + shape_str(in[0]) + " vs " + n.inputs[k] +
                  " " + shape_str(in[k]));
  return in[0];
}

ChannelLayout add_channels(const Node& n, ChannelCoupling& c) {
  for (size_t j = 1; j < n.inputs.size(); ++j) c.couple(c.input(0), c.input(j));
  return c.input(0);
}

// Broadcast two per-sample shapes as at::mul would (aligned from the right).
Shape mul_shape(const Node& n, const std::vector<Shape>& in) {
  expect_arity(n, 2);
  const Shape &a = in[0], &b = in[1];
  Shape out(std::max(a.size(), b.size()));
  for (size_t i = 0; i < out.size(); ++i) {
    int64_t da = i < out.size() - a.size() ? 1 : a[i - (out.size() - a.size())];
    int64_t db = i < out.size() - b.size() ? 1 : b[i - (out.size() - b.size())];
    if (da != db && da != 1 && db != 1)
      fail(n, "shapes " + shape_str(a) + " and " + shape_str(b) + " do not broadcast");
    out[i] = std::max(da, db);
  }
  return out;
}

// With broadcasting, a side with one channel (or fewer dimensions) couples nothing.
ChannelLayout mul_channels(const Node&, ChannelCoupling& c) {
  const Shape &a = c.input_shape(0), &b = c.input_shape(1), &o = c.output_shape();
  bool a_full = a.size() == o.size() && a[0] == o[0];
  bool b_full = b.size() == o.size() && b[0] == o[0];
  if (a_full && b_full) c.couple(c.input(0), c.input(1));
  return a_full ? c.input(0) : c.input(1);
}

Shape affine_shape(const Node& n, const std::vector<Shape>& in) {
  expect_arity(n, 1);
  for (const char* key : {"scale", "shift"})
    if (!std::isfinite(n.f(key, 0.0))) fail(n, std::string(key) + " must be a finite number");
  return in[0];
}

}  // namespace

const OpInfo affine_op = {affine_shape, nullptr, nullptr, pass_channels, nullptr};
const OpInfo add_op = {add_shape, nullptr, nullptr, add_channels, nullptr};
const OpInfo mul_op = {mul_shape, nullptr, nullptr, mul_channels, nullptr};

}  // namespace ops
}  // namespace legodnn
