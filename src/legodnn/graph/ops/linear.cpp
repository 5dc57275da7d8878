// linear over a flat input. Attributes: in_features, out_features, bias = 1. Weight [out, in],
// bias [out].
#include "legodnn/graph/ops/common.h"

namespace legodnn {
namespace ops {
namespace {

std::vector<ParamSpec> linear_params(const Node& n) {
  int64_t in = n.i("in_features"), out = n.i("out_features");
  if (in <= 0 || out <= 0) fail(n, "in_features and out_features must be positive");
  std::vector<ParamSpec> p{{"weight", {out, in}, true, ParamInit::UniformFanIn, in}};
  if (n.i("bias", 1)) p.push_back({"bias", {out}, true, ParamInit::UniformFanIn, in});
  return p;
}

Shape linear_shape(const Node& n, const std::vector<Shape>& in) {
  expect_arity(n, 1);
  if (in[0].size() != 1 || in[0][0] != n.i("in_features"))
    fail(n, "in_features is " + std::to_string(n.i("in_features")) + " but the input " + n.inputs[0] +
                " has shape " + shape_str(in[0]));
  linear_params(n);
  return {n.i("out_features")};
}

int64_t linear_macs(const Node& n, const Shape&) { return n.i("in_features") * n.i("out_features"); }

ChannelLayout linear_channels(const Node& n, ChannelCoupling& c) {
  return c.fresh(n.i("out_features"), true);
}

std::vector<ParamSlice> linear_prune(Node& n, const PruneIndices& keep) {
  n.attrs["in_features"] = static_cast<int64_t>(keep.inputs[0].size());
  n.attrs["out_features"] = static_cast<int64_t>(keep.output.size());
  return {{"weight", 0, keep.output}, {"weight", 1, keep.inputs[0]}, {"bias", 0, keep.output}};
}

}  // namespace

const OpInfo linear_op = {linear_shape, linear_params, linear_macs, linear_channels, linear_prune};

}  // namespace ops
}  // namespace legodnn
