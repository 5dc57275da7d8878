// Descendant generation by channel pruning, composition (block detection alone is
// tests/base/test_detect.cpp).
#include <cmath>
#include <cstring>
#include <random>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "legodnn/blocks/prune.h"
#include "legodnn/graph/executor.h"
#include "legodnn/graph/serialize.h"
#include "legodnn/models/builder.h"
#include "legodnn/models/zoo.h"
#include "legodnn/util/error.h"
#include "test_util.h"

using namespace legodnn;

namespace {

Model zoo_model(const std::string& name, double width = 1.0, uint64_t seed = 0) {
  ZooOptions o;
  o.width = width;
  Model m{build_zoo_model(name, o), {}};
  m.weights = init_weights(m.graph, seed);
  return m;
}

// Runs `m` with the channels that `keep` drops forced to zero at their producers: for graphs of
// bias-free convs and relus this must equal the pruned descendant exactly.
at::Tensor masked_reference(const Graph& block, const Weights& w, const ChannelAnalysis& ca,
                            const std::vector<std::vector<int64_t>>& keep, const at::Tensor& x) {
  Weights masked = clone_weights(w);
  at::NoGradGuard ng;
  for (size_t gi = 0; gi < ca.groups.size(); ++gi) {
    for (const auto& p : ca.groups[gi].producers) {
      auto& t = masked.at(param_key(p, "weight"));
      std::vector<char> kept(t.size(0), 0);
      for (auto c : keep[gi]) kept[c] = 1;
      for (int64_t c = 0; c < t.size(0); ++c)
        if (!kept[c]) t[c].zero_();
    }
  }
  return Executor(block, masked).forward(x);
}

}  // namespace

TEST(Blocks, SparsityZeroDescendantIsTheOriginalBitForBit) {
  Model m = zoo_model("resnet20", 1.0, 3);
  auto fams = make_descendants(m, detect_blocks(m.graph), default_sparsities());
  for (const auto& f : fams) {
    const Model& d = f.descendants[0];
    EXPECT_EQ(graph_to_json(d.graph).dump(), graph_to_json(f.original).dump());
    for (const auto& [k, t] : block_weights(f.original, m.weights)) {
      const auto& u = d.weights.at(k);
      ASSERT_EQ(u.sizes(), t.sizes());
      EXPECT_EQ(std::memcmp(u.data_ptr(), t.contiguous().data_ptr(), t.numel() * 4), 0) << k;
    }
  }
}

TEST(Blocks, Resnet20BlockParameterCountsByHand) {
  Model m = zoo_model("resnet20");
  auto fams = make_descendants(m, detect_blocks(m.graph), default_sparsities());
  // Block 1 (s1.b1): conv1 16->k, bn1 k, conv2 k->16, bn2 16; k = 16 - floor(16 s).
  // Block 3 (s2.b0): conv1 16->k, bn1, conv2 k->32, bn2 32, projection 16->32 + bn; k = 32 - floor(32 s).
  const int64_t k16[] = {16, 13, 10, 7, 4}, k32[] = {32, 26, 20, 13, 7};
  for (int s = 0; s < 5; ++s) {
    int64_t a = k16[s], b = k32[s];
    EXPECT_EQ(graph_stats(fams[1].descendants[s].graph).params, 16 * a * 9 + 2 * a + a * 16 * 9 + 32) << s;
    EXPECT_EQ(graph_stats(fams[3].descendants[s].graph).params,
              16 * b * 9 + 2 * b + b * 32 * 9 + 64 + 16 * 32 + 64) << s;
  }
}

TEST(Blocks, KeptChannelsAreTheHighestL1Filters) {
  GraphBuilder b({2, 5, 5});
  b.conv("c1", "input", 6, 3, 1, -1, 1, false);
  b.unary("r", Op::Relu, "c1");
  b.conv("c2", "r", 3, 3, 1, -1, 1, false);
  Model m{b.finish(), {}};
  m.weights = init_weights(m.graph, 0);
  // Filter c has L1 norm proportional to scale[c].
  const double scale[] = {0.5, 3.0, 1.0, 2.5, 0.1, 4.0};
  {
    at::NoGradGuard ng;
    auto& w = m.weights.at("c1.weight");
    w.fill_(1.0);
    for (int c = 0; c < 6; ++c) w[c].mul_(scale[c]);
  }
  auto ca = analyse_channels(m.graph);
  ASSERT_EQ(ca.prunable(), 1);
  auto imp = channel_importance(m.graph, m.weights, ca);
  auto keep = kept_channels(ca, imp, 0.5);  // 6 - floor(3) = 3 channels: 1, 3, 5
  int g = ca.layout[m.graph.index("c1")][0].group;
  EXPECT_EQ(keep[g], (std::vector<int64_t>{1, 3, 5}));
  Model d = prune_block(m.graph, m.weights, ca, keep);
  auto w1 = m.weights.at("c1.weight"), w2 = m.weights.at("c2.weight");
  auto idx = at::tensor(std::vector<int64_t>{1, 3, 5}, at::kLong);
  EXPECT_TRUE(at::equal(d.weights.at("c1.weight"), w1.index_select(0, idx)));
  EXPECT_TRUE(at::equal(d.weights.at("c2.weight"), w2.index_select(1, idx)));
  EXPECT_EQ(kept_channels(ca, imp, 0.8)[g], (std::vector<int64_t>{1, 5}));  // 6 - floor(4.8) = 2
}

TEST(Blocks, DepthwiseCouplingIsPrunedConsistently) {
  GraphBuilder b({4, 6, 6});
  auto x = b.conv("expand", "input", 8, 1, 1, 0);
  x = b.unary("r1", Op::Relu, x);
  x = b.conv("dw", x, 8, 3, 1, 1, 8);  // depthwise: couples expand's channel c with its own c
  x = b.unary("r2", Op::Relu, x);
  b.conv("project", x, 4, 1, 1, 0);
  Model m{b.finish(), {}};
  m.weights = init_weights(m.graph, 1);
  auto ca = analyse_channels(m.graph);
  ASSERT_EQ(ca.prunable(), 1);
  int g = ca.layout[m.graph.index("dw")][0].group;
  EXPECT_EQ(ca.layout[m.graph.index("expand")][0].group, g);
  EXPECT_EQ(ca.groups[g].producers, (std::vector<std::string>{"expand", "dw"}));
  auto keep = kept_channels(ca, channel_importance(m.graph, m.weights, ca), 0.5);
  Model d = prune_block(m.graph, m.weights, ca, keep);
  const Node& dw = d.graph.node("dw");
  EXPECT_EQ(dw.i("groups"), 4);
  EXPECT_EQ(dw.i("in_channels"), 4);
  auto xin = at::randn({2, 4, 6, 6});
  auto got = Executor(d.graph, d.weights).forward(xin);
  EXPECT_TRUE(at::allclose(got, masked_reference(m.graph, m.weights, ca, keep, xin), 1e-5, 1e-6));
}

TEST(Blocks, GroupedConvIsPrunedByWholeGroups) {
  // ResNeXt-style: 1x1 expand, 3x3 grouped conv (4 groups of 4 channels), 1x1 project.
  GraphBuilder b({4, 6, 6});
  auto x = b.conv("expand", "input", 16, 1, 1, 0, 1, false);
  x = b.unary("r1", Op::Relu, x);
  x = b.conv("grouped", x, 16, 3, 1, 1, 4, false);
  x = b.unary("r2", Op::Relu, x);
  b.conv("project", x, 4, 1, 1, 0, 1, false);
  Model m{b.finish(), {}};
  m.weights = init_weights(m.graph, 3);
  auto ca = analyse_channels(m.graph);
  ASSERT_EQ(ca.prunable(), 1);
  int g = ca.layout[m.graph.index("grouped")][0].group;
  EXPECT_EQ(ca.layout[m.graph.index("expand")][0].group, g);
  EXPECT_EQ(ca.groups[g].unit, 4);
  auto imp = channel_importance(m.graph, m.weights, ca);
  for (double s : {0.3, 0.5, 0.8}) {
    auto keep = kept_channels(ca, imp, s);
    const int64_t groups = 4 - static_cast<int64_t>(std::floor(s * 4 + 1e-9));  // whole groups: 3, 2, 1
    ASSERT_EQ(keep[g].size(), static_cast<size_t>(4 * groups)) << s;
    for (size_t k = 0; k < keep[g].size(); k += 4)
      for (int64_t j = 1; j < 4; ++j) EXPECT_EQ(keep[g][k + j], keep[g][k] + j) << "runs of 4 at sparsity " << s;
    Model d = prune_block(m.graph, m.weights, ca, keep);
    const Node& gc = d.graph.node("grouped");
    EXPECT_EQ(gc.i("groups"), groups);
    EXPECT_EQ(gc.i("in_channels"), 4 * groups);
    auto xin = at::randn({2, 4, 6, 6});
    auto got = Executor(d.graph, d.weights).forward(xin);
    EXPECT_TRUE(at::allclose(got, masked_reference(m.graph, m.weights, ca, keep, xin), 1e-5, 1e-6)) << s;
  }
}

TEST(Blocks, GroupedConvWithAChannelMultiplierIsFrozenWithTheReason) {
  GraphBuilder b({4, 6, 6});
  auto x = b.conv("expand", "input", 8, 1, 1, 0, 1, false);
  x = b.conv("grouped", x, 16, 3, 1, 1, 4, false);  // 8 -> 16 in 4 groups: 2 in, 4 out per group
  b.conv("project", x, 4, 1, 1, 0, 1, false);
  Model m{b.finish(), {}};
  m.weights = init_weights(m.graph, 4);
  auto ca = analyse_channels(m.graph);
  EXPECT_EQ(ca.prunable(), 0);
  const auto& why = ca.groups[ca.layout[m.graph.index("expand")][0].group].why_frozen;
  EXPECT_NE(why.find("grouped conv grouped (8 -> 16 channels in 4 groups"), std::string::npos) << why;
}

TEST(Blocks, ResidualAddCouplingIsPrunedConsistently) {
  // Two branches added inside the block: their output channels form one group.
  GraphBuilder b({3, 6, 6});
  auto a = b.conv("a", "input", 8, 3, 1, -1, 1, false);
  auto c = b.conv("c", "input", 8, 1, 1, 0, 1, false);
  auto s = b.add("sum", {a, c});
  auto r = b.unary("r", Op::Relu, s);
  b.conv("out", r, 3, 3, 1, -1, 1, false);
  Model m{b.finish(), {}};
  m.weights = init_weights(m.graph, 2);
  auto ca = analyse_channels(m.graph);
  ASSERT_EQ(ca.prunable(), 1);
  int g = ca.layout[m.graph.index("sum")][0].group;
  EXPECT_EQ(ca.groups[g].producers, (std::vector<std::string>{"a", "c"}));
  auto keep = kept_channels(ca, channel_importance(m.graph, m.weights, ca), 0.4);
  EXPECT_EQ(keep[g].size(), 5u);  // 8 - floor(3.2)
  Model d = prune_block(m.graph, m.weights, ca, keep);
  auto xin = at::randn({2, 3, 6, 6});
  auto got = Executor(d.graph, d.weights).forward(xin);
  EXPECT_TRUE(at::allclose(got, masked_reference(m.graph, m.weights, ca, keep, xin), 1e-5, 1e-6));
}

TEST(Blocks, ConcatCouplingIsPrunedAtOffsets) {
  GraphBuilder b({3, 6, 6});
  auto a = b.conv("a", "input", 4, 3, 1, -1, 1, false);
  auto c = b.conv("c", "input", 6, 1, 1, 0, 1, false);
  auto cat = b.concat("cat", {a, c});
  auto r = b.unary("r", Op::Relu, cat);
  b.conv("out", r, 3, 3, 1, -1, 1, false);
  Model m{b.finish(), {}};
  m.weights = init_weights(m.graph, 3);
  auto ca = analyse_channels(m.graph);
  ASSERT_EQ(ca.prunable(), 2);
  const auto& lay = ca.layout[m.graph.index("cat")];
  ASSERT_EQ(lay.size(), 2u);
  EXPECT_EQ(lay[1].offset, 4);
  auto keep = kept_channels(ca, channel_importance(m.graph, m.weights, ca), 0.5);
  Model d = prune_block(m.graph, m.weights, ca, keep);
  EXPECT_EQ(d.graph.node("out").i("in_channels"), 2 + 3);
  auto xin = at::randn({2, 3, 6, 6});
  auto got = Executor(d.graph, d.weights).forward(xin);
  EXPECT_TRUE(at::allclose(got, masked_reference(m.graph, m.weights, ca, keep, xin), 1e-5, 1e-6));
}

TEST(Blocks, FlattenIntoLinearInsideABlockPrunesFeatureRuns) {
  GraphBuilder b({2, 3, 3});
  auto x = b.conv("c", "input", 4, 3, 1, -1, 1, false);
  x = b.unary("r", Op::Relu, x);
  x = b.unary("f", Op::Flatten, x);
  b.linear("fc", x, 5, false);
  Model m{b.finish(), {}};
  m.weights = init_weights(m.graph, 4);
  auto ca = analyse_channels(m.graph);
  ASSERT_EQ(ca.prunable(), 1);
  auto keep = kept_channels(ca, channel_importance(m.graph, m.weights, ca), 0.5);
  Model d = prune_block(m.graph, m.weights, ca, keep);
  EXPECT_EQ(d.graph.node("fc").i("in_features"), 2 * 9);
  auto xin = at::randn({2, 2, 3, 3});
  auto got = Executor(d.graph, d.weights).forward(xin);
  EXPECT_TRUE(at::allclose(got, masked_reference(m.graph, m.weights, ca, keep, xin), 1e-5, 1e-6));
}

TEST(Blocks, RandomCompositionsRunWithTheRightShape) {
  std::mt19937 rng(7);
  for (const char* name : {"resnet20", "resnet18", "vgg16_bn", "vgg11_bn", "mobilenetv2"}) {
    Model m = zoo_model(name, 0.25, 5);
    auto fams = make_descendants(m, detect_blocks(m.graph), default_sparsities());
    ASSERT_FALSE(fams.empty()) << name;
    std::vector<std::vector<int>> choices;
    choices.push_back(std::vector<int>(fams.size(), 0));
    choices.push_back(std::vector<int>(fams.size(), 4));
    for (int r = 0; r < 50; ++r) {
      std::vector<int> c;
      for (size_t i = 0; i < fams.size(); ++i) c.push_back(static_cast<int>(rng() % 5));
      choices.push_back(c);
    }
    at::InferenceMode guard;
    auto x = at::randn({2, 1, 32, 32});
    auto teacher_out = Executor(m.graph, m.weights).forward(x);
    int64_t last_macs = -1;
    for (size_t k = 0; k < choices.size(); ++k) {
      Model c = compose(m, fams, choices[k]);
      auto y = Executor(c.graph, c.weights).forward(x);
      ASSERT_EQ(y.sizes(), (std::vector<int64_t>{2, 10})) << name;
      if (k == 0) EXPECT_TRUE(at::equal(y, teacher_out)) << name << ": all-0.0 must be the teacher";
      if (k == 1) last_macs = graph_stats(c.graph).macs;
    }
    EXPECT_LT(last_macs, graph_stats(m.graph).macs) << name;
  }
}
