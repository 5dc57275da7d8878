// batch_norm2d with at::batch_norm: batch statistics (and running-statistics updates) in training.
#include <ATen/ATen.h>

#include "legodnn/graph/ops/kernel.h"

namespace legodnn {
namespace ops {
namespace {

enum { kWeight, kBias, kMean, kVar };
enum { kEps, kMomentum };

void batch_norm2d_prepare(const Node& n, const Weights& w, KernelStep& s) {
  s.tensors[kWeight] = node_tensor(w, n, "weight");
  s.tensors[kBias] = node_tensor(w, n, "bias");
  s.tensors[kMean] = node_tensor(w, n, "running_mean");
  s.tensors[kVar] = node_tensor(w, n, "running_var");
  s.reals[kEps] = n.f("eps", 1e-5);
  s.reals[kMomentum] = n.f("momentum", 0.1);
}

at::Tensor batch_norm2d_run(const KernelStep& s, const std::vector<at::Tensor>& v, const at::Tensor&,
                            bool training) {
  return at::batch_norm(v[s.in[0]], s.tensors[kWeight], s.tensors[kBias], s.tensors[kMean],
                        s.tensors[kVar], training, s.reals[kMomentum], s.reals[kEps], false);
}

void batch_norm2d_set_momentum(KernelStep& s, double momentum) { s.reals[kMomentum] = momentum; }

std::string batch_norm2d_script(const KernelStep& s, const ScriptOperands& o) {
  const auto& t = o.tensors;
  return "torch.batch_norm(" + o.in[0] + ", " + t[kWeight] + ", " + t[kBias] + ", " + t[kMean] + ", " + t[kVar] +
         ", False, " + script_real(s.reals[kMomentum]) + ", " + script_real(s.reals[kEps]) + ", False)";
}

}  // namespace

const OpKernel batch_norm2d_kernel = {batch_norm2d_prepare, batch_norm2d_run, batch_norm2d_set_momentum,
                                      batch_norm2d_script};

}  // namespace ops
}  // namespace legodnn
