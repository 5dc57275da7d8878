// Zoo models: parameter counts against hand computation, bad names and options (the output shapes
// for other input options, which run the executor, are in tests/test_graph.cpp).
#include "legodnn/models/zoo.h"
#include "legodnn/util/error.h"
#include "test_util.h"

using namespace legodnn;

namespace {
// Hand formulas, independent of the builders: a k x k conv without bias, a batch norm, a linear.
int64_t conv(int64_t cin, int64_t cout, int64_t k, int64_t groups = 1) { return cout * (cin / groups) * k * k; }
int64_t bn(int64_t c) { return 2 * c; }
int64_t fc(int64_t in, int64_t out) { return in * out + out; }
int64_t basic(int64_t cin, int64_t c, bool project) {
  return conv(cin, c, 3) + bn(c) + conv(c, c, 3) + bn(c) + (project ? conv(cin, c, 1) + bn(c) : 0);
}
int64_t params(const std::string& name, ZooOptions o = {}) {
  return graph_stats(build_zoo_model(name, o)).params;
}
}  // namespace

TEST(Zoo, Resnet20ParameterCountByHand) {
  // stem 16*1*9 + 32; stage 1: 3 x (2*16*16*9 + 64); stage 2: 16->32 with a 1x1 projection, then
  // 2 x (2*32*32*9 + 128); stage 3 likewise with 64; fc 64*10 + 10.
  int64_t want = 144 + 32 + 3 * 4672 + (14528 + 2 * 18560) + (57728 + 2 * 73984) + 650;
  EXPECT_EQ(want, 272186);
  EXPECT_EQ(params("resnet20"), want);
  int64_t alt = conv(1, 16, 3) + bn(16) + 3 * basic(16, 16, false) + basic(16, 32, true) +
                2 * basic(32, 32, false) + basic(32, 64, true) + 2 * basic(64, 64, false) + fc(64, 10);
  EXPECT_EQ(alt, want);
}

TEST(Zoo, Resnet56And18ParameterCountsByHand) {
  int64_t r56 = conv(1, 16, 3) + bn(16) + 9 * basic(16, 16, false) + basic(16, 32, true) +
                8 * basic(32, 32, false) + basic(32, 64, true) + 8 * basic(64, 64, false) + fc(64, 10);
  EXPECT_EQ(params("resnet56"), r56);
  ZooOptions rgb;
  rgb.in_channels = 3;
  rgb.num_classes = 100;
  int64_t r18 = conv(3, 64, 3) + bn(64) + 2 * basic(64, 64, false) + basic(64, 128, true) +
                basic(128, 128, false) + basic(128, 256, true) + basic(256, 256, false) +
                basic(256, 512, true) + basic(512, 512, false) + fc(512, 100);
  EXPECT_EQ(params("resnet18", rgb), r18);
  EXPECT_EQ(r18, 11220132);  // the well-known CIFAR-100 ResNet-18 size
}

TEST(Zoo, VggParameterCountsByHand) {
  auto vgg = [](std::vector<int64_t> cfg, double w) {
    int64_t p = 0, c = 1;
    for (int64_t v : cfg) {
      int64_t o = static_cast<int64_t>(v * w + 0.5);
      p += conv(c, o, 3) + bn(o);
      c = o;
    }
    int64_t h = static_cast<int64_t>(512 * w + 0.5);
    return p + fc(c, h) + fc(h, 10);
  };
  EXPECT_EQ(params("vgg11_bn"), vgg({64, 128, 256, 256, 512, 512, 512, 512}, 1.0));
  ZooOptions quarter;
  quarter.width = 0.25;
  EXPECT_EQ(params("vgg11_bn", quarter), vgg({64, 128, 256, 256, 512, 512, 512, 512}, 0.25));
  EXPECT_EQ(params("vgg16_bn"),
            vgg({64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512}, 1.0));
}

TEST(Zoo, MobileNetV2ParameterCountByHand) {
  // Width 1: channels 32, (t,c,n) = (1,16,1) (6,24,2) (6,32,3) (6,64,4) (6,96,3) (6,160,3) (6,320,1),
  // last 1280. Each unit: expand 1x1 (t>1) + bn, depthwise 3x3 + bn, project 1x1 + bn.
  int64_t p = conv(1, 32, 3) + bn(32), c = 32;
  const int64_t cfg[][3] = {{1, 16, 1}, {6, 24, 2}, {6, 32, 3}, {6, 64, 4}, {6, 96, 3}, {6, 160, 3}, {6, 320, 1}};
  for (const auto& s : cfg) {
    for (int64_t k = 0; k < s[2]; ++k) {
      int64_t hid = c * s[0];
      if (s[0] != 1) p += conv(c, hid, 1) + bn(hid);
      p += conv(hid, hid, 3, hid) + bn(hid) + conv(hid, s[1], 1) + bn(s[1]);
      c = s[1];
    }
  }
  p += conv(320, 1280, 1) + bn(1280) + fc(1280, 10);
  EXPECT_EQ(params("mobilenetv2"), p);
  EXPECT_EQ(make_divisible(32 * 0.5), 16);
  EXPECT_EQ(make_divisible(24 * 0.35), 8);
  EXPECT_EQ(make_divisible(96 * 0.75), 72);
}

TEST(Zoo, BadNamesAndOptionsAreRejected) {
  EXPECT_THROWS_WITH(build_zoo_model("resnet21", {}), OptionError, "unknown model 'resnet21' (known: resnet20");
  ZooOptions o;
  o.width = 0;
  EXPECT_THROWS_WITH(build_zoo_model("resnet20", o), OptionError, "width 0");
  o = {};
  o.input_size = 8;  // VGG's five 2x2 pools cannot fit
  EXPECT_THROWS_WITH(build_zoo_model("vgg11_bn", o), GraphError, "s4.pool");
}

TEST(Zoo, InferenceBatchesKeepEveryOutputWithinTheBytesGiven) {
  // resnet20 on 1x32x32: the largest outputs are stage 1's, 16 x 32 x 32 floats = 64 KiB an image.
  const Graph g = build_zoo_model("resnet20", ZooOptions{});
  EXPECT_EQ(batch_within(g, 500, 24 << 20), 384);  // 24 MiB / 64 KiB
  EXPECT_EQ(batch_within(g, 100, 24 << 20), 100);
  EXPECT_EQ(batch_within(g, 500, (64 << 10) - 1), 1);  // never below one image
  ZooOptions half;
  half.stem_stride = 2;  // 16 x 16 x 16 floats: four times as many images
  EXPECT_EQ(batch_within(build_zoo_model("resnet20", half), 5000, 24 << 20), 1536);
}
