// Block detection on the zoo models and explicit blocks: torch-free (graphs only). Descendant
// generation by channel pruning is tests/test_blocks.cpp.
#include <algorithm>

#include "legodnn/blocks/detect.h"
#include "legodnn/models/zoo.h"
#include "legodnn/util/error.h"
#include "test_util.h"

using namespace legodnn;

namespace {

Graph zoo_graph(const std::string& name, double width = 1.0) {
  ZooOptions o;
  o.width = width;
  return build_zoo_model(name, o);
}

std::vector<std::string> exits(const std::vector<BlockSpec>& bs) {
  std::vector<std::string> out;
  for (const auto& b : bs) out.push_back(b.exit);
  return out;
}

}  // namespace

TEST(Blocks, Resnet18HasEightBlocksOnePerResidualUnit) {
  Graph g = zoo_graph("resnet18", 0.25);
  auto bs = detect_blocks(g);
  ASSERT_EQ(bs.size(), 8u);
  std::vector<std::string> want;
  for (int s = 1; s <= 4; ++s)
    for (int k = 0; k < 2; ++k) want.push_back("s" + std::to_string(s) + ".b" + std::to_string(k) + ".relu");
  EXPECT_EQ(exits(bs), want);
  // The shortcut (with its projection) lies inside the block; the stem and head are frame.
  const auto& b2 = bs[2].nodes;
  EXPECT_NE(std::find(b2.begin(), b2.end(), "s2.b0.down.conv"), b2.end());
  EXPECT_EQ(bs[2].nodes.front(), "s2.b0.conv1");
  EXPECT_EQ(bs[0].entry, "stem.act");
  EXPECT_EQ(frame_nodes(g, bs),
            (std::vector<std::string>{"input", "stem.conv", "stem.bn", "stem.act", "pool", "flatten", "fc"}));
}

TEST(Blocks, Resnet20HasNineBlocks) {
  auto bs = detect_blocks(zoo_graph("resnet20"));
  ASSERT_EQ(bs.size(), 9u);
  for (size_t k = 0; k < 9; ++k) {
    std::string unit = "s" + std::to_string(k / 3 + 1) + ".b" + std::to_string(k % 3);
    EXPECT_EQ(bs[k].nodes.front(), unit + ".conv1");
    EXPECT_EQ(bs[k].exit, unit + ".relu");
    EXPECT_EQ(bs[k].convs, k % 3 == 0 && k > 0 ? 3 : 2);
  }
}

TEST(Blocks, Vgg16HasFiveBlocksOnePerStage) {
  auto bs = detect_blocks(zoo_graph("vgg16_bn", 0.25));
  ASSERT_EQ(bs.size(), 5u);
  EXPECT_EQ(exits(bs), (std::vector<std::string>{"s1.pool", "s2.pool", "s3.pool", "s4.pool", "s5.l2.act"}));
  std::vector<int> convs;
  for (const auto& b : bs) convs.push_back(b.convs);
  EXPECT_EQ(convs, (std::vector<int>{2, 2, 3, 3, 3}));
}

TEST(Blocks, MobileNetV2HasSeventeenBlocks) {
  // Width 0.5 (the shipped teacher): the stem joins the first unit (t=1, 32->16 channels, no
  // residual), since alone neither has a prunable channel; every later inverted residual is a
  // block (3 convs each); the last 1x1 conv feeds the head only, so it stays in the frame.
  auto bs = detect_blocks(zoo_graph("mobilenetv2", 0.5));
  ASSERT_EQ(bs.size(), 17u);
  EXPECT_EQ(bs[0].nodes.front(), "stem.conv");
  EXPECT_EQ(bs[0].exit, "ir0.project.bn");
  for (size_t k = 1; k < 17; ++k) EXPECT_EQ(bs[k].nodes.front(), "ir" + std::to_string(k) + ".expand.conv");
}

TEST(Blocks, MaxConvsAndMaxRatioGroupMoreSegments) {
  Graph g = zoo_graph("resnet20");
  DetectOptions o;
  o.max_convs = 6;
  auto bs = detect_blocks(g, o);
  ASSERT_EQ(bs.size(), 6u);  // stage 1: 2+2 | 2 ; stages 2, 3: 3+2 | 2
  EXPECT_EQ(bs[0].exit, "s1.b1.relu");
  o = {};
  o.max_ratio = 0.05;  // floor(0.05 * 21) = 1, raised to 2
  EXPECT_EQ(detect_blocks(g, o).size(), 9u);
  o.cross_stages = true;
  o.max_ratio = 0;
  o.max_convs = 5;
  EXPECT_EQ(detect_blocks(g, o)[1].exit, "s2.b0.relu");  // s1.b2 + s2.b0 across the stage change
}

TEST(Blocks, ExplicitBlocksAreCheckedForSingleEntrySingleExit) {
  Graph g = zoo_graph("resnet20");
  auto bs = explicit_blocks(g, {{"s1.b0.conv1", "s1.b0.relu"}, {"s2.b0.conv1", "s2.b1.relu"}});
  ASSERT_EQ(bs.size(), 2u);
  EXPECT_EQ(bs[0].entry, "stem.act");
  EXPECT_EQ(bs[1].convs, 5);
  EXPECT_THROWS_WITH(explicit_blocks(g, {{"s1.b0.bn2", "s1.b0.add"}}), GraphError,
                     "block s1.b0.bn2:s1.b0.add: not single-entry: it reads 2 outside nodes (s1.b0.conv2, stem.act)");
  EXPECT_THROWS_WITH(explicit_blocks(g, {{"stem.conv", "s1.b0.conv1"}}), GraphError,
                     "not single-exit: 's1.b0.add' outside the block reads 'stem.act'");
  EXPECT_THROWS_WITH(explicit_blocks(g, {{"s1.b0.relu", "s1.b0.conv1"}}), GraphError, "comes after");
  EXPECT_THROWS_WITH(explicit_blocks(g, {{"nope", "s1.b0.conv1"}}), GraphError, "no node named 'nope'");
  EXPECT_THROWS_WITH(explicit_blocks(g, {{"s1.b0.conv1", "s1.b1.relu"}, {"s1.b1.conv1", "s1.b1.relu"}}),
                     GraphError, "overlaps");
}
