#pragma once
// Graph IR: a DAG of named nodes in topological order. Structure only; no tensors, no torch.
// Parameter shapes follow from node attributes, so shapes, FLOPs and sizes are computed here.
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "legodnn/graph/op_list.h"

namespace legodnn {

/// Operations the IR can express (DESIGN.md section 3), generated from graph/op_list.h.
enum class Op {
#define LEGODNN_OP_ENUM(e, name, entry) e,
  LEGODNN_OPS(LEGODNN_OP_ENUM)
#undef LEGODNN_OP_ENUM
};
/// Number of ops.
constexpr size_t kOpCount = 0
#define LEGODNN_OP_COUNT(e, name, entry) +1
    LEGODNN_OPS(LEGODNN_OP_COUNT);
#undef LEGODNN_OP_COUNT

/// The op's name as written in JSON ("conv2d", "batch_norm2d", ...).
const char* op_name(Op op);
/// Parses an op name; throws GraphError naming `node` for an unknown op.
Op op_from_name(const std::string& name, const std::string& node);

/// An attribute value: integer, real, integer list or string.
using AttrValue = std::variant<int64_t, double, std::vector<int64_t>, std::string>;
/// A per-sample tensor shape, without the batch dimension ([C,H,W] or [F]).
using Shape = std::vector<int64_t>;

/// One node: a unique name, an op, the nodes it reads, and attributes.
struct Node {
  std::string name;
  Op op = Op::Identity;
  std::vector<std::string> inputs;
  std::map<std::string, AttrValue> attrs;

  /// Integer attribute; throws GraphError naming the node when missing or of another type.
  int64_t i(const std::string& key) const;
  /// Integer attribute with a default.
  int64_t i(const std::string& key, int64_t dflt) const;
  /// Real attribute (an integer is accepted too).
  double f(const std::string& key) const;
  /// Real attribute with a default.
  double f(const std::string& key, double dflt) const;
  /// Integer-list attribute.
  std::vector<int64_t> ints(const std::string& key) const;
  /// Integer-list attribute with a default.
  std::vector<int64_t> ints(const std::string& key, std::vector<int64_t> dflt) const;
  /// String attribute with a default.
  std::string s(const std::string& key, const std::string& dflt) const;
};

/// How init_weights fills a fresh tensor.
enum class ParamInit {
  Zeros,
  Ones,
  KaimingNormalFanOut,  ///< normal(0, sqrt(2 / fan_out)), fan_out = shape[0] * shape[2] * shape[3]
  UniformFanIn,         ///< uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in from ParamSpec::fan_in
};

/// A named parameter or buffer of a node and its shape.
struct ParamSpec {
  std::string name;  ///< "weight", "bias", "running_mean", "running_var"
  Shape shape;
  bool trainable;    ///< false for batch-norm running statistics
  ParamInit init = ParamInit::Zeros;
  int64_t fan_in = 0;  ///< for ParamInit::UniformFanIn
};
/// The tensors a node owns, derived from its attributes.
std::vector<ParamSpec> param_specs(const Node& node);
/// Key of a node's tensor in a weight table: "node.param".
std::string param_key(const std::string& node, const std::string& param);

/// Shape of a node's output from its inputs' shapes; throws GraphError naming the node.
Shape infer_node_shape(const Node& node, const std::vector<Shape>& input_shapes);

/// A model graph. Nodes are kept in topological order: a node may only read earlier nodes.
class Graph {
 public:
  /// Appends a node; throws GraphError if its name is taken or an input is not an earlier node.
  Node& add(Node node);
  /// All nodes in topological order.
  const std::vector<Node>& nodes() const { return nodes_; }
  /// Number of nodes.
  size_t size() const { return nodes_.size(); }
  /// The node called `name`; throws GraphError when absent.
  const Node& node(const std::string& name) const;
  /// Index of the node called `name`; throws GraphError when absent.
  int index(const std::string& name) const;
  /// True if a node has this name.
  bool contains(const std::string& name) const { return index_.count(name) > 0; }
  /// The output node: the one named by set_output, else the last node.
  const std::string& output() const;
  /// Names the output node.
  void set_output(const std::string& name);
  /// The single input node's name.
  const std::string& input() const;
  /// For each node index, the indices of the nodes that read it.
  std::vector<std::vector<int>> consumers() const;
  /// Per-node output shapes; throws GraphError naming the first node whose shapes do not fit.
  std::vector<Shape> infer_shapes() const;
  /// Full check: one input, known ops, attributes, edges, shapes, no unused dead ends.
  void validate() const;

 private:
  std::vector<Node> nodes_;
  std::unordered_map<std::string, int> index_;
  std::string output_;
};

/// Size and cost of a graph.
struct GraphStats {
  int64_t params = 0;   ///< trainable parameters
  int64_t buffers = 0;  ///< non-trainable tensors (batch-norm statistics)
  int64_t bytes = 0;    ///< float32 bytes of parameters and buffers
  int64_t macs = 0;     ///< multiply-adds of conv2d and linear per sample (one MAC = one multiply + one add)
  int64_t convs = 0;    ///< number of conv2d nodes
};
/// Counts parameters, bytes and MACs per sample (conv2d and linear only).
GraphStats graph_stats(const Graph& g);

/// At most `wanted`, and few enough images that no node's output over the batch exceeds
/// `max_bytes` (float32; at least 1 image). Batches of inference are sized with it so that their
/// tensors stay below the C allocator's mmap threshold (util/allocator.h).
int64_t batch_within(const Graph& g, int64_t wanted, int64_t max_bytes);

}  // namespace legodnn
