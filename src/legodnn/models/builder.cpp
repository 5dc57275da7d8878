#include "legodnn/models/builder.h"

namespace legodnn {

GraphBuilder::GraphBuilder(const Shape& shape, const std::string& input_name) {
  Node n{input_name, Op::Input, {}, {{"shape", shape}}};
  add_node(std::move(n));
}

std::string GraphBuilder::add_node(Node n) {
  std::vector<Shape> ins;
  for (const auto& i : n.inputs) ins.push_back(shape(i));
  Shape s = infer_node_shape(n, ins);
  std::string name = n.name;
  g_.add(std::move(n));
  shapes_.push_back(std::move(s));
  return name;
}

const Shape& GraphBuilder::shape(const std::string& name) const { return shapes_[g_.index(name)]; }

std::string GraphBuilder::conv(const std::string& name, const std::string& in, int64_t out_channels,
                               int64_t kernel, int64_t stride, int64_t padding, int64_t groups,
                               bool bias, int64_t dilation) {
  if (padding < 0) padding = dilation * (kernel / 2);
  Node n{name, Op::Conv2d, {in},
         {{"in_channels", channels(in)}, {"out_channels", out_channels},
          {"kernel", std::vector<int64_t>{kernel, kernel}},
          {"stride", std::vector<int64_t>{stride, stride}},
          {"padding", std::vector<int64_t>{padding, padding}},
          {"dilation", std::vector<int64_t>{dilation, dilation}},
          {"groups", groups}, {"bias", int64_t{bias}}}};
  return add_node(std::move(n));
}

std::string GraphBuilder::bn(const std::string& name, const std::string& in, double eps, double momentum) {
  return add_node({name, Op::BatchNorm2d, {in},
                   {{"num_features", channels(in)}, {"eps", eps}, {"momentum", momentum}}});
}

std::string GraphBuilder::unary(const std::string& name, Op op, const std::string& in) {
  return add_node({name, op, {in}, {}});
}

std::string GraphBuilder::pool(const std::string& name, Op op, const std::string& in, int64_t kernel,
                               int64_t stride, int64_t padding) {
  if (stride < 0) stride = kernel;
  return add_node({name, op, {in},
                   {{"kernel", std::vector<int64_t>{kernel, kernel}},
                    {"stride", std::vector<int64_t>{stride, stride}},
                    {"padding", std::vector<int64_t>{padding, padding}}}});
}

std::string GraphBuilder::adaptive_avg_pool(const std::string& name, const std::string& in, int64_t out) {
  return add_node({name, Op::AdaptiveAvgPool2d, {in}, {{"output", std::vector<int64_t>{out, out}}}});
}

std::string GraphBuilder::add(const std::string& name, const std::vector<std::string>& ins) {
  return add_node({name, Op::Add, ins, {}});
}

std::string GraphBuilder::mul(const std::string& name, const std::string& a, const std::string& b) {
  return add_node({name, Op::Mul, {a, b}, {}});
}

std::string GraphBuilder::concat(const std::string& name, const std::vector<std::string>& ins) {
  return add_node({name, Op::Concat, ins, {}});
}

std::string GraphBuilder::linear(const std::string& name, const std::string& in, int64_t out_features,
                                 bool bias) {
  return add_node({name, Op::Linear, {in},
                   {{"in_features", shape(in).at(0)}, {"out_features", out_features},
                    {"bias", int64_t{bias}}}});
}

std::string GraphBuilder::dropout(const std::string& name, const std::string& in, double p) {
  return add_node({name, Op::Dropout, {in}, {{"p", p}}});
}

std::string GraphBuilder::upsample(const std::string& name, const std::string& in, int64_t scale,
                                   const std::string& mode) {
  return add_node({name, Op::Upsample, {in},
                   {{"mode", mode}, {"scale", std::vector<int64_t>{scale, scale}}}});
}

Graph GraphBuilder::finish() const {
  g_.validate();
  return g_;
}

}  // namespace legodnn
