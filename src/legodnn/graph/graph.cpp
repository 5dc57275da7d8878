#include "legodnn/graph/graph.h"

#include <algorithm>
#include <sstream>

#include "legodnn/util/error.h"
#include "legodnn/util/format.h"

namespace legodnn {
namespace {

struct OpInfo {
  Op op;
  const char* name;
};
constexpr OpInfo kOps[] = {
    {Op::Input, "input"},
    {Op::Conv2d, "conv2d"},
    {Op::BatchNorm2d, "batch_norm2d"},
    {Op::Relu, "relu"},
    {Op::Relu6, "relu6"},
    {Op::Hardswish, "hardswish"},
    {Op::Silu, "silu"},
    {Op::Sigmoid, "sigmoid"},
    {Op::MaxPool2d, "max_pool2d"},
    {Op::AvgPool2d, "avg_pool2d"},
    {Op::AdaptiveAvgPool2d, "adaptive_avg_pool2d"},
    {Op::Add, "add"},
    {Op::Mul, "mul"},
    {Op::Concat, "concat"},
    {Op::Flatten, "flatten"},
    {Op::Linear, "linear"},
    {Op::Dropout, "dropout"},
    {Op::Identity, "identity"},
    {Op::Upsample, "upsample"},
};

std::string shape_str(const Shape& s) { return shape_string(s); }  // util/format.h

[[noreturn]] void fail(const Node& n, const std::string& what) {
  throw GraphError("node '" + n.name + "' (" + op_name(n.op) + "): " + what);
}

std::vector<int64_t> pair_attr(const Node& n, const std::string& key, int64_t dflt) {
  auto v = n.ints(key, {dflt, dflt});
  if (v.size() == 1) v.push_back(v[0]);
  if (v.size() != 2) fail(n, "attribute '" + key + "' needs 1 or 2 values, got " + shape_str(v));
  return v;
}

int64_t conv_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode = false) {
  int64_t num = in + 2 * p - d * (k - 1) - 1;
  if (num < 0) return 0;
  int64_t out = (ceil_mode ? (num + s - 1) / s : num / s) + 1;
  // PyTorch drops a last window that starts entirely inside the right padding.
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

const Shape& expect_chw(const Node& n, const std::vector<Shape>& in, size_t k = 0) {
  if (in[k].size() != 3) fail(n, "expects a [C,H,W] input, got " + shape_str(in[k]));
  return in[k];
}

void expect_arity(const Node& n, size_t count) {
  if (n.inputs.size() != count)
    fail(n, "expects " + std::to_string(count) + " input(s), got " + std::to_string(n.inputs.size()));
}

// Broadcast two per-sample shapes as at::mul would (aligned from the right).
Shape broadcast(const Node& n, const Shape& a, const Shape& b) {
  Shape out(std::max(a.size(), b.size()));
  for (size_t i = 0; i < out.size(); ++i) {
    int64_t da = i < out.size() - a.size() ? 1 : a[i - (out.size() - a.size())];
    int64_t db = i < out.size() - b.size() ? 1 : b[i - (out.size() - b.size())];
    if (da != db && da != 1 && db != 1)
      fail(n, "shapes " + shape_str(a) + " and " + shape_str(b) + " do not broadcast");
    out[i] = std::max(da, db);
  }
  return out;
}

}  // namespace

const char* op_name(Op op) {
  for (const auto& info : kOps)
    if (info.op == op) return info.name;
  return "?";
}

Op op_from_name(const std::string& name, const std::string& node) {
  for (const auto& info : kOps)
    if (name == info.name) return info.op;
  throw GraphError("node '" + node + "': unknown op '" + name + "'");
}

bool is_elementwise_unary(Op op) {
  switch (op) {
    case Op::Relu: case Op::Relu6: case Op::Hardswish: case Op::Silu: case Op::Sigmoid:
    case Op::Dropout: case Op::Identity:
      return true;
    default:
      return false;
  }
}

// ---- attributes -------------------------------------------------------------------------------

int64_t Node::i(const std::string& key) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) fail(*this, "missing attribute '" + key + "'");
  if (auto p = std::get_if<int64_t>(&it->second)) return *p;
  fail(*this, "attribute '" + key + "' must be an integer");
}
int64_t Node::i(const std::string& key, int64_t dflt) const {
  return attrs.count(key) ? i(key) : dflt;
}
double Node::f(const std::string& key) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) fail(*this, "missing attribute '" + key + "'");
  if (auto p = std::get_if<double>(&it->second)) return *p;
  if (auto p = std::get_if<int64_t>(&it->second)) return static_cast<double>(*p);
  fail(*this, "attribute '" + key + "' must be a number");
}
double Node::f(const std::string& key, double dflt) const {
  return attrs.count(key) ? f(key) : dflt;
}
std::vector<int64_t> Node::ints(const std::string& key) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) fail(*this, "missing attribute '" + key + "'");
  if (auto p = std::get_if<std::vector<int64_t>>(&it->second)) return *p;
  if (auto p = std::get_if<int64_t>(&it->second)) return {*p};
  fail(*this, "attribute '" + key + "' must be a list of integers");
}
std::vector<int64_t> Node::ints(const std::string& key, std::vector<int64_t> dflt) const {
  return attrs.count(key) ? ints(key) : dflt;
}
std::string Node::s(const std::string& key, const std::string& dflt) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return dflt;
  if (auto p = std::get_if<std::string>(&it->second)) return *p;
  fail(*this, "attribute '" + key + "' must be a string");
}

// ---- parameters -------------------------------------------------------------------------------

std::string param_key(const std::string& node, const std::string& param) {
  return node + "." + param;
}

std::vector<ParamSpec> param_specs(const Node& n) {
  switch (n.op) {
    case Op::Conv2d: {
      auto k = pair_attr(n, "kernel", 1);
      int64_t in = n.i("in_channels"), out = n.i("out_channels"), groups = n.i("groups", 1);
      if (in <= 0 || out <= 0 || groups <= 0 || in % groups || out % groups)
        fail(n, "channels " + std::to_string(in) + "->" + std::to_string(out) +
                    " do not divide into " + std::to_string(groups) + " groups");
      std::vector<ParamSpec> p{{"weight", {out, in / groups, k[0], k[1]}, true}};
      if (n.i("bias", 0)) p.push_back({"bias", {out}, true});
      return p;
    }
    case Op::BatchNorm2d: {
      int64_t c = n.i("num_features");
      if (c <= 0) fail(n, "num_features must be positive, got " + std::to_string(c));
      return {{"weight", {c}, true}, {"bias", {c}, true}, {"running_mean", {c}, false},
              {"running_var", {c}, false}};
    }
    case Op::Linear: {
      int64_t in = n.i("in_features"), out = n.i("out_features");
      if (in <= 0 || out <= 0) fail(n, "in_features and out_features must be positive");
      std::vector<ParamSpec> p{{"weight", {out, in}, true}};
      if (n.i("bias", 1)) p.push_back({"bias", {out}, true});
      return p;
    }
    default:
      return {};
  }
}

// ---- shapes -----------------------------------------------------------------------------------

Shape infer_node_shape(const Node& n, const std::vector<Shape>& in) {
  switch (n.op) {
    case Op::Input: {
      expect_arity(n, 0);
      auto s = n.ints("shape");
      if (s.empty() || std::any_of(s.begin(), s.end(), [](int64_t d) { return d <= 0; }))
        fail(n, "input shape must be positive, got " + shape_str(s));
      return s;
    }
    case Op::Conv2d: {
      expect_arity(n, 1);
      const auto& x = expect_chw(n, in);
      param_specs(n);  // checks channels and groups
      if (x[0] != n.i("in_channels"))
        fail(n, "in_channels is " + std::to_string(n.i("in_channels")) + " but the input " +
                    n.inputs[0] + " has " + std::to_string(x[0]) + " channels");
      auto k = pair_attr(n, "kernel", 1), s = pair_attr(n, "stride", 1),
           p = pair_attr(n, "padding", 0), d = pair_attr(n, "dilation", 1);
      Shape out{n.i("out_channels"), conv_out(x[1], k[0], s[0], p[0], d[0]),
                conv_out(x[2], k[1], s[1], p[1], d[1])};
      if (out[1] <= 0 || out[2] <= 0) fail(n, "input " + shape_str(x) + " is too small for the kernel");
      return out;
    }
    case Op::BatchNorm2d: {
      expect_arity(n, 1);
      const auto& x = expect_chw(n, in);
      if (x[0] != n.i("num_features"))
        fail(n, "num_features is " + std::to_string(n.i("num_features")) + " but the input has " +
                    std::to_string(x[0]) + " channels");
      return x;
    }
    case Op::Relu: case Op::Relu6: case Op::Hardswish: case Op::Silu: case Op::Sigmoid:
    case Op::Dropout: case Op::Identity:
      expect_arity(n, 1);
      return in[0];
    case Op::MaxPool2d: case Op::AvgPool2d: {
      expect_arity(n, 1);
      const auto& x = expect_chw(n, in);
      auto k = pair_attr(n, "kernel", 1);
      auto s = n.attrs.count("stride") ? pair_attr(n, "stride", 1) : k;
      auto p = pair_attr(n, "padding", 0);
      auto d = n.op == Op::MaxPool2d ? pair_attr(n, "dilation", 1) : std::vector<int64_t>{1, 1};
      bool ceil_mode = n.i("ceil_mode", 0);
      Shape out{x[0], conv_out(x[1], k[0], s[0], p[0], d[0], ceil_mode),
                conv_out(x[2], k[1], s[1], p[1], d[1], ceil_mode)};
      if (out[1] <= 0 || out[2] <= 0) fail(n, "input " + shape_str(x) + " is too small for the window");
      return out;
    }
    case Op::AdaptiveAvgPool2d: {
      expect_arity(n, 1);
      const auto& x = expect_chw(n, in);
      auto o = pair_attr(n, "output", 1);
      return {x[0], o[0], o[1]};
    }
    case Op::Add: {
      if (n.inputs.size() < 2) fail(n, "expects at least 2 inputs");
      for (size_t k = 1; k < in.size(); ++k)
        if (in[k] != in[0])
          fail(n, "input shapes differ: " + n.inputs[0] + " " + shape_str(in[0]) + " vs " +
                      n.inputs[k] + " " + shape_str(in[k]));
      return in[0];
    }
    case Op::Mul:
      expect_arity(n, 2);
      return broadcast(n, in[0], in[1]);
    case Op::Concat: {
      if (n.inputs.empty()) fail(n, "expects at least 1 input");
      Shape out = expect_chw(n, in, 0);
      for (size_t k = 1; k < in.size(); ++k) {
        const auto& x = expect_chw(n, in, k);
        if (x[1] != out[1] || x[2] != out[2])
          fail(n, "spatial sizes differ: " + n.inputs[k] + " " + shape_str(x) + " vs " + shape_str(out));
        out[0] += x[0];
      }
      return out;
    }
    case Op::Flatten: {
      expect_arity(n, 1);
      int64_t f = 1;
      for (auto d : in[0]) f *= d;
      return {f};
    }
    case Op::Linear: {
      expect_arity(n, 1);
      if (in[0].size() != 1 || in[0][0] != n.i("in_features"))
        fail(n, "in_features is " + std::to_string(n.i("in_features")) + " but the input " +
                    n.inputs[0] + " has shape " + shape_str(in[0]));
      param_specs(n);
      return {n.i("out_features")};
    }
    case Op::Upsample: {
      expect_arity(n, 1);
      const auto& x = expect_chw(n, in);
      auto mode = n.s("mode", "nearest");
      if (mode != "nearest" && mode != "bilinear") fail(n, "unknown upsample mode '" + mode + "'");
      if (n.attrs.count("size")) {
        auto sz = pair_attr(n, "size", 1);
        return {x[0], sz[0], sz[1]};
      }
      auto sc = pair_attr(n, "scale", 2);
      if (sc[0] <= 0 || sc[1] <= 0) fail(n, "scale must be positive");
      return {x[0], x[1] * sc[0], x[2] * sc[1]};
    }
  }
  fail(n, "unhandled op");
}

// ---- graph ------------------------------------------------------------------------------------

Node& Graph::add(Node node) {
  if (node.name.empty()) throw GraphError("a node has an empty name");
  if (index_.count(node.name)) throw GraphError("node '" + node.name + "': the name is used twice");
  for (const auto& in : node.inputs)
    if (!index_.count(in))
      throw GraphError("node '" + node.name + "' reads '" + in + "', which is not an earlier node");
  index_[node.name] = static_cast<int>(nodes_.size());
  nodes_.push_back(std::move(node));
  return nodes_.back();
}

int Graph::index(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) throw GraphError("no node named '" + name + "'");
  return it->second;
}

const Node& Graph::node(const std::string& name) const { return nodes_[index(name)]; }

const std::string& Graph::output() const {
  if (!output_.empty()) return output_;
  if (nodes_.empty()) throw GraphError("the graph is empty");
  return nodes_.back().name;
}

void Graph::set_output(const std::string& name) {
  index(name);
  output_ = name;
}

const std::string& Graph::input() const {
  const Node* found = nullptr;
  for (const auto& n : nodes_) {
    if (n.op != Op::Input) continue;
    if (found) throw GraphError("graph has two input nodes: '" + found->name + "' and '" + n.name + "'");
    found = &n;
  }
  if (!found) throw GraphError("graph has no input node");
  return found->name;
}

std::vector<std::vector<int>> Graph::consumers() const {
  std::vector<std::vector<int>> out(nodes_.size());
  for (size_t k = 0; k < nodes_.size(); ++k)
    for (const auto& in : nodes_[k].inputs) out[index_.at(in)].push_back(static_cast<int>(k));
  return out;
}

std::vector<Shape> Graph::infer_shapes() const {
  std::vector<Shape> shapes(nodes_.size());
  std::vector<Shape> ins;
  for (size_t k = 0; k < nodes_.size(); ++k) {
    ins.clear();
    for (const auto& in : nodes_[k].inputs) ins.push_back(shapes[index_.at(in)]);
    shapes[k] = infer_node_shape(nodes_[k], ins);
  }
  return shapes;
}

void Graph::validate() const {
  input();
  infer_shapes();
  auto cons = consumers();
  int out = index(output());
  for (size_t k = 0; k < nodes_.size(); ++k)
    if (cons[k].empty() && static_cast<int>(k) != out)
      throw GraphError("node '" + nodes_[k].name + "' is never used and is not the output '" +
                       output() + "'");
}

GraphStats graph_stats(const Graph& g) {
  GraphStats st;
  auto shapes = g.infer_shapes();
  for (size_t k = 0; k < g.nodes().size(); ++k) {
    const Node& n = g.nodes()[k];
    for (const auto& p : param_specs(n)) {
      int64_t numel = 1;
      for (auto d : p.shape) numel *= d;
      (p.trainable ? st.params : st.buffers) += numel;
      st.bytes += numel * 4;
    }
    if (n.op == Op::Conv2d) {
      ++st.convs;
      const auto& o = shapes[k];
      auto k2 = pair_attr(n, "kernel", 1);
      st.macs += o[0] * o[1] * o[2] * (n.i("in_channels") / n.i("groups", 1)) * k2[0] * k2[1];
    } else if (n.op == Op::Linear) {
      st.macs += n.i("in_features") * n.i("out_features");
    }
  }
  return st;
}

}  // namespace legodnn
