// batch_norm2d. Attributes: num_features, eps = 1e-5, momentum = 0.1. Tensors [C]: weight, bias
// (trainable), running_mean, running_var.
#include <cmath>

#include "legodnn/graph/ops/common.h"

namespace legodnn {
namespace ops {
namespace {

std::vector<ParamSpec> batch_norm2d_params(const Node& n) {
  int64_t c = n.i("num_features");
  if (c <= 0) fail(n, "num_features must be positive, got " + std::to_string(c));
  return {{"weight", {c}, true, ParamInit::Ones}, {"bias", {c}, true, ParamInit::Zeros},
          {"running_mean", {c}, false, ParamInit::Zeros}, {"running_var", {c}, false, ParamInit::Ones}};
}

Shape batch_norm2d_shape(const Node& n, const std::vector<Shape>& in) {
  expect_arity(n, 1);
  const auto& x = expect_chw(n, in);
  if (x[0] != n.i("num_features"))
    fail(n, "num_features is " + std::to_string(n.i("num_features")) + " but the input has " +
                std::to_string(x[0]) + " channels");
  const double eps = n.f("eps", 1e-5);
  if (!(eps > 0) || !std::isfinite(eps)) fail(n, "eps must be a positive number, got " + std::to_string(eps));
  return x;
}

std::vector<ParamSlice> batch_norm2d_prune(Node& n, const PruneIndices& keep) {
  n.attrs["num_features"] = static_cast<int64_t>(keep.output.size());
  std::vector<ParamSlice> s;
  for (const char* p : {"weight", "bias", "running_mean", "running_var"}) s.push_back({p, 0, keep.output});
  return s;
}

}  // namespace

const OpInfo batch_norm2d_op = {batch_norm2d_shape, batch_norm2d_params, nullptr, pass_channels,
                                batch_norm2d_prune};

}  // namespace ops
}  // namespace legodnn
