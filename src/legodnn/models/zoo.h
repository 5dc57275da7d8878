#pragma once
// Model zoo as graph builders (CIFAR-style networks for small images). Torch-free.
#include <string>
#include <vector>

#include "legodnn/graph/graph.h"

namespace legodnn {

/// Shape and width options shared by every zoo model.
struct ZooOptions {
  int64_t in_channels = 1;   ///< 1 for Fashion-MNIST
  int64_t input_size = 32;   ///< square input side
  int64_t num_classes = 10;
  double width = 1.0;        ///< channel multiplier (resnets, vgg, mobilenetv2)
  int64_t stem_stride = 1;   ///< stride of the first conv: 1 for CIFAR-style 32x32 inputs, 2 halves all later work
};

/// resnet20 / resnet56: 3 stages of 16/32/64 channels, n = 3 or 9 basic blocks each; projection
/// shortcuts (1x1 conv + batch norm) where the shape changes.
Graph resnet_cifar(int depth, const ZooOptions& o);
/// resnet18, CIFAR variant: 3x3 stem, no max-pool, [2,2,2,2] basic blocks of 64..512 channels.
Graph resnet18(const ZooOptions& o);
/// vgg11_bn / vgg16_bn, CIFAR style: conv-bn-relu stages with max-pools, then global average
/// pooling and a small classifier (linear 512w -> 512w, relu, dropout 0.5, linear -> classes).
Graph vgg_bn(int depth, const ZooOptions& o);
/// mobilenetv2 for 32x32 inputs: stride-1 stem and second stage; channels rounded to multiples of 8.
Graph mobilenetv2(const ZooOptions& o);

/// Names accepted by build_zoo_model.
std::vector<std::string> zoo_names();
/// Builds a zoo model by name; throws OptionError listing the valid names for an unknown one.
Graph build_zoo_model(const std::string& name, const ZooOptions& o);

/// Rounds channels as MobileNet does: nearest multiple of `divisor`, never below 90% of v.
int64_t make_divisible(double v, int64_t divisor = 8);

}  // namespace legodnn
