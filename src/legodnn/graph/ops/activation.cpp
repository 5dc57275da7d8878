// One-input ops that keep the shape and the channels: relu, relu6, hardswish, hardsigmoid, silu, sigmoid,
// identity, and dropout (attribute p = 0.5, active only in training).
#include "legodnn/graph/ops/common.h"

namespace legodnn {
namespace ops {

const OpInfo relu_op = {same_shape, nullptr, nullptr, pass_channels, nullptr};
const OpInfo relu6_op = {same_shape, nullptr, nullptr, pass_channels, nullptr};
const OpInfo hardswish_op = {same_shape, nullptr, nullptr, pass_channels, nullptr};
const OpInfo hardsigmoid_op = {same_shape, nullptr, nullptr, pass_channels, nullptr};
const OpInfo silu_op = {same_shape, nullptr, nullptr, pass_channels, nullptr};
const OpInfo sigmoid_op = {same_shape, nullptr, nullptr, pass_channels, nullptr};
const OpInfo identity_op = {same_shape, nullptr, nullptr, pass_channels, nullptr};
const OpInfo dropout_op = {same_shape, nullptr, nullptr, pass_channels, nullptr};

}  // namespace ops
}  // namespace legodnn
