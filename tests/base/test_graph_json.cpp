// Graph structure as JSON: validation errors name the node and the field; the node order of a file
// is kept. Torch-free (the tensor side is tests/test_graph.cpp).
#include <algorithm>

#include <nlohmann/json.hpp>

#include "legodnn/graph/graph_json.h"
#include "legodnn/models/builder.h"
#include "legodnn/models/zoo.h"
#include "legodnn/util/error.h"
#include "test_util.h"
#include "tiny_graph.h"

using namespace legodnn;
using legodnn::testing::tiny_graph_json;
using nlohmann::json;

TEST(Graph, ValidJsonLoads) {
  Graph g = graph_from_json(tiny_graph_json(), "tiny.json");
  EXPECT_EQ(g.size(), 3u);
  EXPECT_EQ(g.output(), "r");
  EXPECT_EQ(g.infer_shapes().back(), (Shape{4, 8, 8}));
}

TEST(Graph, NodesOutOfOrderAreSorted) {
  json j = tiny_graph_json();
  std::swap(j["nodes"][0], j["nodes"][2]);
  Graph g = graph_from_json(j, "tiny.json");
  EXPECT_EQ(g.nodes().front().name, "input");
  EXPECT_EQ(g.nodes().back().name, "r");
}

TEST(Graph, CycleIsRejectedNamingTheNode) {
  json j = tiny_graph_json();
  j["nodes"][1]["inputs"] = {"r"};
  EXPECT_THROWS_WITH(graph_from_json(j, "tiny.json"), GraphError, "tiny.json: node 'c' lies on a cycle");
}

TEST(Graph, DanglingEdgeIsRejectedNamingTheNode) {
  json j = tiny_graph_json();
  j["nodes"][2]["inputs"] = {"ghost"};
  EXPECT_THROWS_WITH(graph_from_json(j, "tiny.json"), GraphError, "node 'r' reads 'ghost'");
}

TEST(Graph, UnknownOpIsRejectedNamingTheNode) {
  json j = tiny_graph_json();
  j["nodes"][2]["op"] = "gelu_fancy";
  EXPECT_THROWS_WITH(graph_from_json(j, "tiny.json"), GraphError, "node 'r': unknown op 'gelu_fancy'");
}

TEST(Graph, ShapeMismatchIsRejectedNamingTheNode) {
  json j = tiny_graph_json();
  j["nodes"][1]["attrs"]["in_channels"] = 5;
  EXPECT_THROWS_WITH(graph_from_json(j, "tiny.json"), GraphError,
                     "node 'c' (conv2d): in_channels is 5 but the input input has 3 channels");
  GraphBuilder b({3, 8, 8});
  auto a = b.conv("a", "input", 4, 3);
  auto c = b.conv("c", "input", 4, 3, 2);
  EXPECT_THROWS_WITH(b.add("sum", {a, c}), GraphError, "node 'sum' (add): input shapes differ");
}

// Attributes that would divide by zero or index outside a tensor are refused at load, naming the
// node and the attribute (a stride of 0 used to kill eval and blocks with SIGFPE).
TEST(Graph, WindowAttributesOutOfRangeAreRejectedNamingTheNode) {
  const std::pair<const char*, json> bad[] = {
      {"stride", {0, 1}}, {"kernel", {0, 3}}, {"dilation", {1, 0}}, {"padding", {-1, 1}}};
  for (const auto& [key, value] : bad) {
    json j = tiny_graph_json();
    j["nodes"][1]["attrs"][key] = value;
    EXPECT_THROWS_WITH(graph_from_json(j, "tiny.json"), GraphError,
                       std::string("node 'c' (conv2d): attribute '") + key + "' must be at least");
  }
  json pool = tiny_graph_json();
  pool["nodes"][2] = {{"name", "r"}, {"op", "max_pool2d"}, {"inputs", {"c"}}, {"attrs", {{"kernel", 2}, {"stride", 0}}}};
  EXPECT_THROWS_WITH(graph_from_json(pool, "tiny.json"), GraphError, "node 'r' (max_pool2d): attribute 'stride' must be at least 1");
  pool["nodes"][2]["attrs"] = {{"kernel", 2}, {"padding", 2}};
  EXPECT_THROWS_WITH(graph_from_json(pool, "tiny.json"), GraphError, "more than half the kernel");
  for (double eps : {-1e-5, 0.0}) {
    json bn = tiny_graph_json();
    bn["nodes"][2] = {{"name", "r"}, {"op", "batch_norm2d"}, {"inputs", {"c"}}, {"attrs", {{"num_features", 4}, {"eps", eps}}}};
    EXPECT_THROWS_WITH(graph_from_json(bn, "tiny.json"), GraphError, "node 'r' (batch_norm2d): eps must be a positive number");
  }
}

TEST(Graph, DuplicateNamesMissingAttributesAndDeadEndsAreRejected) {
  json j = tiny_graph_json();
  j["nodes"][2]["name"] = "c";
  EXPECT_THROWS_WITH(graph_from_json(j, "tiny.json"), GraphError, "node 'c': the name is used twice");
  j = tiny_graph_json();
  j["nodes"][1]["attrs"].erase("out_channels");
  EXPECT_THROWS_WITH(graph_from_json(j, "tiny.json"), GraphError, "node 'c' (conv2d): missing attribute 'out_channels'");
  j = tiny_graph_json();
  j["output"] = "c";
  EXPECT_THROWS_WITH(graph_from_json(j, "tiny.json"), GraphError, "node 'r' is never used");
  j = tiny_graph_json();
  j["nodes"][1]["attrs"]["groups"] = 2;
  EXPECT_THROWS_WITH(graph_from_json(j, "tiny.json"), GraphError, "do not divide into 2 groups");
}

TEST(Serialize, ATopologicalFileKeepsItsNodeOrder) {
  // resnet20's projection units list the shortcut after the main branch; reading must not reorder.
  Graph g = build_zoo_model("resnet20", {});
  Graph back = graph_from_json(graph_to_json(g), "resnet20.json");
  for (size_t k = 0; k < g.size(); ++k) ASSERT_EQ(back.nodes()[k].name, g.nodes()[k].name) << k;
}
