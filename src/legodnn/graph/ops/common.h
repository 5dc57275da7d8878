#pragma once
// Helpers shared by the op entries (graph/ops/*.cpp). Torch-free; not for use outside graph/.
#include <cstdint>
#include <string>
#include <vector>

#include "legodnn/graph/op.h"

namespace legodnn {
namespace ops {

// The entries, one per line of graph/op_list.h, defined in the op's own file.
#define LEGODNN_OP_DECLARE(e, name, entry) extern const OpInfo entry##_op;
LEGODNN_OPS(LEGODNN_OP_DECLARE)
#undef LEGODNN_OP_DECLARE

/// "[3,8,8]".
std::string shape_str(const Shape& s);
/// Throws GraphError "node 'n' (op): what".
[[noreturn]] void fail(const Node& n, const std::string& what);
/// A two-value attribute (height, width); one value stands for both.
std::vector<int64_t> pair_attr(const Node& n, const std::string& key, int64_t dflt);
/// The same, failing for a value below `least` (a stride, kernel or dilation of 0, a negative padding).
std::vector<int64_t> pair_attr(const Node& n, const std::string& key, int64_t dflt, int64_t least);
/// Output size of a convolution or pooling window along one axis (PyTorch's formula).
int64_t conv_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode = false);
/// Input k, which must be [C,H,W].
const Shape& expect_chw(const Node& n, const std::vector<Shape>& in, size_t k = 0);
/// Checks the number of inputs.
void expect_arity(const Node& n, size_t count);
/// Shape rule of a one-input op that keeps the shape.
Shape same_shape(const Node& n, const std::vector<Shape>& in);
/// Channel rule of an op whose output channels are its first input's.
ChannelLayout pass_channels(const Node& n, ChannelCoupling& c);

}  // namespace ops
}  // namespace legodnn
