// The torch-free half of pruning: which channels a group keeps at a sparsity, and how each node
// and its tensors change (the index maps). Slicing the tensors is tests/test_blocks.cpp.
#include <algorithm>

#include "legodnn/blocks/channels.h"
#include "legodnn/blocks/prune_plan.h"
#include "legodnn/models/builder.h"
#include "legodnn/util/error.h"
#include "test_util.h"

using namespace legodnn;

namespace {

// input [3,8,8] -> a: conv 3->6 (bias) -> relu -> b: conv 6->4. The six channels between the convs
// form the one prunable group; the input's and the output's are frozen.
Graph two_convs() {
  GraphBuilder b({3, 8, 8});
  auto a = b.conv("a", "input", 6, 3, 1, -1, 1, /*bias=*/true);
  auto r = b.unary("r", Op::Relu, a);
  b.conv("b", r, 4, 1);
  return b.finish();
}

const ParamSlice* find_slice(const PrunedNode& p, const std::string& param, int64_t dim) {
  auto it = std::find_if(p.slices.begin(), p.slices.end(),
                         [&](const ParamSlice& s) { return s.param == param && s.dim == dim; });
  return it == p.slices.end() ? nullptr : &*it;
}

}  // namespace

TEST(PrunePlan, KeptChannelsAreTheMostImportantInIndexOrder) {
  Graph g = two_convs();
  ChannelAnalysis ca = analyse_channels(g);
  ASSERT_EQ(ca.prunable(), 1);
  std::vector<std::vector<double>> imp(ca.groups.size());
  size_t pg = 0;
  for (size_t gi = 0; gi < ca.groups.size(); ++gi) {
    imp[gi].assign(ca.groups[gi].channels, 1.0);
    if (!ca.groups[gi].frozen) pg = gi;
  }
  imp[pg] = {0.5, 3.0, 0.1, 2.0, 2.0, 0.2};
  // 6 - floor(0.5 * 6) = 3 kept: channel 1 and the tie 3, 4; frozen groups keep all.
  auto keep = kept_channels(ca, imp, 0.5);
  EXPECT_EQ(keep[pg], (std::vector<int64_t>{1, 3, 4}));
  for (size_t gi = 0; gi < ca.groups.size(); ++gi) {
    if (gi != pg) {
      EXPECT_EQ(static_cast<int64_t>(keep[gi].size()), ca.groups[gi].channels) << gi;
    }
  }
  EXPECT_EQ(kept_channels(ca, imp, 0.0)[pg].size(), 6u);
  EXPECT_EQ(kept_channels(ca, imp, 0.99)[pg], (std::vector<int64_t>{1}));  // at least one
  EXPECT_THROWS_WITH(kept_channels(ca, imp, 1.0), OptionError, "sparsity must be in [0, 1), got 1");
  EXPECT_EQ(default_sparsities(), (std::vector<double>{0.0, 0.2, 0.4, 0.6, 0.8}));
}

TEST(PrunePlan, NodesAndTensorSlicesFollowTheKeptChannels) {
  Graph g = two_convs();
  ChannelAnalysis ca = analyse_channels(g);
  std::vector<std::vector<int64_t>> keep(ca.groups.size());
  for (size_t gi = 0; gi < ca.groups.size(); ++gi) {
    keep[gi].resize(ca.groups[gi].channels);
    for (int64_t c = 0; c < ca.groups[gi].channels; ++c) keep[gi][c] = c;
    if (!ca.groups[gi].frozen) keep[gi] = {0, 2, 5};
  }
  auto plan = prune_plan(g, ca, keep);
  ASSERT_EQ(plan.size(), g.size());
  const PrunedNode& a = plan[g.index("a")];
  const PrunedNode& b = plan[g.index("b")];
  EXPECT_EQ(a.node.i("out_channels", 0), 3);
  EXPECT_EQ(a.node.i("in_channels", 0), 3);
  EXPECT_EQ(b.node.i("in_channels", 0), 3);
  EXPECT_EQ(b.node.i("out_channels", 0), 4);
  // The tensors carried over are the original node's (before the rewrite).
  ASSERT_EQ(a.params.size(), 2u);
  EXPECT_EQ(a.params[0].shape, (Shape{6, 3, 3, 3}));
  ASSERT_NE(find_slice(a, "weight", 0), nullptr);
  EXPECT_EQ(find_slice(a, "weight", 0)->index, (std::vector<int64_t>{0, 2, 5}));
  EXPECT_EQ(find_slice(a, "bias", 0)->index, (std::vector<int64_t>{0, 2, 5}));
  EXPECT_EQ(find_slice(a, "weight", 1)->index, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(find_slice(b, "weight", 1)->index, (std::vector<int64_t>{0, 2, 5}));
  EXPECT_TRUE(plan[g.index("r")].slices.empty());
  // The rewritten nodes make a valid, smaller graph.
  Graph out;
  for (const auto& p : plan) out.add(p.node);
  out.set_output(g.output());
  out.validate();
  EXPECT_EQ(out.infer_shapes()[out.index("r")], (Shape{3, 8, 8}));
}

TEST(PrunePlan, FlattenedFeaturesRepeatEachChannel) {
  // After a flatten, channel c of a [C,2,2] map is features 4c .. 4c+3.
  ChannelLayout layout = {ChannelSegment{}};
  layout[0].group = 0;
  layout[0].offset = 0;
  layout[0].count = 4;
  layout[0].repeat = 4;
  EXPECT_EQ(kept_indices(layout, {{1, 3}}), (std::vector<int64_t>{4, 5, 6, 7, 12, 13, 14, 15}));
}
