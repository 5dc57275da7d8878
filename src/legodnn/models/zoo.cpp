#include "legodnn/models/zoo.h"

#include <algorithm>
#include <cmath>

#include "legodnn/models/builder.h"
#include "legodnn/util/error.h"

namespace legodnn {
namespace {

int64_t scaled(int64_t c, double width) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::lround(c * width)));
}

Shape input_shape(const ZooOptions& o) {
  if (o.stem_stride != 1 && o.stem_stride != 2)
    throw OptionError("stem_stride must be 1 or 2, got " + std::to_string(o.stem_stride));
  if (o.in_channels <= 0 || o.input_size <= 0 || o.num_classes <= 0 || !(o.width > 0))
    throw OptionError("zoo options must be positive (in_channels " + std::to_string(o.in_channels) +
                      ", input_size " + std::to_string(o.input_size) + ", classes " +
                      std::to_string(o.num_classes) + ", width " + std::to_string(o.width) + ")");
  return {o.in_channels, o.input_size, o.input_size};
}

// conv -> bn (-> relu); returns the last node.
std::string conv_bn(GraphBuilder& b, const std::string& prefix, const std::string& in, int64_t out,
                    int64_t k, int64_t stride, Op act, int64_t groups = 1) {
  auto x = b.conv(prefix + ".conv", in, out, k, stride, -1, groups);
  x = b.bn(prefix + ".bn", x);
  if (act != Op::Identity) x = b.unary(prefix + ".act", act, x);
  return x;
}

std::string basic_block(GraphBuilder& b, const std::string& p, const std::string& in, int64_t out,
                        int64_t stride) {
  auto x = b.conv(p + ".conv1", in, out, 3, stride);
  x = b.bn(p + ".bn1", x);
  x = b.unary(p + ".relu1", Op::Relu, x);
  x = b.conv(p + ".conv2", x, out, 3, 1);
  x = b.bn(p + ".bn2", x);
  std::string shortcut = in;
  if (stride != 1 || b.channels(in) != out) {
    shortcut = b.conv(p + ".down.conv", in, out, 1, stride, 0);
    shortcut = b.bn(p + ".down.bn", shortcut);
  }
  x = b.add(p + ".add", {x, shortcut});
  return b.unary(p + ".relu", Op::Relu, x);
}

std::string classifier_head(GraphBuilder& b, const std::string& in, int64_t classes) {
  auto x = b.adaptive_avg_pool("pool", in, 1);
  x = b.unary("flatten", Op::Flatten, x);
  return b.linear("fc", x, classes);
}

}  // namespace

int64_t make_divisible(double v, int64_t divisor) {
  int64_t r = std::max<int64_t>(divisor, static_cast<int64_t>(v + divisor / 2.0) / divisor * divisor);
  if (r < 0.9 * v) r += divisor;
  return r;
}

Graph resnet_cifar(int depth, const ZooOptions& o) {
  if (depth < 8 || (depth - 2) % 6) throw OptionError("resnet depth must be 6n+2, got " + std::to_string(depth));
  int n = (depth - 2) / 6;
  GraphBuilder b(input_shape(o));
  auto x = conv_bn(b, "stem", "input", scaled(16, o.width), 3, o.stem_stride, Op::Relu);
  const int64_t widths[] = {16, 32, 64};
  for (int s = 0; s < 3; ++s)
    for (int k = 0; k < n; ++k)
      x = basic_block(b, "s" + std::to_string(s + 1) + ".b" + std::to_string(k), x,
                      scaled(widths[s], o.width), (s > 0 && k == 0) ? 2 : 1);
  classifier_head(b, x, o.num_classes);
  return b.finish();
}

Graph resnet18(const ZooOptions& o) {
  GraphBuilder b(input_shape(o));
  auto x = conv_bn(b, "stem", "input", scaled(64, o.width), 3, o.stem_stride, Op::Relu);
  const int64_t widths[] = {64, 128, 256, 512};
  for (int s = 0; s < 4; ++s)
    for (int k = 0; k < 2; ++k)
      x = basic_block(b, "s" + std::to_string(s + 1) + ".b" + std::to_string(k), x,
                      scaled(widths[s], o.width), (s > 0 && k == 0) ? 2 : 1);
  classifier_head(b, x, o.num_classes);
  return b.finish();
}

Graph vgg_bn(int depth, const ZooOptions& o) {
  std::vector<std::vector<int64_t>> stages;
  if (depth == 11) stages = {{64}, {128}, {256, 256}, {512, 512}, {512, 512}};
  else if (depth == 16) stages = {{64, 64}, {128, 128}, {256, 256, 256}, {512, 512, 512}, {512, 512, 512}};
  else throw OptionError("vgg depth must be 11 or 16, got " + std::to_string(depth));
  GraphBuilder b(input_shape(o));
  std::string x = "input";
  for (size_t s = 0; s < stages.size(); ++s) {
    for (size_t k = 0; k < stages[s].size(); ++k)
      x = conv_bn(b, "s" + std::to_string(s + 1) + ".l" + std::to_string(k), x,
                  scaled(stages[s][k], o.width), 3, (s == 0 && k == 0) ? o.stem_stride : 1, Op::Relu);
    x = b.pool("s" + std::to_string(s + 1) + ".pool", Op::MaxPool2d, x, 2);
  }
  x = b.adaptive_avg_pool("pool", x, 1);
  x = b.unary("flatten", Op::Flatten, x);
  int64_t hidden = scaled(512, o.width);
  x = b.linear("fc1", x, hidden);
  x = b.unary("fc1.relu", Op::Relu, x);
  x = b.dropout("fc1.drop", x, 0.5);
  b.linear("fc", x, o.num_classes);
  return b.finish();
}

Graph mobilenetv2(const ZooOptions& o) {
  struct Stage { int64_t t, c, n, s; };
  // CIFAR setting: stride 1 in the stem and in the second stage (32x32 inputs).
  const Stage cfg[] = {{1, 16, 1, 1}, {6, 24, 2, 1}, {6, 32, 3, 2}, {6, 64, 4, 2},
                       {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  GraphBuilder b(input_shape(o));
  auto x = conv_bn(b, "stem", "input", make_divisible(32 * o.width), 3, o.stem_stride, Op::Relu6);
  int unit = 0;
  for (const auto& st : cfg) {
    int64_t out = make_divisible(st.c * o.width);
    for (int64_t k = 0; k < st.n; ++k) {
      std::string p = "ir" + std::to_string(unit++);
      int64_t stride = k == 0 ? st.s : 1;
      int64_t in_c = b.channels(x);
      std::string y = x;
      if (st.t != 1) y = conv_bn(b, p + ".expand", y, in_c * st.t, 1, 1, Op::Relu6);
      int64_t hid = b.channels(y);
      y = conv_bn(b, p + ".dw", y, hid, 3, stride, Op::Relu6, hid);
      y = conv_bn(b, p + ".project", y, out, 1, 1, Op::Identity);
      if (stride == 1 && in_c == out) y = b.add(p + ".add", {y, x});
      x = y;
    }
  }
  x = conv_bn(b, "last", x, make_divisible(1280 * std::max(1.0, o.width)), 1, 1, Op::Relu6);
  x = b.adaptive_avg_pool("pool", x, 1);
  x = b.unary("flatten", Op::Flatten, x);
  x = b.dropout("drop", x, 0.2);
  b.linear("fc", x, o.num_classes);
  return b.finish();
}

std::vector<std::string> zoo_names() {
  return {"resnet20", "resnet56", "resnet18", "vgg11_bn", "vgg16_bn", "mobilenetv2"};
}

Graph build_zoo_model(const std::string& name, const ZooOptions& o) {
  if (name == "resnet20") return resnet_cifar(20, o);
  if (name == "resnet56") return resnet_cifar(56, o);
  if (name == "resnet18") return resnet18(o);
  if (name == "vgg11_bn") return vgg_bn(11, o);
  if (name == "vgg16_bn") return vgg_bn(16, o);
  if (name == "mobilenetv2") return mobilenetv2(o);
  std::string all;
  for (const auto& n : zoo_names()) all += (all.empty() ? "" : ", ") + n;
  throw OptionError("unknown model '" + name + "' (known: " + all + ")");
}

}  // namespace legodnn
