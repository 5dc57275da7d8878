// Model-grained baseline on a tiny teacher and data: the build writes every variant and a rerun
// skips them (a stopped build resumes), variants shrink with sparsity, the optimizer sees one block
// of whole variants, the whole-model server serves exactly each variant's own model across
// switches (also while another thread runs forwards), a damaged variant fails its switch while
// serving goes on unchanged, and a broken baseline.json is refused naming the field.
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "legodnn/baseline/model_grained.h"
#include "legodnn/graph/executor.h"
#include "legodnn/graph/fold.h"
#include "legodnn/graph/serialize.h"
#include "legodnn/models/zoo.h"
#include "legodnn/runtime/optimizer.h"
#include "legodnn/train/trainer.h"
#include "legodnn/util/error.h"
#include "legodnn/util/fs.h"
#include "test_util.h"
#include "tiny_repository.h"

using namespace legodnn;
using legodnn::testing::TempDir;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const FashionMnist& tiny_data() {
  static FashionMnist d = [] {
    FashionMnist full = load_fashion_mnist();
    return FashionMnist{full.train.subset(256, 3), full.val.head(100), full.test.head(200)};
  }();
  return d;
}

// ResNet-20 at width 0.25, trained one epoch on 256 images: real running statistics in seconds.
const Model& tiny_teacher() {
  static Model m = [] {
    ZooOptions z;
    z.width = 0.25;
    Model t{build_zoo_model("resnet20", z), {}};
    t.weights = init_weights(t.graph, 5);
    TrainOptions o;
    o.epochs = 1;
    o.batch_size = 32;
    o.lr = 0.05;
    o.warmup_epochs = 0;
    o.log_every = 0;
    train_model(t, tiny_data().train, Split{}, o);
    return t;
  }();
  return m;
}

ModelGrainedOptions tiny_options() {
  ModelGrainedOptions o;
  o.model_name = "resnet20";
  o.sparsities = {0.0, 0.4, 0.8};
  o.epochs = 1;
  o.train_images = 256;
  o.batch_size = 64;
  o.val_images = 0;
  o.eval_images = 200;
  o.latency.warmup = 1;
  o.latency.repeats = 3;
  o.log_every = 0;
  return o;
}

// The set built once for the tests that only read it.
const std::string& tiny_set() {
  static TempDir dir;
  static bool built = [] {
    auto r = build_model_grained(tiny_teacher(), tiny_data(), dir.path, tiny_options());
    return r.complete;
  }();
  EXPECT_TRUE(built);
  return dir.path;
}

// A private copy of the set, for tests that damage it.
void copy_set(const std::string& from, const std::string& to) {
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
}

at::Tensor input(int64_t batch, uint64_t seed) {
  at::manual_seed(static_cast<int64_t>(seed));
  return at::randn({batch, 1, 32, 32});
}

// The variant's own model, loaded and folded by hand.
at::Tensor own_output(const std::string& set_dir, const ModelVariant& v, const at::Tensor& x) {
  Model f = fold_batch_norm(load_model(set_dir + "/" + v.dir));
  at::InferenceMode guard;
  return Executor(f.graph, f.weights).forward(x);
}

void damage(const std::string& path) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(fs::file_size(path) / 2));
  f.write("\x55\xAA\x55\xAA", 4);
}

int64_t dir_file_bytes(const std::string& dir) {
  return static_cast<int64_t>(fs::file_size(dir + "/model.json") + fs::file_size(dir + "/weights.pt"));
}

}  // namespace

TEST(ModelGrained, BuildWritesEveryVariantAndARerunSkipsThem) {
  TempDir tmp;
  ModelGrainedOptions o = tiny_options();
  auto first = build_model_grained(tiny_teacher(), tiny_data(), tmp.path, o);
  EXPECT_TRUE(first.complete);
  EXPECT_EQ(first.ran, o.sparsities);
  EXPECT_TRUE(first.skipped.empty());
  EXPECT_FALSE(fs::exists(tmp.path + "/train_state"));

  ModelGrainedSet set = ModelGrainedSet::open(tmp.path);
  const auto& m = set.manifest();
  EXPECT_EQ(m.model, "resnet20");
  EXPECT_EQ(m.input_shape, (Shape{1, 32, 32}));
  EXPECT_EQ(m.classes, 10);
  EXPECT_EQ(m.eval_images, 200);
  ASSERT_EQ(set.variants(), 3);
  for (int k = 0; k < 3; ++k) {
    const ModelVariant& v = m.variants[k];
    EXPECT_EQ(v.sparsity, o.sparsities[k]);
    EXPECT_TRUE(fs::exists(tmp.path + "/" + v.dir + "/weights.pt")) << v.dir;
    EXPECT_GT(v.latency_ms, 0.0);
    EXPECT_GT(v.macs, 0);
    if (k == 0) {
      // The teacher itself, not fine-tuned.
      EXPECT_EQ(v.accuracy, m.teacher_accuracy);
      EXPECT_EQ(v.pruned_accuracy, m.teacher_accuracy);
      EXPECT_EQ(v.train_seconds, 0.0);
      Model saved = load_model(tmp.path + "/" + v.dir);
      for (const auto& [key, t] : tiny_teacher().weights) EXPECT_TRUE(at::equal(saved.weights.at(key), t)) << key;
    } else {
      EXPECT_GT(v.train_seconds, 0.0);
      // Smaller and cheaper with sparsity.
      EXPECT_LT(v.bytes, m.variants[k - 1].bytes);
      EXPECT_LT(v.params, m.variants[k - 1].params);
      EXPECT_LT(v.macs, m.variants[k - 1].macs);
    }
  }
  // The recorded accuracy is the saved model's.
  Model last = set.load_variant(2);
  EXPECT_EQ(correctness(last, tiny_data().test).accuracy, m.variants[2].accuracy);
  const std::string json_before = read_text_file(tmp.path + "/baseline.json");

  auto second = build_model_grained(tiny_teacher(), tiny_data(), tmp.path, o);
  EXPECT_TRUE(second.complete);
  EXPECT_TRUE(second.ran.empty());
  EXPECT_EQ(second.skipped, o.sparsities);
  EXPECT_EQ(read_text_file(tmp.path + "/baseline.json"), json_before);

  // A damaged variant is rebuilt; the others are kept.
  damage(tmp.path + "/" + m.variants[1].dir + "/weights.pt");
  auto third = build_model_grained(tiny_teacher(), tiny_data(), tmp.path, o);
  EXPECT_EQ(third.ran, (std::vector<double>{0.4}));
  EXPECT_EQ(third.skipped, (std::vector<double>{0.0, 0.8}));
  EXPECT_NO_THROW(ModelGrainedSet::open(tmp.path));

  // Other settings or another teacher: refused, naming what differs.
  ModelGrainedOptions other = o;
  other.lr = 0.02;
  EXPECT_THROWS_WITH(build_model_grained(tiny_teacher(), tiny_data(), tmp.path, other), IoError,
                     "settings.fine_tuning.lr: 0.01 vs 0.02");
  Model changed{tiny_teacher().graph, clone_weights(tiny_teacher().weights)};
  {
    at::NoGradGuard ng;
    changed.weights.begin()->second.add_(1.0);
  }
  EXPECT_THROWS_WITH(build_model_grained(changed, tiny_data(), tmp.path, o), IoError, "teacher_fingerprint");
  ModelGrainedOptions bad = o;
  bad.sparsities = {0.2, 0.4};
  EXPECT_THROWS_WITH(build_model_grained(tiny_teacher(), tiny_data(), tmp.path, bad), OptionError,
                     "the first must be 0");
}

TEST(ModelGrained, StoppedBuildResumesFineTuningAndCompletes) {
  TempDir tmp;
  ModelGrainedOptions o = tiny_options();
  o.sparsities = {0.0, 0.5};
  o.epochs = 2;
  o.stop_after_epoch = 1;
  auto first = build_model_grained(tiny_teacher(), tiny_data(), tmp.path, o);
  EXPECT_FALSE(first.complete);
  EXPECT_EQ(first.ran, (std::vector<double>{0.0}));
  EXPECT_TRUE(fs::exists(tmp.path + "/train_state/s0.5/train_state.pt"));
  EXPECT_EQ(ModelGrainedSet::open(tmp.path).variants(), 1);  // the teacher only, valid meanwhile

  o.stop_after_epoch = 0;
  auto second = build_model_grained(tiny_teacher(), tiny_data(), tmp.path, o);
  EXPECT_TRUE(second.complete);
  EXPECT_EQ(second.skipped, (std::vector<double>{0.0}));
  EXPECT_EQ(second.ran, (std::vector<double>{0.5}));
  EXPECT_FALSE(fs::exists(tmp.path + "/train_state"));

  // Resumed after epoch 1, the result equals an uninterrupted run's.
  TempDir straight;
  auto third = build_model_grained(tiny_teacher(), tiny_data(), straight.path, o);
  EXPECT_TRUE(third.complete);
  Model a = ModelGrainedSet::open(tmp.path).load_variant(1);
  Model b = ModelGrainedSet::open(straight.path).load_variant(1);
  for (const auto& [key, t] : a.weights) EXPECT_TRUE(at::allclose(t, b.weights.at(key), 1e-5, 1e-6)) << key;
}

TEST(ModelGrained, SpecHasOneBlockOfWholeVariants) {
  ModelGrainedSet set = ModelGrainedSet::open(tiny_set());
  const auto& m = set.manifest();
  ModelChoiceSpec spec = set.spec();
  EXPECT_EQ(spec.name, "resnet20");
  EXPECT_EQ(spec.accuracy, m.teacher_accuracy);
  EXPECT_EQ(spec.frame_ms, 0.0);
  EXPECT_EQ(spec.frame_bytes, 0.0);
  ASSERT_EQ(spec.blocks.size(), 1u);
  ASSERT_EQ(spec.blocks[0].size(), 3u);
  for (size_t k = 0; k < 3; ++k) {
    EXPECT_DOUBLE_EQ(spec.blocks[0][k].drop, m.teacher_accuracy - m.variants[k].accuracy);
    EXPECT_EQ(spec.blocks[0][k].latency_ms, m.variants[k].latency_ms);
    EXPECT_EQ(spec.blocks[0][k].bytes, static_cast<double>(m.variants[k].bytes));
  }
  // A memory budget below the middle variant leaves the smallest one.
  SharedBudget budget;
  budget.memory_bytes = static_cast<double>(m.variants[1].bytes) - 1;
  auto d = optimize({spec}, budget);
  EXPECT_TRUE(d.feasible);
  EXPECT_EQ(d.choice, (std::vector<std::vector<int>>{{2}}));
}

TEST(ModelGrained, ServerOutputsEqualEachVariantsOwnModelAcrossSwitches) {
  const std::string& dir = tiny_set();
  WholeModelServer server = WholeModelServer::open(dir);
  const auto& vs = server.set().manifest().variants;
  EXPECT_EQ(server.selection(), (std::vector<int>{0}));
  const at::Tensor x = input(4, 1);
  EXPECT_TRUE(at::equal(server.forward(x), own_output(dir, vs[0], x)));
  int64_t last_bytes = server.memory().active_bytes;
  for (int k : {2, 1, 0, 2}) {
    SwitchReport r = server.switch_to({k});
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.selection, (std::vector<int>{k}));
    EXPECT_EQ(r.changed, (std::vector<int>{0}));
    EXPECT_EQ(r.from_disk, 1);
    EXPECT_EQ(r.from_cache, 0);
    EXPECT_EQ(r.bytes_from_disk, dir_file_bytes(dir + "/" + vs[k].dir));
    EXPECT_GT(r.total_ms, 0.0);
    EXPECT_GE(r.total_ms, r.load_ms + r.build_ms);
    EXPECT_EQ(server.selection(), (std::vector<int>{k}));
    EXPECT_TRUE(at::equal(server.forward(x), own_output(dir, vs[k], x))) << "variant " << k;
    MemoryUse mem = server.memory();
    EXPECT_EQ(mem.frame_bytes, 0);
    EXPECT_EQ(mem.cache_bytes, 0);
    EXPECT_EQ(mem.cached, 0);
    EXPECT_EQ(mem.total(), mem.active_bytes);
    if (k == 1) EXPECT_GT(mem.active_bytes, last_bytes);  // 1 after 2: larger
    last_bytes = mem.active_bytes;
  }
  // Selecting the active variant loads nothing.
  SwitchReport same = server.switch_to({2});
  EXPECT_TRUE(same.ok);
  EXPECT_TRUE(same.changed.empty());
  EXPECT_EQ(same.from_disk, 0);
  EXPECT_EQ(same.bytes_from_disk, 0);
  EXPECT_THROWS_WITH(server.switch_to({3}), OptionError, "variant 3 is out of range 0..2");
  EXPECT_THROWS_WITH(server.switch_to({0, 1}), OptionError, "one variant index, got 2 values");
  EXPECT_THROWS_WITH(WholeModelServer::open(dir, 5), OptionError, "variant 5 is out of range");
}

TEST(ModelGrained, ServerWarmsEachLoadedVariantBeforeItCommits) {
  const std::string& dir = tiny_set();
  WholeModelServer warm = WholeModelServer::open(dir, 0, 1), cold = WholeModelServer::open(dir);
  const SwitchReport w = warm.switch_to({2}), c = cold.switch_to({2});
  ASSERT_TRUE(w.ok) << w.error;
  ASSERT_TRUE(c.ok) << c.error;
  EXPECT_GT(w.warm_ms, 0.0);
  EXPECT_GE(w.total_ms, w.load_ms + w.build_ms + w.warm_ms);
  EXPECT_EQ(c.warm_ms, 0.0);
  const at::Tensor x = input(2, 3);
  EXPECT_TRUE(at::equal(warm.forward(x), cold.forward(x)));
  EXPECT_THROWS_WITH(WholeModelServer::open(dir, 0, -1), OptionError, "warm-up forwards must be within 0..100, got -1");
}

TEST(ModelGrained, ForwardsDuringSwitchesEachSeeOneWholeVariant) {
  const std::string& dir = tiny_set();
  WholeModelServer server = WholeModelServer::open(dir);
  const auto& vs = server.set().manifest().variants;
  const at::Tensor x = input(1, 2);
  std::vector<at::Tensor> want;
  for (const auto& v : vs) want.push_back(own_output(dir, v, x));
  std::atomic<bool> stop{false};
  std::atomic<int> forwards{0}, mismatches{0};
  // Through the servable interface: each forward's snapshot names the variant that computed it.
  const Servable& served = server;
  std::thread reader([&] {
    while (!stop) {
      const ServingSnapshot snap = served.snapshot();
      at::Tensor y = snap.forward(x);
      mismatches += !at::equal(y, want.at(snap.selection().at(0)));
      ++forwards;
    }
  });
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(server.switch_to({i % 3}).ok);
  stop = true;
  reader.join();
  EXPECT_GT(forwards.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(ModelGrained, HeldSnapshotKeepsServingItsVariantAfterASwitch) {
  const std::string& dir = tiny_set();
  WholeModelServer server = WholeModelServer::open(dir, 1);
  const auto& vs = server.set().manifest().variants;
  const at::Tensor x = input(2, 5);
  const ServingSnapshot held = server.snapshot();
  EXPECT_EQ(held.selection(), (std::vector<int>{1}));
  EXPECT_EQ(held.version(), 0u);
  ASSERT_TRUE(server.switch_to({2}).ok);
  EXPECT_EQ(server.snapshot().version(), 1u);
  EXPECT_EQ(server.snapshot().selection(), (std::vector<int>{2}));
  EXPECT_TRUE(at::equal(held.forward(x), own_output(dir, vs[1], x)));
  EXPECT_TRUE(at::equal(server.forward(x), own_output(dir, vs[2], x)));
  // Selecting the active variant commits nothing; a failed switch neither (see below).
  ASSERT_TRUE(server.switch_to({2}).ok);
  EXPECT_EQ(server.snapshot().version(), 1u);
  // No cache to limit; a negative limit is still a caller's mistake.
  server.set_cache_limit(1 << 20);
  EXPECT_EQ(server.memory().cache_limit, 0);
  EXPECT_THROWS_WITH(server.set_cache_limit(-1), OptionError, "must not be negative");
}

TEST(ModelGrained, DamagedVariantFailsTheSwitchAndServingGoesOnUnchanged) {
  TempDir tmp;
  copy_set(tiny_set(), tmp.path);
  WholeModelServer server = WholeModelServer::open(tmp.path);
  const auto& vs = server.set().manifest().variants;
  ASSERT_TRUE(server.switch_to({1}).ok);
  const at::Tensor x = input(3, 4);
  const at::Tensor before = server.forward(x);
  const MemoryUse mem_before = server.memory();

  damage(tmp.path + "/" + vs[2].dir + "/weights.pt");
  SwitchReport r = server.switch_to({2});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("baseline.json: variants[2].checksum: checksum mismatch for"), std::string::npos) << r.error;
  EXPECT_EQ(r.selection, (std::vector<int>{1}));
  EXPECT_TRUE(r.changed.empty());
  EXPECT_EQ(server.selection(), (std::vector<int>{1}));
  EXPECT_EQ(server.snapshot().version(), 1u);
  EXPECT_TRUE(at::equal(server.forward(x), before));
  EXPECT_EQ(server.memory().active_bytes, mem_before.active_bytes);

  // A damaged graph file too.
  {
    std::ofstream out(tmp.path + "/" + vs[0].dir + "/model.json", std::ios::app);
    out << " ";
  }
  r = server.switch_to({0});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("variants[0].graph_checksum"), std::string::npos) << r.error;
  EXPECT_TRUE(at::equal(server.forward(x), before));

  // A missing file.
  fs::remove(tmp.path + "/" + vs[2].dir + "/weights.pt");
  r = server.switch_to({2});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("is missing"), std::string::npos) << r.error;
  EXPECT_TRUE(at::equal(server.forward(x), before));

  // Opening the damaged set fails, naming the first bad variant.
  EXPECT_THROWS_WITH(ModelGrainedSet::open(tmp.path), IoError, "variants[0].graph_checksum");
}

TEST(ModelGrained, BrokenBaselineJsonIsRefusedNamingTheField) {
  TempDir tmp;
  copy_set(tiny_set(), tmp.path);
  const std::string path = tmp.path + "/baseline.json";
  const json good = json::parse(read_text_file(path));
  auto try_with = [&](const std::function<void(json&)>& edit, const std::string& expected) {
    json j = good;
    edit(j);
    atomic_write_file(path, j.dump(1));
    EXPECT_THROWS_WITH(ModelGrainedSet::open(tmp.path), IoError, expected);
  };
  try_with([](json& j) { j["variants"][1]["accuracy"] = "high"; },
           "baseline.json: variants[1].accuracy: expected a number, got string \"high\"");
  try_with([](json& j) { j.erase("teacher_accuracy"); }, "baseline.json: teacher_accuracy: missing");
  try_with([](json& j) { j["variants"][2]["sparsity"] = 0.1; },
           "variants[2].sparsity: 0.1 does not exceed the previous variant's 0.4");
  try_with([](json& j) { j["variants"][0]["sparsity"] = 0.2; }, "variants[0].sparsity: the first variant is the teacher");
  try_with([](json& j) { j["variants"][1]["dir"] = "../elsewhere"; }, "variants[1].dir: \"../elsewhere\" is not a relative path");
  try_with([](json& j) { j["variants"][1]["dir"] = j["variants"][0]["dir"]; }, "variants[1].dir: \"s0\" is also variants[0]'s");
  try_with([](json& j) { j["variants"][2]["checksum"] = "crc32:xyz"; }, "variants[2].checksum: expected \"crc32:\"");
  try_with([](json& j) { j["variants"][1]["bytes"] = 0; }, "variants[1].bytes: must be at least 1, got 0");
  try_with([](json& j) { j["format_version"] = 99; }, "format_version: 99 is newer than the supported 1");
  try_with([](json& j) { j["variants"] = json::array(); }, "variants: must hold at least the teacher");
  try_with([](json& j) { j["format"] = "legodnn-repository"; }, "format: expected \"legodnn-model-grained\"");
  atomic_write_file(path, "{\"format\": ");
  EXPECT_THROWS_WITH(ModelGrainedSet::open(tmp.path), IoError, "baseline.json: not valid JSON");
  fs::remove(path);
  EXPECT_THROWS_WITH(ModelGrainedSet::open(tmp.path), IoError, "baseline.json: file is missing");
  // A variant whose model has another interface than the set's.
  atomic_write_file(path, good.dump(1));
  json other = good;
  other["input_shape"] = {3, 32, 32};
  atomic_write_file(path, other.dump(1));
  EXPECT_THROWS_WITH(ModelGrainedSet::open(tmp.path).load_variant(1), IoError,
                     "variants[1].dir: " + tmp.path + "/s0.4/model.json maps [1,32,32] -> [10]");
}

// Not a check: writes the seed corpus of fuzz/fuzz_baseline.cpp (scripts/fuzz.sh --seeds).
TEST(FuzzSeeds, BaselineManifest) {
  const std::string seeds = legodnn::testing::fuzz_seed_dir("baseline");
  if (seeds.empty()) GTEST_SKIP() << "LEGODNN_FUZZ_SEEDS is not set";
  fs::copy_file(tiny_set() + "/baseline.json", seeds + "/baseline.json", fs::copy_options::overwrite_existing);
}
