#include "legodnn/graph/graph.h"

#include <algorithm>

#include "legodnn/graph/ops/common.h"
#include "legodnn/util/error.h"

namespace legodnn {

using ops::fail;

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
  const OpInfo& info = op_info(n.op);
  return info.params ? info.params(n) : std::vector<ParamSpec>{};
}

// ---- shapes -----------------------------------------------------------------------------------

Shape infer_node_shape(const Node& n, const std::vector<Shape>& in) {
  return op_info(n.op).shape(n, in);
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

int64_t batch_within(const Graph& g, int64_t wanted, int64_t max_bytes) {
  int64_t largest = 1;
  for (const Shape& s : g.infer_shapes()) {
    int64_t n = 1;
    for (int64_t d : s) n *= d;
    largest = std::max(largest, n);
  }
  return std::max<int64_t>(1, std::min(wanted, max_bytes / (4 * largest)));
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
    if (auto macs = op_info(n.op).macs) st.macs += macs(n, shapes[k]);
    st.convs += n.op == Op::Conv2d;
  }
  return st;
}

}  // namespace legodnn
