#include "legodnn/graph/import_torchscript.h"

#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/passes/constant_propagation.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/freeze_module.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/csrc/jit/serialization/import.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "legodnn/util/error.h"
#include "legodnn/util/fs.h"

namespace legodnn {
namespace {

namespace jit = torch::jit;

// What a TorchScript value is while mapping: an IR node's output (a tensor flowing through the
// network), a constant (a weight, a number, a list of numbers), the batch size (unknown until run
// time; it only matters for view/reshape to (N, -1)), or a list of such values.
struct V {
  enum class K { Unknown, Tensor, Const, Batch, List } k = K::Unknown;
  std::string node;
  c10::IValue c;
  std::vector<V> items;
  // A tensor viewed as [N, split, C/split, H, W] (transposed: [N, C/split, split, H, W]), the
  // middle of a channel shuffle; only transpose, contiguous and the view back may read it.
  int64_t split = 0;
  bool transposed = false;

  static V tensor(std::string n) { V v; v.k = K::Tensor; v.node = std::move(n); return v; }
  static V constant(c10::IValue x) { V v; v.k = K::Const; v.c = std::move(x); return v; }
  static V batch() { V v; v.k = K::Batch; return v; }
  static V list(std::vector<V> xs) { V v; v.k = K::List; v.items = std::move(xs); return v; }
  bool is_tensor() const { return k == K::Tensor; }
  bool is_const() const { return k == K::Const; }
  bool is_none() const { return k == K::Const && c.isNone(); }
  bool is_number() const { return k == K::Const && (c.isInt() || c.isDouble() || c.isBool() ||
                                                    (c.isTensor() && c.toTensor().numel() == 1)); }
};

// Thrown while mapping one node: the node does not map, for the reason given.
struct Unmappable {
  std::string why;
};
[[noreturn]] void unmappable(const std::string& why) { throw Unmappable{why}; }
// The op has no IR counterpart at all, whatever its inputs.
struct NoMapping : Unmappable {};

int64_t int_of(const V& v, const char* what) {
  if (v.is_const() && v.c.isInt()) return v.c.toInt();
  if (v.is_const() && v.c.isBool()) return v.c.toBool();
  unmappable(std::string(what) + " is not a constant integer");
}
double num_of(const V& v, const char* what) {
  if (v.is_const()) {
    if (v.c.isDouble()) return v.c.toDouble();
    if (v.c.isInt()) return static_cast<double>(v.c.toInt());
    if (v.c.isBool()) return v.c.toBool();
    if (v.c.isTensor() && v.c.toTensor().numel() == 1) return v.c.toTensor().item<double>();
  }
  unmappable(std::string(what) + " is not a constant number");
}
bool bool_of(const V& v, const char* what) {
  if (v.is_const() && v.c.isBool()) return v.c.toBool();
  if (v.is_const() && v.c.isInt()) return v.c.toInt() != 0;
  unmappable(std::string(what) + " is not a constant bool");
}
std::vector<int64_t> ints_of(const V& v, const char* what) {
  if (v.is_const() && v.c.isIntList()) return v.c.toIntVector();
  if (v.is_const() && v.c.isInt()) return {v.c.toInt()};
  if (v.k == V::K::List) {
    std::vector<int64_t> out;
    for (const auto& x : v.items) out.push_back(int_of(x, what));
    return out;
  }
  unmappable(std::string(what) + " is not a constant list of integers");
}
std::vector<double> reals_of(const V& v, const char* what) {
  if (v.is_const() && v.c.isDoubleList()) return v.c.toDoubleVector();
  if (v.k == V::K::List) {
    std::vector<double> out;
    for (const auto& x : v.items) out.push_back(num_of(x, what));
    return out;
  }
  unmappable(std::string(what) + " is not a constant list of numbers");
}
at::Tensor weight_of(const V& v, const char* what) {
  if (!v.is_const() || !v.c.isTensor()) unmappable(std::string(what) + " is not a constant tensor");
  at::Tensor t = v.c.toTensor();
  if (!at::isFloatingType(t.scalar_type())) unmappable(std::string(what) + " is not a floating-point tensor");
  return t.detach().to(at::kFloat).contiguous().clone();
}
// A two-value attribute from a list of one or two values.
std::vector<int64_t> pair_of(const V& v, const char* what) {
  auto xs = ints_of(v, what);
  if (xs.size() == 1) xs.push_back(xs[0]);
  if (xs.size() != 2) unmappable(std::string(what) + " has " + std::to_string(xs.size()) + " values, not 2");
  return xs;
}

std::string module_path(const jit::Node* n) {
  std::string path;
  if (auto cs = n->callstack()) {
    for (const auto& e : (*cs)->vec()) {
      const auto& info = std::get<2>(e);
      // A scripted model's own module is the instance "SELF"; the path starts below it.
      if (!info || info->instance_name().empty() || info->instance_name() == "SELF") continue;
      if (!path.empty()) path += '.';
      path += info->instance_name();
    }
  }
  if (path.empty()) {
    path = n->scopeName();
    for (char& ch : path)
      if (ch == '/') ch = '.';
  }
  return path;
}

std::string source_line(const jit::Node* n) {
  auto where = [](const jit::SourceRange& r) -> std::string {
    if (auto flc = r.file_line_col()) {
      std::string file = std::filesystem::path(std::get<0>(*flc)).filename().string();
      return file + ":" + std::to_string(std::get<1>(*flc));
    }
    return "";
  };
  std::string s = where(n->sourceRange());
  if (s.empty())
    if (auto cs = n->callstack()) {
      auto v = (*cs)->vec();
      for (auto it = v.rbegin(); it != v.rend() && s.empty(); ++it) s = where(std::get<1>(*it));
    }
  return s;
}

// Drops the in-place suffix: aten::relu_ -> aten::relu (not aten::__and__ and the like).
std::string base_kind(const jit::Node* n, bool& inplace) {
  std::string k = n->kind().toQualString();
  inplace = k.size() > 1 && k.back() == '_' && k[k.size() - 2] != '_';
  if (inplace) k.pop_back();
  return k;
}

class Importer {
 public:
  Importer(const Shape& input_shape) : input_shape_(input_shape) {}

  Model run(const std::shared_ptr<jit::Graph>& g, ImportReport& report) {
    auto inputs = g->inputs();
    // inputs[0] is the module itself.
    if (inputs.size() != 2)
      throw GraphError("forward takes " + std::to_string(inputs.size() - 1) +
                       " inputs; an imported model takes one image tensor");
    Node in{"input", Op::Input, {}, {{"shape", std::vector<int64_t>(input_shape_)}}};
    emit_raw(std::move(in));
    env_[inputs[1]] = V::tensor("input");
    block(g->block());
    if (!unsupported_.empty()) {
      std::string what = "the TorchScript graph has " + std::to_string(unsupported_.size()) +
                         " op(s) the IR cannot express:";
      for (const auto& u : unsupported_) {
        what += "\n  " + u.kind + " at " + (u.module.empty() ? "(top level)" : u.module);
        if (!u.source.empty()) what += " (" + u.source + ")";
        what += ": " + u.why;
      }
      throw ImportError(what, unsupported_);
    }
    V out = value(g->outputs().at(0));
    if (out.k == V::K::List && out.items.size() == 1) out = out.items[0];
    if (!out.is_tensor()) {
      if (out.k == V::K::List)
        throw GraphError("the model returns " + std::to_string(out.items.size()) +
                         " values; an imported model returns one tensor");
      throw GraphError("the model's output is not a tensor computed from its input");
    }
    report.aten_nodes = aten_nodes_;
    report.folded = folded_;
    return finish(out.node);
  }

 private:
  Shape input_shape_;
  std::unordered_map<const jit::Value*, V> env_;
  std::vector<Node> nodes_;
  std::unordered_map<std::string, Shape> shapes_;
  std::unordered_set<std::string> names_;
  Weights weights_;
  std::vector<UnsupportedOp> unsupported_;
  int aten_nodes_ = 0, folded_ = 0;

  V value(const jit::Value* v) {
    auto it = env_.find(v);
    if (it != env_.end()) return it->second;
    if (auto c = jit::toIValue(v)) return V::constant(*c);
    return V{};
  }

  void block(jit::Block* b) {
    for (jit::Node* n : b->nodes()) node(n);
  }

  void node(jit::Node* n) {
    std::vector<V> in;
    bool any_unknown = false;
    for (const jit::Value* v : n->inputs()) {
      in.push_back(value(v));
      any_unknown = any_unknown || in.back().k == V::K::Unknown;
    }
    bool inplace = false;
    std::string kind = base_kind(n, inplace);
    if (kind == "prim::Constant") {
      for (const jit::Value* o : n->outputs())
        if (auto c = jit::toIValue(o)) env_[o] = V::constant(*c);
      return;
    }
    if (any_unknown) {  // an earlier op did not map: reported there
      probe(n, kind, in);
      return;
    }
    try {
      std::vector<V> outs = map(n, kind, in);
      if (outs.size() != n->outputs().size()) unmappable("gives " + std::to_string(n->outputs().size()) + " outputs");
      for (size_t k = 0; k < outs.size(); ++k) env_[n->outputs()[k]] = outs[k];
      // An in-place op changed its first input: later readers of that value see the new node.
      if (inplace && !n->inputs().empty() && in[0].is_tensor() && outs.size() == 1)
        env_[n->inputs()[0]] = outs[0];
    } catch (const Unmappable& u) {
      unsupported_.push_back({n->kind().toQualString(), module_path(n), source_line(n), u.why});
    }
  }

  // Adds an IR node named after its module path; returns its name. Its shape is inferred now, so a
  // mapping that does not fit is reported at the op that made it.
  std::string emit(jit::Node* src, Node n, std::vector<std::pair<std::string, at::Tensor>> tensors = {}) {
    std::string path = module_path(src);
    std::string op = op_name(n.op);
    std::string last = path.substr(path.rfind('.') == std::string::npos ? 0 : path.rfind('.') + 1);
    bool owns = n.op == Op::Conv2d || n.op == Op::BatchNorm2d || n.op == Op::Linear;
    std::string base = path.empty() ? op : (owns || last == op ? path : path + "." + op);
    std::string name = base;
    for (int k = 2; names_.count(name); ++k) name = base + "." + std::to_string(k);
    n.name = name;
    for (auto& [param, t] : tensors) weights_[param_key(name, param)] = t;
    ++aten_nodes_;
    return emit_raw(std::move(n));
  }
  std::string emit_raw(Node n) {
    std::vector<Shape> in;
    for (const auto& i : n.inputs) in.push_back(shapes_.at(i));
    try {
      shapes_[n.name] = infer_node_shape(n, in);
    } catch (const GraphError& e) {
      unmappable(e.what());
    }
    names_.insert(n.name);
    nodes_.push_back(n);
    return n.name;
  }
  const Shape& shape(const V& v) { return shapes_.at(v.node); }

  V tensor_in(const std::vector<V>& in, size_t k, const char* what) {
    if (k >= in.size() || !in[k].is_tensor()) unmappable(std::string(what) + " is not a tensor computed from the input");
    return in[k];
  }

  std::vector<V> one(const std::string& name) { return {V::tensor(name)}; }

  std::vector<V> map(jit::Node* n, const std::string& kind, const std::vector<V>& in) {
    // Bookkeeping that carries values, not tensors.
    if (kind == "prim::ListConstruct" || kind == "prim::TupleConstruct") return {V::list(in)};
    if (kind == "prim::ListUnpack" || kind == "prim::TupleUnpack") {
      if (in[0].k == V::K::List) return in[0].items;
      if (in[0].is_const() && (in[0].c.isList() || in[0].c.isTuple())) {
        std::vector<V> out;
        if (in[0].c.isTuple())
          for (const auto& x : in[0].c.toTupleRef().elements()) out.push_back(V::constant(x));
        else
          for (const auto& x : in[0].c.toListRef()) out.push_back(V::constant(x));
        return out;
      }
      unmappable("unpacks a value that is not a list");
    }
    if (kind == "prim::If") return branch(n, in);
    if (kind == "aten::size") {
      V x = tensor_in(in, 0, "the input");
      if (x.split) unmappable("the size of a 5-D view of channel groups");
      const Shape& s = shape(x);
      const int64_t rank = static_cast<int64_t>(s.size()) + 1;
      auto dim_value = [&](int64_t d) { return d == 0 ? V::batch() : V::constant(c10::IValue(s[d - 1])); };
      if (in.size() == 1) {
        std::vector<V> all;
        for (int64_t d = 0; d < rank; ++d) all.push_back(dim_value(d));
        return {V::list(all)};
      }
      int64_t d = int_of(in[1], "the dimension");
      if (d < 0) d += rank;
      if (d < 0 || d >= rank) unmappable("dimension " + std::to_string(d) + " is out of range");
      ++folded_;
      return {dim_value(d)};
    }
    if (kind == "aten::dim") {
      ++folded_;
      return {V::constant(c10::IValue(static_cast<int64_t>(shape(tensor_in(in, 0, "the input")).size()) + 1))};
    }
    if (kind == "prim::NumToTensor" || kind == "aten::Int" || kind == "aten::Float" ||
        kind == "aten::ScalarImplicit") {
      if (in[0].k == V::K::Batch) return {in[0]};
      if (in[0].is_const()) return run_constant(n, in);
    }
    if (kind == "aten::__getitem__" && in[0].k == V::K::List) {
      int64_t i = int_of(in[1], "the index");
      int64_t size = static_cast<int64_t>(in[0].items.size());
      if (i < 0) i += size;
      if (i < 0 || i >= size) unmappable("index out of range");
      return {in[0].items[static_cast<size_t>(i)]};
    }
    if (kind == "aten::len" && in[0].k == V::K::List)
      return {V::constant(c10::IValue(static_cast<int64_t>(in[0].items.size())))};
    if (kind == "aten::slice" && in[0].k == V::K::List && in.size() == 4) {
      // list[start:end:step] of a list holding the batch size (input.size()[-2:]).
      const int64_t size = static_cast<int64_t>(in[0].items.size());
      auto clampi = [&](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + size : i, 0, size); };
      int64_t start = in[1].is_none() ? 0 : clampi(int_of(in[1], "start"));
      int64_t end = in[2].is_none() ? size : clampi(int_of(in[2], "end"));
      int64_t step = int_of(in[3], "step");
      if (step < 1) unmappable("a list slice with a step below 1");
      std::vector<V> out;
      for (int64_t i = start; i < end; i += step) out.push_back(in[0].items[static_cast<size_t>(i)]);
      return {V::list(out)};
    }
    bool any_tensor = false, any_batch = false;
    for (const auto& v : in) {
      any_tensor = any_tensor || v.is_tensor() || (v.k == V::K::List && has_tensor(v));
      any_batch = any_batch || v.k == V::K::Batch || (v.k == V::K::List && !all_const(v));
    }
    if (!any_tensor && !any_batch) return run_constant(n, in);
    if (!any_tensor) unmappable("computes with the batch size");
    return map_tensor_op(n, kind, in);
  }

  static bool has_tensor(const V& v) {
    if (v.is_tensor()) return true;
    for (const auto& x : v.items)
      if (has_tensor(x)) return true;
    return false;
  }
  static bool all_const(const V& v) {
    if (v.is_const()) return true;
    if (v.k != V::K::List) return false;
    for (const auto& x : v.items)
      if (!all_const(x)) return false;
    return true;
  }
  static c10::IValue to_ivalue(const V& v, const c10::TypePtr& type) {
    if (v.is_const()) return v.c;
    // A list of constants, as the op's argument type wants it.
    if (type->kind() == c10::TypeKind::ListType) {
      auto elem = type->expectRef<c10::ListType>().getElementType();
      if (elem->kind() == c10::TypeKind::IntType) {
        c10::List<int64_t> l;
        for (const auto& x : v.items) l.push_back(x.c.toInt());
        return l;
      }
      if (elem->kind() == c10::TypeKind::FloatType) {
        c10::List<double> l;
        for (const auto& x : v.items) l.push_back(x.c.toDouble());
        return l;
      }
    }
    std::vector<c10::IValue> xs;
    for (const auto& x : v.items) xs.push_back(to_ivalue(x, c10::AnyType::get()));
    return c10::ivalue::Tuple::create(std::move(xs));
  }

  // An op on constants only that constant propagation left (its inputs came from shapes): run it.
  std::vector<V> run_constant(jit::Node* n, const std::vector<V>& in) {
    if (!n->maybeOperator()) unmappable("has no operator to evaluate it with");
    jit::Stack stack;
    for (size_t k = 0; k < in.size(); ++k) stack.push_back(to_ivalue(in[k], n->inputs()[k]->type()));
    try {
      n->getOperation()(stack);
    } catch (const std::exception& e) {
      unmappable(std::string("failed on constant inputs: ") + e.what());
    }
    std::vector<V> out;
    for (auto& x : stack) out.push_back(V::constant(std::move(x)));
    ++folded_;
    return out;
  }

  // `if` on a condition known at import time (scripted models check shapes and flags): the taken
  // branch is mapped as if it were inline.
  std::vector<V> branch(jit::Node* n, const std::vector<V>& in) {
    bool cond = bool_of(in[0], "the condition of an if");
    jit::Block* b = n->blocks()[cond ? 0 : 1];
    size_t before = unsupported_.size();
    block(b);
    if (unsupported_.size() != before) unmappable("a branch holds ops that do not map (listed)");
    std::vector<V> out;
    for (const jit::Value* v : b->outputs()) out.push_back(value(v));
    return out;
  }

  std::vector<V> map_tensor_op(jit::Node* n, const std::string& kind, const std::vector<V>& in) {
    auto node = [&](Op op, std::vector<std::string> inputs, std::map<std::string, AttrValue> attrs = {}) {
      return Node{"", op, std::move(inputs), std::move(attrs)};
    };
    auto unary = [&](Op op, std::map<std::string, AttrValue> attrs = {}) {
      return one(emit(n, node(op, {tensor_in(in, 0, "the input").node}, std::move(attrs))));
    };
    for (const auto& v : in)
      if (v.split && kind != "aten::transpose" && kind != "aten::contiguous" && kind != "aten::view" &&
          kind != "aten::reshape" && kind != "aten::flatten")
        unmappable("reads a 5-D view of channel groups (only a channel shuffle, view-transpose-view, maps)");
    if (kind == "aten::transpose") {
      V x = tensor_in(in, 0, "the input");
      int64_t a = int_of(in.at(1), "dim0"), b = int_of(in.at(2), "dim1");
      if (a < 0) a += 5;
      if (b < 0) b += 5;
      if (!x.split || std::min(a, b) != 1 || std::max(a, b) != 2)
        unmappable("a transpose other than of a channel shuffle's groups");
      ++folded_;
      x.transposed = !x.transposed;
      return {x};
    }
    if (kind == "aten::channel_shuffle" || kind == "aten::native_channel_shuffle")
      return unary(Op::ChannelShuffle, {{"groups", int_of(in.at(1), "groups")}});
    if (kind == "aten::chunk" || kind == "aten::unsafe_chunk" || kind == "aten::split" ||
        kind == "aten::unsafe_split" || kind == "aten::split_with_sizes" || kind == "aten::unsafe_split_with_sizes")
      return split_channels(n, kind, in);
    if (kind == "aten::slice" || kind == "aten::narrow") {
      V x = tensor_in(in, 0, "the input");
      const Shape& sh = shape(x);
      const int64_t rank = static_cast<int64_t>(sh.size()) + 1;
      int64_t d = int_of(in.at(1), "dim");
      if (d < 0) d += rank;
      auto clampi = [](int64_t i, int64_t size) { return std::clamp<int64_t>(i < 0 ? i + size : i, 0, size); };
      if (d == 0 || d >= rank) unmappable("a slice along the batch or of an out-of-range dimension");
      const int64_t size = sh[d - 1];
      int64_t start = 0, end = size;
      if (kind == "aten::narrow") {
        start = clampi(int_of(in.at(2), "start"), size);
        end = std::min(size, start + int_of(in.at(3), "length"));
      } else {
        if (int_of(in.at(4), "step") != 1) unmappable("a slice with a step other than 1");
        start = in.at(2).is_none() ? 0 : clampi(int_of(in.at(2), "start"), size);
        end = in.at(3).is_none() ? size : clampi(int_of(in.at(3), "end"), size);
      }
      if (start == 0 && end == size) {
        ++folded_;
        return {x};
      }
      if (d != 1) unmappable("a slice along H or W");
      if (end <= start) unmappable("an empty slice");
      return one(emit(n, node(Op::Slice, {x.node}, {{"start", start}, {"end", end}})));
    }
    if (kind == "aten::_convolution" || kind == "aten::conv2d") {
      V x = tensor_in(in, 0, "the input");
      at::Tensor w = weight_of(in.at(1), "the weight");
      if (w.dim() != 4) unmappable("a " + std::to_string(w.dim() - 2) + "-d convolution (only 2-d maps)");
      bool conv = kind == "aten::_convolution";
      if (conv && bool_of(in.at(6), "transposed")) unmappable("a transposed convolution");
      int64_t groups = int_of(in.at(conv ? 8 : 6), "groups");
      auto stride = pair_of(in.at(3), "stride");
      auto dilation = pair_of(in.at(5), "dilation");
      std::vector<int64_t> padding;
      if (in.at(4).is_const() && in.at(4).c.isString()) {
        std::string mode = in.at(4).c.toStringRef();
        if (mode == "valid") {
          padding = {0, 0};
        } else if (mode == "same" && stride == std::vector<int64_t>{1, 1}) {
          for (int a = 0; a < 2; ++a) {
            int64_t total = dilation[a] * (w.size(2 + a) - 1);
            if (total % 2) unmappable("padding 'same' that pads one side more than the other");
            padding.push_back(total / 2);
          }
        } else {
          unmappable("padding '" + mode + "'");
        }
      } else {
        padding = pair_of(in.at(4), "padding");
      }
      std::vector<std::pair<std::string, at::Tensor>> t{{"weight", w}};
      bool bias = !in.at(2).is_none();
      if (bias) t.push_back({"bias", weight_of(in.at(2), "the bias")});
      return one(emit(n, node(Op::Conv2d, {x.node},
                              {{"in_channels", w.size(1) * groups}, {"out_channels", w.size(0)},
                               {"kernel", std::vector<int64_t>{w.size(2), w.size(3)}}, {"stride", stride},
                               {"padding", padding}, {"dilation", dilation}, {"groups", groups},
                               {"bias", int64_t{bias}}}),
                      t));
    }
    if (kind == "aten::batch_norm") {
      V x = tensor_in(in, 0, "the input");
      at::Tensor mean = weight_of(in.at(3), "running_mean"), var = weight_of(in.at(4), "running_var");
      int64_t c = mean.numel();
      at::Tensor w = in.at(1).is_none() ? at::ones({c}) : weight_of(in.at(1), "the weight");
      at::Tensor b = in.at(2).is_none() ? at::zeros({c}) : weight_of(in.at(2), "the bias");
      double momentum = in.at(6).is_none() ? 0.1 : num_of(in.at(6), "momentum");
      return one(emit(n, node(Op::BatchNorm2d, {x.node},
                              {{"num_features", c}, {"eps", num_of(in.at(7), "eps")}, {"momentum", momentum}}),
                      {{"weight", w}, {"bias", b}, {"running_mean", mean}, {"running_var", var}}));
    }
    if (kind == "aten::relu") return unary(Op::Relu);
    if (kind == "aten::relu6") return unary(Op::Relu6);
    if (kind == "aten::hardtanh" || kind == "aten::clamp") {
      bool lo0 = in.size() > 1 && !in[1].is_none() && num_of(in[1], "min") == 0;
      bool hi6 = in.size() > 2 && !in[2].is_none() && num_of(in[2], "max") == 6;
      bool no_hi = in.size() > 2 && in[2].is_none();
      if (lo0 && hi6) return unary(Op::Relu6);
      if (kind == "aten::clamp" && lo0 && no_hi) return unary(Op::Relu);
      unmappable("only the ranges [0, 6] (relu6) and [0, inf) (relu) map");
    }
    if (kind == "aten::hardswish") return unary(Op::Hardswish);
    if (kind == "aten::hardsigmoid") return unary(Op::Hardsigmoid);
    if (kind == "aten::silu") return unary(Op::Silu);
    if (kind == "aten::sigmoid") return unary(Op::Sigmoid);
    if (kind == "aten::max_pool2d") {
      auto k = pair_of(in.at(1), "kernel_size");
      auto s = ints_of(in.at(2), "stride");
      return unary(Op::MaxPool2d, {{"kernel", k}, {"stride", s.empty() ? k : pair_of(in.at(2), "stride")},
                                   {"padding", pair_of(in.at(3), "padding")},
                                   {"dilation", pair_of(in.at(4), "dilation")},
                                   {"ceil_mode", int64_t{bool_of(in.at(5), "ceil_mode")}}});
    }
    if (kind == "aten::avg_pool2d") {
      if (in.size() > 6 && !in[6].is_none()) unmappable("divisor_override");
      auto k = pair_of(in.at(1), "kernel_size");
      auto s = ints_of(in.at(2), "stride");
      return unary(Op::AvgPool2d, {{"kernel", k}, {"stride", s.empty() ? k : pair_of(in.at(2), "stride")},
                                   {"padding", pair_of(in.at(3), "padding")},
                                   {"ceil_mode", int64_t{bool_of(in.at(4), "ceil_mode")}},
                                   {"count_include_pad", int64_t{bool_of(in.at(5), "count_include_pad")}}});
    }
    if (kind == "aten::adaptive_avg_pool2d")
      return unary(Op::AdaptiveAvgPool2d, {{"output", pair_of(in.at(1), "output_size")}});
    if (kind == "aten::mean") {
      V x = tensor_in(in, 0, "the input");
      int64_t rank = static_cast<int64_t>(shape(x).size()) + 1;
      if (in.size() > 3 && !in[3].is_none()) unmappable("a dtype");
      std::set<int64_t> dims;
      for (int64_t d : ints_of(in.at(1), "dim")) dims.insert(d < 0 ? d + rank : d);
      if (rank != 4 || dims != std::set<int64_t>{2, 3}) unmappable("a mean over other dimensions than H and W");
      return unary(Op::Mean, {{"keepdim", int64_t{bool_of(in.at(2), "keepdim")}}});
    }
    if (kind == "aten::add" || kind == "aten::sub" || kind == "aten::rsub" || kind == "aten::mul" ||
        kind == "aten::div")
      return arithmetic(n, kind, in);
    if (kind == "aten::cat") {
      const V& list = in.at(0);
      if (list.k != V::K::List) unmappable("the tensors to concatenate are not a list");
      std::vector<std::string> parts;
      for (const auto& x : list.items) {
        if (!x.is_tensor()) unmappable("concatenates a tensor that is not computed from the input");
        parts.push_back(x.node);
      }
      int64_t rank = static_cast<int64_t>(shape(list.items[0]).size()) + 1;
      int64_t d = int_of(in.at(1), "dim");
      if (d < 0) d += rank;
      if (rank != 4 || d != 1) unmappable("concatenation along another axis than channels");
      return one(emit(n, node(Op::Concat, parts)));
    }
    if (kind == "aten::flatten") {
      V x = tensor_in(in, 0, "the input");
      int64_t rank = static_cast<int64_t>(shape(x).size()) + 1;
      int64_t s = int_of(in.at(1), "start_dim"), e = int_of(in.at(2), "end_dim");
      if (s < 0) s += rank;
      if (e < 0) e += rank;
      if (x.split) {
        int64_t s5 = int_of(in.at(1), "start_dim"), e5 = int_of(in.at(2), "end_dim");
        if (s5 < 0) s5 += 5;
        if (e5 < 0) e5 += 5;
        if (s5 != 1 || e5 != 2) unmappable("a flatten of channel groups other than of dimensions 1 and 2");
        return unsplit(n, x);
      }
      if (s != 1 || e != rank - 1) unmappable("flatten other than from dimension 1 to the last");
      return flatten(n, x);
    }
    if (kind == "aten::view" || kind == "aten::reshape") {
      V x = tensor_in(in, 0, "the input");
      const V& sz = in.at(1);
      std::vector<V> items = sz.k == V::K::List ? sz.items : std::vector<V>{};
      if (sz.is_const() && sz.c.isIntList())
        for (int64_t d : sz.c.toIntVector()) items.push_back(V::constant(c10::IValue(d)));
      int64_t features = 1;
      for (int64_t d : shape(x)) features *= d;
      auto is = [](const V& v, int64_t d) { return v.is_const() && v.c.isInt() && v.c.toInt() == d; };
      auto batch = [&](const V& v) { return v.k == V::K::Batch || is(v, -1); };
      const Shape& sh = shape(x);
      if (sh.size() == 3 && !x.split && items.size() == 5 && batch(items[0]) && items[1].is_const() &&
          items[1].c.isInt() && items[1].c.toInt() > 0 && sh[0] % items[1].c.toInt() == 0 &&
          (is(items[2], sh[0] / items[1].c.toInt()) || is(items[2], -1)) && is(items[3], sh[1]) && is(items[4], sh[2])) {
        // [N, C, H, W] -> [N, g, C/g, H, W]: the start of a channel shuffle.
        ++folded_;
        x.split = items[1].c.toInt();
        return {x};
      }
      if (x.split) {
        if (items.size() == 4 && batch(items[0]) && (is(items[1], -1) || is(items[1], sh[0])) && is(items[2], sh[1]) &&
            is(items[3], sh[2]))
          return unsplit(n, x);
        unmappable("a reshape of channel groups other than back to (N, C, H, W)");
      }
      if (items.size() == 2 && (items[0].k == V::K::Batch || is(items[0], -1)) &&
          (is(items[1], -1) || is(items[1], features)) && !(is(items[0], -1) && is(items[1], -1)))
        return flatten(n, x);
      unmappable("a reshape other than to (batch, -1)");
    }
    if (kind == "aten::linear" || kind == "aten::addmm" || kind == "aten::matmul" || kind == "aten::mm") {
      bool addmm = kind == "aten::addmm";
      V x = tensor_in(in, addmm ? 1 : 0, "the input");
      at::Tensor w = weight_of(in.at(addmm ? 2 : 1), "the weight");
      if (w.dim() != 2) unmappable("a weight that is not a matrix");
      if (kind != "aten::linear") w = w.t().contiguous();  // x @ W^T is linear's layout
      at::Tensor b;
      if (addmm) {
        if (num_of(in.at(3), "beta") != 1 || num_of(in.at(4), "alpha") != 1) unmappable("beta or alpha other than 1");
        b = weight_of(in.at(0), "the bias").reshape({-1});
      } else if (kind == "aten::linear" && !in.at(2).is_none()) {
        b = weight_of(in.at(2), "the bias");
      }
      std::vector<std::pair<std::string, at::Tensor>> t{{"weight", w}};
      if (b.defined()) t.push_back({"bias", b});
      return one(emit(n, node(Op::Linear, {x.node},
                              {{"in_features", w.size(1)}, {"out_features", w.size(0)}, {"bias", int64_t{b.defined()}}}),
                      t));
    }
    if (kind == "aten::dropout" || kind == "aten::feature_dropout" || kind == "aten::alpha_dropout" ||
        kind == "aten::feature_alpha_dropout") {
      if (kind != "aten::dropout" && kind != "aten::feature_dropout") {
        ++folded_;
        return {tensor_in(in, 0, "the input")};
      }
      return unary(Op::Dropout, {{"p", num_of(in.at(1), "p")}});
    }
    if (kind == "aten::contiguous" || kind == "aten::detach" || kind == "aten::clone") {
      ++folded_;
      return {tensor_in(in, 0, "the input")};
    }
    if (kind == "aten::upsample_nearest2d" || kind == "aten::upsample_bilinear2d") return upsample(n, kind, in);
    throw NoMapping{{"no IR op for it"}};
  }

  // An op after one that did not map cannot be mapped (its inputs are unknown), but an op with no
  // mapping whatever its inputs is listed too, so that one error names every op to replace. Only
  // tensor ops are probed: bookkeeping on sizes and lists is left to the ops that use it.
  void probe(jit::Node* n, const std::string& kind, const std::vector<V>& in) {
    auto tensor_typed = [](const jit::Value* v) { return v->type()->kind() == c10::TypeKind::TensorType; };
    bool unknown_tensor_in = false, tensor_out = false;
    for (size_t k = 0; k < in.size(); ++k)
      unknown_tensor_in = unknown_tensor_in || (in[k].k == V::K::Unknown && tensor_typed(n->inputs()[k]));
    for (const jit::Value* o : n->outputs()) tensor_out = tensor_out || tensor_typed(o);
    if (kind.rfind("aten::", 0) != 0 || !unknown_tensor_in || !tensor_out) return;
    try {
      map_tensor_op(n, kind, in);
    } catch (const NoMapping& u) {
      unsupported_.push_back({n->kind().toQualString(), module_path(n), source_line(n), u.why});
    } catch (const Unmappable&) {
      // It has a mapping; whether these inputs fit it cannot be told.
    } catch (const std::exception&) {
      // Likewise (a lookup of an unknown input's shape): not listed.
    }
  }

  // The view back to [N, C, H, W] of a channel-group view: a channel shuffle when transposed.
  std::vector<V> unsplit(jit::Node* n, V x) {
    const int64_t groups = x.split;
    const bool shuffled = x.transposed;
    x.split = 0;
    x.transposed = false;
    if (!shuffled) {
      ++folded_;
      return {x};
    }
    return one(emit(n, Node{"", Op::ChannelShuffle, {x.node}, {{"groups", groups}}}));
  }

  // chunk / split / split_with_sizes along channels: one slice node per part.
  std::vector<V> split_channels(jit::Node* n, const std::string& kind, const std::vector<V>& in) {
    V x = tensor_in(in, 0, "the input");
    const Shape& sh = shape(x);
    const int64_t rank = static_cast<int64_t>(sh.size()) + 1;
    int64_t d = int_of(in.at(2), "dim");
    if (d < 0) d += rank;
    if (d != 1) unmappable("a split along another axis than channels");
    const int64_t c = sh[0];
    // chunk(n) and split(size) cut equal parts (the last one smaller); the others give the sizes.
    const bool chunk = kind == "aten::chunk" || kind == "aten::unsafe_chunk";
    const bool equal_parts = chunk || ((kind == "aten::split" || kind == "aten::unsafe_split") &&
                                       in.at(1).is_const() && in.at(1).c.isInt());
    std::vector<int64_t> sizes;
    if (equal_parts) {
      const int64_t arg = int_of(in.at(1), chunk ? "chunks" : "split size");
      if (arg < 1) unmappable(chunk ? "chunks below 1" : "a split size below 1");
      const int64_t each = chunk ? (c + arg - 1) / arg : arg;
      for (int64_t at = 0; at < c; at += each) sizes.push_back(std::min(each, c - at));
    } else {
      sizes = ints_of(in.at(1), "split sizes");
    }
    int64_t total = 0;
    for (int64_t s : sizes) {
      if (s < 1) unmappable("a part of no channels");
      total += s;
    }
    if (total != c) unmappable("split sizes that do not add up to the input's " + std::to_string(c) + " channels");
    std::vector<V> parts;
    int64_t start = 0;
    for (int64_t s : sizes) {
      if (sizes.size() == 1) {
        parts.push_back(x);
      } else {
        parts.push_back(V::tensor(emit(n, Node{"", Op::Slice, {x.node}, {{"start", start}, {"end", start + s}}})));
      }
      start += s;
    }
    return {V::list(parts)};
  }

  std::vector<V> flatten(jit::Node* n, const V& x) {
    if (shape(x).size() == 1) {
      ++folded_;
      return {x};
    }
    return one(emit(n, Node{"", Op::Flatten, {x.node}, {}}));
  }

  std::vector<V> arithmetic(jit::Node* n, const std::string& kind, const std::vector<V>& in) {
    const V& a = in.at(0);
    const V& b = in.at(1);
    double alpha = (kind == "aten::add" || kind == "aten::sub" || kind == "aten::rsub") && in.size() > 2
                       ? num_of(in[2], "alpha") : 1.0;
    auto affine = [&](const V& x, double scale, double shift) {
      return one(emit(n, Node{"", Op::Affine, {x.node}, {{"scale", scale}, {"shift", shift}}}));
    };
    if (a.is_tensor() && b.is_tensor()) {
      if (kind == "aten::add" && alpha == 1) {
        if (shape(a) != shape(b)) unmappable("an add that broadcasts");
        return one(emit(n, Node{"", Op::Add, {a.node, b.node}, {}}));
      }
      if (kind == "aten::mul") return one(emit(n, Node{"", Op::Mul, {a.node, b.node}, {}}));
      unmappable("this arithmetic on two computed tensors");
    }
    const V& x = a.is_tensor() ? a : b;
    const V& c = a.is_tensor() ? b : a;
    if (!c.is_number()) unmappable("arithmetic with a constant tensor that is not one number");
    double v = num_of(c, "the scalar");
    if (kind == "aten::add") return affine(x, 1, alpha * v);
    if (kind == "aten::sub" && a.is_tensor()) return affine(x, 1, -alpha * v);
    if (kind == "aten::rsub" && a.is_tensor()) return affine(x, -alpha, v);
    if (kind == "aten::mul") return affine(x, v, 0);
    if (kind == "aten::div" && a.is_tensor() && in.size() == 2 && v != 0) return affine(x, 1 / v, 0);
    unmappable("this arithmetic with a scalar");
  }

  std::vector<V> upsample(jit::Node* n, const std::string& kind, const std::vector<V>& in) {
    V x = tensor_in(in, 0, "the input");
    bool bilinear = kind == "aten::upsample_bilinear2d";
    std::map<std::string, AttrValue> attrs{{"mode", std::string(bilinear ? "bilinear" : "nearest")}};
    // Overloads: (x, output_size, [align_corners,] scales_h, scales_w) and
    // .vec (x, output_size?, [align_corners,] scale_factors?).
    const V& size = in.at(1);
    if (bilinear) attrs["align_corners"] = int64_t{bool_of(in.at(2), "align_corners")};
    const bool vec = in.size() == (bilinear ? 4u : 3u);
    if (!size.is_none() && !(size.k == V::K::List && size.items.empty()) &&
        !(size.is_const() && size.c.isIntList() && size.c.toIntVector().empty())) {
      attrs["size"] = pair_of(size, "output_size");
    } else if (vec) {
      auto sc = reals_of(in.back(), "scale_factors");
      std::vector<int64_t> ints;
      for (double s : sc) {
        if (s != std::floor(s) || s < 1) unmappable("a scale factor that is not a whole number");
        ints.push_back(static_cast<int64_t>(s));
      }
      if (ints.size() != 2) unmappable("scale factors for other than H and W");
      attrs["scale"] = ints;
    } else {
      unmappable("neither an output size nor scale factors");
    }
    return one(emit(n, Node{"", Op::Upsample, {x.node}, attrs}));
  }

  // The graph of the nodes the output depends on.
  Model finish(const std::string& output) {
    std::unordered_map<std::string, size_t> at;
    for (size_t k = 0; k < nodes_.size(); ++k) at[nodes_[k].name] = k;
    std::vector<bool> needed(nodes_.size(), false);
    needed[at.at(output)] = true;
    for (size_t k = nodes_.size(); k-- > 0;)
      if (needed[k])
        for (const auto& i : nodes_[k].inputs) needed[at.at(i)] = true;
    Model m;
    for (size_t k = 0; k < nodes_.size(); ++k) {
      if (!needed[k]) continue;
      for (const auto& spec : param_specs(nodes_[k])) {
        std::string key = param_key(nodes_[k].name, spec.name);
        m.weights[key] = weights_.at(key);
      }
      m.graph.add(nodes_[k]);
    }
    m.graph.set_output(output);
    m.graph.validate();
    check_weights(m.graph, m.weights);
    return m;
  }
};

}  // namespace

Model import_torchscript(const std::string& path, const Shape& input_shape, ImportReport* report) {
  auto start = std::chrono::steady_clock::now();
  if (input_shape.size() != 3)
    throw OptionError("the input shape must be C,H,W (3 values), got " + std::to_string(input_shape.size()));
  for (int64_t d : input_shape)
    if (d <= 0 || d > 4096) throw OptionError("the input shape's sizes must be in 1..4096, got " + std::to_string(d));
  jit::Module module;
  try {
    std::istringstream bytes(read_regular_file(path, std::uintmax_t{16} << 30, "TorchScript file", "16 GiB"));
    module = jit::load(bytes);
  } catch (const c10::Error& e) {
    std::string what = e.what_without_backtrace();
    throw IoError(path + ": not a TorchScript file torch.jit.load can read (" + what.substr(0, what.find('\n')) + ")");
  }
  std::shared_ptr<jit::Graph> graph;
  try {
    module.eval();
    jit::Module frozen = jit::freeze_module(module);
    graph = frozen.get_method("forward").graph()->copy();
    jit::Inline(*graph);
    jit::ConstantPropagation(graph);
    jit::EliminateDeadCode(graph);
  } catch (const c10::Error& e) {
    std::string what = e.what_without_backtrace();
    throw IoError(path + ": cannot freeze the module's forward (" + what.substr(0, what.find('\n')) + ")");
  }
  ImportReport r;
  Model m;
  try {
    m = Importer(input_shape).run(graph, r);
  } catch (const ImportError& e) {
    throw ImportError(path + ": " + e.what(), e.unsupported);
  } catch (const GraphError& e) {
    throw GraphError(path + ": " + e.what());
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (report) *report = r;
  return m;
}

}  // namespace legodnn
