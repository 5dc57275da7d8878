#pragma once
// Every op of the IR, in enum order, as X(enum name, JSON name, entry). Besides an op's own files
// (graph/ops/<family>.cpp for its torch-free entry, graph/ops/<family>_kernel.cpp for its ATen
// kernel), this list is the only place that names an op: the Op enum, the name table, the op
// table and the kernel table are all generated from it. Adding an op is one line here plus its
// two files; a missing entry or kernel is a link error, not a silent gap.
#define LEGODNN_OPS(X)                                       \
  X(Input, "input", input)                                   \
  X(Conv2d, "conv2d", conv2d)                                \
  X(BatchNorm2d, "batch_norm2d", batch_norm2d)               \
  X(Relu, "relu", relu)                                      \
  X(Relu6, "relu6", relu6)                                   \
  X(Hardswish, "hardswish", hardswish)                       \
  X(Silu, "silu", silu)                                      \
  X(Sigmoid, "sigmoid", sigmoid)                             \
  X(MaxPool2d, "max_pool2d", max_pool2d)                     \
  X(AvgPool2d, "avg_pool2d", avg_pool2d)                     \
  X(AdaptiveAvgPool2d, "adaptive_avg_pool2d", adaptive_avg_pool2d) \
  X(Add, "add", add)                                         \
  X(Mul, "mul", mul)                                         \
  X(Concat, "concat", concat)                                \
  X(Flatten, "flatten", flatten)                             \
  X(Linear, "linear", linear)                                \
  X(Dropout, "dropout", dropout)                             \
  X(Identity, "identity", identity)                          \
  X(Upsample, "upsample", upsample)                          \
  X(Mean, "mean", mean)                                     \
  X(Hardsigmoid, "hardsigmoid", hardsigmoid)                 \
  X(Affine, "affine", affine)                                \
  X(Slice, "slice", slice)                                   \
  X(ChannelShuffle, "channel_shuffle", channel_shuffle)
