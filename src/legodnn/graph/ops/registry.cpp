// The op table (built from graph/op_list.h, so no entry depends on static initialisation order or
// on being linked in by self-registration) and the helpers the entries share.

#include "legodnn/graph/ops/common.h"
#include "legodnn/util/error.h"
#include "legodnn/util/format.h"

namespace legodnn {
namespace {

struct Entry {
  Op op;
  const char* name;
  const OpInfo* info;
};
constexpr Entry kOps[] = {
#define LEGODNN_OP_ENTRY(e, name, entry) {Op::e, name, &ops::entry##_op},
    LEGODNN_OPS(LEGODNN_OP_ENTRY)
#undef LEGODNN_OP_ENTRY
};
static_assert(sizeof(kOps) / sizeof(kOps[0]) == kOpCount, "one entry per op");

}  // namespace

const char* op_name(Op op) {
  auto k = static_cast<size_t>(op);
  return k < kOpCount ? kOps[k].name : "?";
}

Op op_from_name(const std::string& name, const std::string& node) {
  for (const auto& e : kOps)
    if (name == e.name) return e.op;
  throw GraphError("node '" + node + "': unknown op '" + name + "'");
}

const OpInfo& op_info(Op op) { return *kOps[static_cast<size_t>(op)].info; }

int64_t layout_width(const ChannelLayout& l) {
  int64_t w = 0;
  for (const auto& s : l) w += s.count * s.repeat;
  return w;
}

namespace ops {

std::string shape_str(const Shape& s) { return shape_string(s); }  // one spelling: util/format.h

void fail(const Node& n, const std::string& what) {
  throw GraphError("node '" + n.name + "' (" + op_name(n.op) + "): " + what);
}

std::vector<int64_t> pair_attr(const Node& n, const std::string& key, int64_t dflt) {
  auto v = n.ints(key, {dflt, dflt});
  if (v.size() == 1) v.push_back(v[0]);
  if (v.size() != 2) fail(n, "attribute '" + key + "' needs 1 or 2 values, got " + shape_str(v));
  return v;
}

std::vector<int64_t> pair_attr(const Node& n, const std::string& key, int64_t dflt, int64_t least) {
  auto v = pair_attr(n, key, dflt);
  for (int64_t x : v)
    if (x < least) fail(n, "attribute '" + key + "' must be at least " + std::to_string(least) + ", got " + shape_str(v));
  return v;
}

int64_t conv_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  int64_t num = in + 2 * p - d * (k - 1) - 1;
  if (num < 0) return 0;
  int64_t out = (ceil_mode ? (num + s - 1) / s : num / s) + 1;
  // PyTorch drops a last window that starts entirely inside the right padding.
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

const Shape& expect_chw(const Node& n, const std::vector<Shape>& in, size_t k) {
  if (in[k].size() != 3) fail(n, "expects a [C,H,W] input, got " + shape_str(in[k]));
  return in[k];
}

void expect_arity(const Node& n, size_t count) {
  if (n.inputs.size() != count)
    fail(n, "expects " + std::to_string(count) + " input(s), got " + std::to_string(n.inputs.size()));
}

Shape same_shape(const Node& n, const std::vector<Shape>& in) {
  expect_arity(n, 1);
  return in[0];
}

ChannelLayout pass_channels(const Node&, ChannelCoupling& c) { return c.input(0); }

}  // namespace ops
}  // namespace legodnn
