// The kernel table, built from graph/op_list.h (no self-registration), and shared kernel helpers.
#include "legodnn/graph/ops/kernel.h"

#include <cmath>
#include <cstdio>

#include "legodnn/util/error.h"

namespace legodnn {
namespace {

constexpr const OpKernel* kKernels[] = {
#define LEGODNN_KERNEL_ENTRY(e, name, entry) &ops::entry##_kernel,
    LEGODNN_OPS(LEGODNN_KERNEL_ENTRY)
#undef LEGODNN_KERNEL_ENTRY
};
static_assert(sizeof(kKernels) / sizeof(kKernels[0]) == kOpCount, "one kernel per op");

}  // namespace

const OpKernel& op_kernel(Op op) { return *kKernels[static_cast<size_t>(op)]; }

namespace ops {

void prepare_nothing(const Node&, const Weights&, KernelStep&) {}

std::string script_ints(const std::vector<int64_t>& xs) {
  std::string out = "[";
  for (size_t k = 0; k < xs.size(); ++k) out += (k ? ", " : "") + std::to_string(xs[k]);
  return out + "]";
}

std::string script_real(double x) {
  if (!std::isfinite(x)) throw GraphError("cannot write the non-finite number " + std::to_string(x) + " in TorchScript");
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  std::string s = buf;
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

std::string script_bool(bool b) { return b ? "True" : "False"; }

const at::Tensor& node_tensor(const Weights& w, const Node& n, const char* param) {
  return w.at(param_key(n.name, param));
}

}  // namespace ops
}  // namespace legodnn
