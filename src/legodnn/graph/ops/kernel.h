#pragma once
// The ATen side of an op: a kernel per line of graph/op_list.h, defined next to the op's entry in
// graph/ops/<family>_kernel.cpp. The executor resolves each node's kernel once, when it is built;
// `prepare` reads the node's attributes and tensors into a step, `run` is the hot path.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "legodnn/graph/graph.h"
#include "legodnn/graph/weights.h"

namespace legodnn {

struct OpKernel;

/// How an exported op names its operands in TorchScript source (graph/export_torchscript.cpp).
struct ScriptOperands {
  std::string input;                   ///< the forward's argument (what an input node reads)
  std::vector<std::string> in;         ///< the input values' variable names, in the node's order
  std::array<std::string, 4> tensors;  ///< the step's tensors as attributes ("self.conv1_weight"), "None" if undefined
};

/// One node, compiled: its kernel, its inputs, and what `prepare` read for `run`. The meaning of
/// the generic slots is the kernel's own (each kernel file names them).
struct KernelStep {
  const OpKernel* kernel = nullptr;
  Op op = Op::Identity;
  std::vector<int> in;                          ///< indices of the input values
  std::array<at::Tensor, 4> tensors;            ///< weights (undefined: absent, e.g. no bias)
  std::array<std::vector<int64_t>, 4> lists;    ///< integer lists (kernel, stride, padding...)
  int64_t count = 1;                            ///< an integer (conv groups)
  std::array<double, 2> reals{};                ///< reals (eps, momentum, dropout p)
  std::array<bool, 2> flags{};                  ///< flags (ceil_mode, bilinear, keepdim...)
  std::vector<int> release;                     ///< values no longer needed after this step
};

/// How the executor runs an op.
struct OpKernel {
  /// Reads the node's attributes and tensors into the step (once, when the executor is built).
  void (*prepare)(const Node& n, const Weights& w, KernelStep& s);
  /// Computes the node's output from the values computed so far (`input`: the graph's input).
  at::Tensor (*run)(const KernelStep& s, const std::vector<at::Tensor>& values,
                    const at::Tensor& input, bool training);
  /// Overrides the batch-norm momentum of the step; nullptr for ops without one.
  void (*set_momentum)(KernelStep& s, double momentum);
  /// The TorchScript expression that computes what `run` computes in inference, from the same
  /// step (so an export cannot drift from the executor): "torch.conv2d(v3, self.w, None, ...)".
  std::string (*script)(const KernelStep& s, const ScriptOperands& o);
};

/// The kernel of an op.
const OpKernel& op_kernel(Op op);

namespace ops {
#define LEGODNN_KERNEL_DECLARE(e, name, entry) extern const OpKernel entry##_kernel;
LEGODNN_OPS(LEGODNN_KERNEL_DECLARE)
#undef LEGODNN_KERNEL_DECLARE

/// prepare for ops that read nothing.
void prepare_nothing(const Node& n, const Weights& w, KernelStep& s);
/// The node's tensor `param` (present: check_weights ran).
const at::Tensor& node_tensor(const Weights& w, const Node& n, const char* param);
/// TorchScript literals: an int list "[1, 1]", a float that parses back to the same double
/// ("0.10000000000000001", "1.0"), a bool "True"/"False".
std::string script_ints(const std::vector<int64_t>& xs);
std::string script_real(double x);
std::string script_bool(bool b);
}  // namespace ops

}  // namespace legodnn
