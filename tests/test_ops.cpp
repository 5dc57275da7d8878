// Each IR op against the matching torch::nn module or ATen composite, on seeded random inputs.
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "legodnn/blocks/channels.h"
#include "legodnn/blocks/prune.h"
#include "legodnn/graph/executor.h"
#include "legodnn/graph/op.h"
#include "legodnn/graph/serialize.h"
#include "legodnn/graph/weights.h"
#include "legodnn/models/builder.h"
#include "legodnn/util/error.h"
#include "test_util.h"

using namespace legodnn;

namespace {

// A graph input -> node(s) built by `build`, with random weights from init_weights and random
// running statistics so batch norm is not the identity.
struct OneOp {
  Model m;
  explicit OneOp(const Shape& in, const std::function<void(GraphBuilder&)>& build, uint64_t seed = 1) {
    GraphBuilder b(in);
    build(b);
    m.graph = b.finish();
    m.weights = init_weights(m.graph, seed);
    torch::NoGradGuard ng;
    for (auto& [k, t] : m.weights) {
      if (k.find("running_mean") != std::string::npos || k.find(".bias") != std::string::npos)
        t.copy_(torch::randn_like(t) * 0.5);
      if (k.find("running_var") != std::string::npos) t.copy_(torch::rand_like(t) + 0.5);
      if (k.find("bn") != std::string::npos && k.find(".weight") != std::string::npos)
        t.copy_(torch::rand_like(t) + 0.5);
    }
  }
  torch::Tensor w(const std::string& key) const { return m.weights.at(key); }
  torch::Tensor run(const torch::Tensor& x, bool training = false) const {
    return Executor(m.graph, m.weights).forward(x, training);
  }
};

void expect_close(const torch::Tensor& a, const torch::Tensor& b, double tol = 1e-5) {
  ASSERT_EQ(a.sizes(), b.sizes());
  EXPECT_TRUE(torch::allclose(a, b, tol, tol)) << "max abs diff " << (a - b).abs().max().item<double>();
}

}  // namespace

TEST(Ops, Conv2dMatchesTorchNn) {
  struct Case { int64_t in, out, k, stride, pad, dil, groups; bool bias; };
  for (Case c : {Case{3, 8, 3, 1, 1, 1, 1, false}, Case{4, 6, 3, 2, 1, 1, 2, true},
                 Case{8, 8, 3, 1, 2, 2, 8, false}, Case{5, 7, 1, 1, 0, 1, 1, true},
                 Case{6, 4, 5, 2, 2, 1, 1, true}}) {
    OneOp op({c.in, 11, 11}, [&](GraphBuilder& b) {
      b.conv("c", "input", c.out, c.k, c.stride, c.pad, c.groups, c.bias, c.dil);
    });
    torch::nn::Conv2d ref(torch::nn::Conv2dOptions(c.in, c.out, c.k).stride(c.stride).padding(c.pad)
                              .dilation(c.dil).groups(c.groups).bias(c.bias));
    {
      torch::NoGradGuard ng;
      ref->weight.copy_(op.w("c.weight"));
      if (c.bias) ref->bias.copy_(op.w("c.bias"));
    }
    auto x = torch::randn({2, c.in, 11, 11});
    expect_close(op.run(x), ref(x));
  }
}

TEST(Ops, BatchNormMatchesTorchNnInEvalAndTraining) {
  OneOp op({5, 6, 6}, [](GraphBuilder& b) { b.bn("bn", "input", 1e-3, 0.2); });
  torch::nn::BatchNorm2d ref(torch::nn::BatchNorm2dOptions(5).eps(1e-3).momentum(0.2));
  {
    torch::NoGradGuard ng;
    ref->weight.copy_(op.w("bn.weight"));
    ref->bias.copy_(op.w("bn.bias"));
    ref->running_mean.copy_(op.w("bn.running_mean"));
    ref->running_var.copy_(op.w("bn.running_var"));
  }
  auto x = torch::randn({4, 5, 6, 6});
  ref->eval();
  expect_close(op.run(x, false), ref(x));
  ref->train();
  expect_close(op.run(x, true), ref(x));
  // Training mode updates the running statistics exactly as torch::nn does.
  expect_close(op.w("bn.running_mean"), ref->running_mean);
  expect_close(op.w("bn.running_var"), ref->running_var);
}

TEST(Ops, ActivationsMatchTorchNn) {
  auto x = torch::randn({3, 4, 5, 5}) * 4;
  struct Case { Op op; std::function<torch::Tensor(const torch::Tensor&)> ref; };
  std::vector<Case> cases = {
      {Op::Relu, [](const torch::Tensor& t) { return torch::nn::ReLU()(t); }},
      {Op::Relu6, [](const torch::Tensor& t) { return torch::nn::ReLU6()(t); }},
      {Op::Hardswish, [](const torch::Tensor& t) { return t * torch::nn::ReLU6()(t + 3) / 6; }},
      {Op::Silu, [](const torch::Tensor& t) { return torch::nn::SiLU()(t); }},
      {Op::Sigmoid, [](const torch::Tensor& t) { return torch::nn::Sigmoid()(t); }},
      {Op::Identity, [](const torch::Tensor& t) { return torch::nn::Identity()(t); }},
      {Op::Flatten, [](const torch::Tensor& t) { return torch::nn::Flatten()(t); }},
  };
  for (const auto& c : cases) {
    OneOp op({4, 5, 5}, [&](GraphBuilder& b) { b.unary("a", c.op, "input"); });
    SCOPED_TRACE(op_name(c.op));
    expect_close(op.run(x), c.ref(x));
  }
}

TEST(Ops, PoolingMatchesTorchNn) {
  auto x = torch::randn({2, 3, 9, 9});
  {
    OneOp op({3, 9, 9}, [](GraphBuilder& b) { b.pool("p", Op::MaxPool2d, "input", 3, 2, 1); });
    expect_close(op.run(x), torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1))(x));
  }
  {
    OneOp op({3, 9, 9}, [](GraphBuilder& b) { b.pool("p", Op::AvgPool2d, "input", 2); });
    expect_close(op.run(x), torch::nn::AvgPool2d(torch::nn::AvgPool2dOptions(2))(x));
  }
  {
    OneOp op({3, 9, 9}, [](GraphBuilder& b) {
      b.add_node({"p", Op::AvgPool2d, {"input"},
                  {{"kernel", std::vector<int64_t>{3, 3}}, {"stride", std::vector<int64_t>{2, 2}},
                   {"padding", std::vector<int64_t>{1, 1}}, {"ceil_mode", int64_t{1}},
                   {"count_include_pad", int64_t{0}}}});
    });
    auto ref = torch::nn::AvgPool2d(
        torch::nn::AvgPool2dOptions(3).stride(2).padding(1).ceil_mode(true).count_include_pad(false));
    expect_close(op.run(x), ref(x));
    EXPECT_EQ(op.m.graph.infer_shapes().back(), (Shape{3, 5, 5}));
  }
  {
    OneOp op({3, 9, 9}, [](GraphBuilder& b) { b.adaptive_avg_pool("p", "input", 2); });
    expect_close(op.run(x), torch::nn::AdaptiveAvgPool2d(2)(x));
  }
}

TEST(Ops, AddMulConcatMatchComposites) {
  auto x = torch::randn({2, 4, 6, 6});
  OneOp op({4, 6, 6}, [](GraphBuilder& b) {
    auto r = b.unary("r", Op::Relu, "input");
    auto s = b.unary("s", Op::Sigmoid, "input");
    auto sum = b.add("sum", {"input", r, s});
    auto gate = b.unary("g", Op::Sigmoid, b.adaptive_avg_pool("gp", sum, 1));
    auto prod = b.mul("prod", sum, gate);  // squeeze-excitation style broadcast [C,1,1]
    b.concat("cat", {prod, r});
  });
  auto sum = x + torch::relu(x) + torch::sigmoid(x);
  auto prod = sum * torch::sigmoid(torch::adaptive_avg_pool2d(sum, {1, 1}));
  expect_close(op.run(x), torch::cat({prod, torch::relu(x)}, 1));
  EXPECT_EQ(op.m.graph.infer_shapes().back(), (Shape{8, 6, 6}));
}

TEST(Ops, LinearAndDropoutMatchTorchNn) {
  OneOp op({3, 2, 2}, [](GraphBuilder& b) {
    auto f = b.unary("f", Op::Flatten, "input");
    auto d = b.dropout("d", f, 0.5);
    b.linear("fc", d, 5);
  });
  torch::nn::Linear ref(12, 5);
  {
    torch::NoGradGuard ng;
    ref->weight.copy_(op.w("fc.weight"));
    ref->bias.copy_(op.w("fc.bias"));
  }
  auto x = torch::randn({4, 3, 2, 2});
  expect_close(op.run(x, false), ref(x.flatten(1)));
  // In training, dropout zeroes about half of the features and scales the rest by 2.
  OneOp drop({1000}, [](GraphBuilder& b) { b.dropout("d", "input", 0.5); });
  auto ones = torch::ones({4, 1000});
  auto y = drop.run(ones, true);
  double zeros = (y == 0).to(torch::kFloat).mean().item<double>();
  EXPECT_NEAR(zeros, 0.5, 0.05);
  EXPECT_TRUE(torch::all((y == 0) | (y == 2)).item<bool>());
}

TEST(Ops, UpsampleMatchesInterpolate) {
  namespace F = torch::nn::functional;
  auto x = torch::randn({2, 3, 5, 7});
  OneOp nearest({3, 5, 7}, [](GraphBuilder& b) { b.upsample("u", "input", 2, "nearest"); });
  expect_close(nearest.run(x),
               F::interpolate(x, F::InterpolateFuncOptions().scale_factor(std::vector<double>{2, 2})
                                     .mode(torch::kNearest)));
  OneOp bilinear({3, 5, 7}, [](GraphBuilder& b) { b.upsample("u", "input", 3, "bilinear"); });
  expect_close(bilinear.run(x),
               F::interpolate(x, F::InterpolateFuncOptions().size(std::vector<int64_t>{15, 21})
                                     .mode(torch::kBilinear).align_corners(false)));
}

TEST(Ops, GradientsMatchTorchNnForConvBatchNormLinear) {
  OneOp op({3, 8, 8}, [](GraphBuilder& b) {
    auto x = b.conv("c", "input", 6, 3, 1, 1, 1, true);
    x = b.bn("bn", x);
    x = b.unary("r", Op::Relu, x);
    x = b.adaptive_avg_pool("p", x, 2);
    x = b.unary("f", Op::Flatten, x);
    b.linear("fc", x, 4);
  });
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 6, 3).padding(1).bias(true));
  torch::nn::BatchNorm2d bn(6);
  torch::nn::Linear fc(24, 4);
  {
    torch::NoGradGuard ng;
    conv->weight.copy_(op.w("c.weight"));
    conv->bias.copy_(op.w("c.bias"));
    bn->weight.copy_(op.w("bn.weight"));
    bn->bias.copy_(op.w("bn.bias"));
    bn->running_mean.copy_(op.w("bn.running_mean"));
    bn->running_var.copy_(op.w("bn.running_var"));
    fc->weight.copy_(op.w("fc.weight"));
    fc->bias.copy_(op.w("fc.bias"));
  }
  auto x = torch::randn({5, 3, 8, 8});
  auto xa = x.clone().requires_grad_(true), xb = x.clone().requires_grad_(true);
  auto target = torch::randn({5, 4});
  auto ya = op.run(xa, true);
  auto yb = fc(torch::adaptive_avg_pool2d(torch::relu(bn(conv(xb))), {2, 2}).flatten(1));
  expect_close(ya, yb);
  ((ya - target).pow(2).sum()).backward();
  ((yb - target).pow(2).sum()).backward();
  expect_close(xa.grad(), xb.grad(), 1e-4);
  expect_close(op.w("c.weight").grad(), conv->weight.grad(), 1e-4);
  expect_close(op.w("c.bias").grad(), conv->bias.grad(), 1e-4);
  expect_close(op.w("bn.weight").grad(), bn->weight.grad(), 1e-4);
  expect_close(op.w("bn.bias").grad(), bn->bias.grad(), 1e-4);
  expect_close(op.w("fc.weight").grad(), fc->weight.grad(), 1e-4);
  expect_close(op.w("fc.bias").grad(), fc->bias.grad(), 1e-4);
}

TEST(Ops, TapsReturnIntermediateOutputs) {
  OneOp op({2, 4, 4}, [](GraphBuilder& b) {
    auto c = b.conv("c", "input", 3, 3);
    auto r = b.unary("r", Op::Relu, c);
    b.unary("s", Op::Sigmoid, r);
  });
  auto x = torch::randn({2, 2, 4, 4});
  Executor ex(op.m.graph, op.m.weights);
  auto taps = ex.run_taps(x, {"r", "c"});
  auto c = torch::conv2d(x, op.w("c.weight"), {}, 1, 1);
  expect_close(taps[1], c);
  expect_close(taps[0], torch::relu(c));
  EXPECT_THROWS_WITH(ex.run_taps(x, {"nope"}), GraphError, "tap 'nope'");
}

TEST(Ops, EveryOpHasANameAShapeRuleAChannelRuleAndAKernel) {
  for (size_t k = 0; k < kOpCount; ++k) {
    Op op = static_cast<Op>(k);
    SCOPED_TRACE(op_name(op));
    EXPECT_EQ(op_from_name(op_name(op), "n"), op);
    EXPECT_NE(op_info(op).shape, nullptr);
    EXPECT_NE(op_info(op).channels, nullptr);
    EXPECT_NE(op_kernel(op).prepare, nullptr);
    EXPECT_NE(op_kernel(op).run, nullptr);
  }
}

TEST(Ops, MeanOverHeightAndWidthMatchesAten) {
  auto x = torch::randn({3, 4, 5, 6});
  for (int64_t keepdim : {0, 1}) {
    OneOp op({4, 5, 6}, [&](GraphBuilder& b) { b.add_node({"m", Op::Mean, {"input"}, {{"keepdim", keepdim}}}); });
    SCOPED_TRACE(keepdim);
    expect_close(op.run(x), at::mean(x, {2, 3}, keepdim == 1));
    EXPECT_EQ(op.m.graph.infer_shapes().back(), keepdim ? (Shape{4, 1, 1}) : (Shape{4}));
    auto st = graph_stats(op.m.graph);
    EXPECT_EQ(st.params + st.buffers + st.bytes + st.macs, 0);
    // JSON round trip, keeping the attribute; a JSON bool is read as 0/1.
    Graph back = graph_from_json(graph_to_json(op.m.graph), "mean.json");
    EXPECT_EQ(back.node("m").op, Op::Mean);
    EXPECT_EQ(back.node("m").i("keepdim"), keepdim);
    EXPECT_EQ(graph_to_json(back), graph_to_json(op.m.graph));
  }
  auto j = graph_to_json(OneOp({4, 5, 6}, [](GraphBuilder& b) { b.add_node({"m", Op::Mean, {"input"}, {}}); }).m.graph);
  EXPECT_EQ(j["nodes"][1]["op"], "mean");
  j["nodes"][1]["attrs"]["keepdim"] = true;
  EXPECT_EQ(graph_from_json(j, "mean.json").infer_shapes().back(), (Shape{4, 1, 1}));
  j["nodes"][1]["attrs"]["keepdim"] = 2;
  EXPECT_THROWS_WITH(graph_from_json(j, "mean.json"), GraphError, "node 'm' (mean): keepdim must be 0 or 1");
  GraphBuilder flat({12});
  EXPECT_THROWS_WITH(flat.add_node({"m", Op::Mean, {"input"}, {}}), GraphError,
                     "node 'm' (mean): expects a [C,H,W] input, got [12]");
}

TEST(Ops, MeanPassesChannelsThroughSoAConvBeforeItIsPrunable) {
  // conv -> mean (keepdim 0) -> linear: the conv's channels reach the linear's input features.
  OneOp op({3, 6, 6}, [](GraphBuilder& b) {
    auto c = b.conv("c", "input", 6, 3);
    b.add_node({"m", Op::Mean, {c}, {}});
    b.linear("fc", "m", 4, false);
  });
  auto ca = analyse_channels(op.m.graph);
  ASSERT_EQ(ca.prunable(), 1);
  const auto& groups_c = ca.layout[op.m.graph.index("c")];
  EXPECT_EQ(ca.layout[op.m.graph.index("m")].front().group, groups_c.front().group);
  auto keep = kept_channels(ca, channel_importance(op.m.graph, op.m.weights, ca), 0.5);
  ASSERT_EQ(keep[groups_c.front().group].size(), 3u);
  Model d = prune_block(op.m.graph, op.m.weights, ca, keep);
  EXPECT_EQ(d.graph.node("fc").i("in_features"), 3);
  // The reference: the kept filters and the matching linear columns, in plain ATen.
  auto idx = at::tensor(keep[groups_c.front().group], at::kLong);
  auto x = torch::randn({2, 3, 6, 6});
  auto ref = at::linear(at::mean(at::conv2d(x, op.w("c.weight").index_select(0, idx), {}, 1, 1), {2, 3}),
                        op.w("fc.weight").index_select(1, idx));
  expect_close(Executor(d.graph, d.weights).forward(x), ref);
}
