// conv2d. Attributes: in_channels, out_channels, kernel, stride = 1, padding = 0, dilation = 1
// (each one or two values), groups = 1, bias = 0. Weight [out, in/groups, kh, kw], bias [out].
#include "legodnn/graph/ops/common.h"

namespace legodnn {
namespace ops {
namespace {

std::vector<ParamSpec> conv2d_params(const Node& n) {
  auto k = pair_attr(n, "kernel", 1, 1);
  int64_t in = n.i("in_channels"), out = n.i("out_channels"), groups = n.i("groups", 1);
  if (in <= 0 || out <= 0 || groups <= 0 || in % groups || out % groups)
    fail(n, "channels " + std::to_string(in) + "->" + std::to_string(out) +
                " do not divide into " + std::to_string(groups) + " groups");
  std::vector<ParamSpec> p{{"weight", {out, in / groups, k[0], k[1]}, true, ParamInit::KaimingNormalFanOut}};
  if (n.i("bias", 0)) p.push_back({"bias", {out}, true, ParamInit::Zeros});
  return p;
}

Shape conv2d_shape(const Node& n, const std::vector<Shape>& in) {
  expect_arity(n, 1);
  const auto& x = expect_chw(n, in);
  conv2d_params(n);  // checks channels and groups
  if (x[0] != n.i("in_channels"))
    fail(n, "in_channels is " + std::to_string(n.i("in_channels")) + " but the input " +
                n.inputs[0] + " has " + std::to_string(x[0]) + " channels");
  auto k = pair_attr(n, "kernel", 1, 1), s = pair_attr(n, "stride", 1, 1), p = pair_attr(n, "padding", 0, 0),
       d = pair_attr(n, "dilation", 1, 1);
  Shape out{n.i("out_channels"), conv_out(x[1], k[0], s[0], p[0], d[0]),
            conv_out(x[2], k[1], s[1], p[1], d[1])};
  if (out[1] <= 0 || out[2] <= 0) fail(n, "input " + shape_str(x) + " is too small for the kernel");
  return out;
}

int64_t conv2d_macs(const Node& n, const Shape& o) {
  auto k = pair_attr(n, "kernel", 1);
  return o[0] * o[1] * o[2] * (n.i("in_channels") / n.i("groups", 1)) * k[0] * k[1];
}

ChannelLayout conv2d_channels(const Node& n, ChannelCoupling& c) {
  if (n.i("groups", 1) == 1) return c.fresh(n.i("out_channels"), true);
  const int64_t groups = n.i("groups"), in = n.i("in_channels"), out = n.i("out_channels");
  if (in == out) {
    // Output group g is computed from input group g alone (depthwise: channel c from channel c):
    // the same whole groups go on both sides, so the output shares the input's channels.
    c.add_producer(c.input(0));
    c.require_unit(c.input(0), in / groups, "grouped conv " + n.name);
    return c.input(0);
  }
  // Groups of different widths on the two sides (a channel multiplier): kept whole.
  const std::string why = "grouped conv " + n.name + " (" + std::to_string(in) + " -> " + std::to_string(out) +
                          " channels in " + std::to_string(groups) + " groups: pruned only when in = out)";
  auto l = c.fresh(out, true);
  c.freeze(l, why);
  c.freeze(c.input(0), why);
  return l;
}

std::vector<ParamSlice> conv2d_prune(Node& n, const PruneIndices& keep) {
  const auto& out = keep.output;
  const auto& in = keep.inputs[0];
  std::vector<ParamSlice> s;
  if (n.i("groups", 1) == 1) {
    s = {{"weight", 0, out}, {"weight", 1, in}};
  } else {
    // Whole groups kept (or, frozen, all of them): the weight's rows of the kept groups, each
    // still reading its own group's inputs.
    const int64_t per_group = n.i("out_channels") / n.i("groups");
    s = {{"weight", 0, out}};
    n.attrs["groups"] = static_cast<int64_t>(out.size()) / per_group;
  }
  n.attrs["in_channels"] = static_cast<int64_t>(in.size());
  n.attrs["out_channels"] = static_cast<int64_t>(out.size());
  s.push_back({"bias", 0, out});
  return s;
}

}  // namespace

const OpInfo conv2d_op = {conv2d_shape, conv2d_params, conv2d_macs, conv2d_channels, conv2d_prune};

}  // namespace ops
}  // namespace legodnn
