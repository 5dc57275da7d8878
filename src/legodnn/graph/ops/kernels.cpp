// The kernel table, built from graph/op_list.h (no self-registration), and shared kernel helpers.
#include "legodnn/graph/ops/kernel.h"

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

const at::Tensor& node_tensor(const Weights& w, const Node& n, const char* param) {
  return w.at(param_key(n.name, param));
}

}  // namespace ops
}  // namespace legodnn
