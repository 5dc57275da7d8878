// Offline pipeline on tiny models and data: retraining lowers every descendant's held-out MSE; a
// build stopped during retraining resumes and ends with a complete, valid repository.
#include <filesystem>

#include <ATen/ATen.h>

#include "legodnn/graph/executor.h"
#include "legodnn/models/zoo.h"
#include "legodnn/pipeline/build.h"
#include "legodnn/profile/profile.h"
#include "legodnn/repository/repository.h"
#include "legodnn/retrain/retrain.h"
#include "legodnn/runtime/from_repository.h"
#include "legodnn/train/trainer.h"
#include "test_util.h"

using namespace legodnn;
namespace fs = std::filesystem;

namespace {

const FashionMnist& tiny_data() {
  static FashionMnist d = [] {
    FashionMnist full = load_fashion_mnist();
    return FashionMnist{full.train.subset(384, 1), full.val.head(200), full.test.head(200)};
  }();
  return d;
}

// A small but real teacher: briefly trained, so its running statistics describe its features.
Model tiny_teacher() {
  static Model trained = [] {
    ZooOptions o;
    o.width = 0.25;
    Model m{build_zoo_model("resnet20", o), {}};
    m.weights = init_weights(m.graph, 11);
    TrainOptions t;
    t.epochs = 3;
    t.batch_size = 32;
    t.lr = 0.05;
    t.warmup_epochs = 0;
    t.log_every = 0;
    train_model(m, tiny_data().train, Split{}, t);
    return m;
  }();
  return trained;
}

}  // namespace

TEST(Pipeline, RetrainingLowersEveryDescendantsHeldOutMse) {
  Model t = tiny_teacher();
  auto blocks = detect_blocks(t.graph);
  blocks.resize(3);  // three blocks keep the test to seconds
  auto fams = make_descendants(t, blocks, {0.0, 0.5, 0.75});
  RetrainOptions o;
  o.epochs = 2;
  o.batch_size = 64;
  o.lr = 3e-3;
  o.val_images = 200;
  o.log_every = 0;
  auto r = retrain_descendants(t, fams, tiny_data().train, tiny_data().val, o);
  ASSERT_TRUE(r.finished);
  auto after = block_mse(t, fams, tiny_data().val.head(200));
  for (size_t i = 0; i < fams.size(); ++i)
    for (size_t j = 1; j < fams[i].descendants.size(); ++j) {
      const auto& s = r.stats[i][j];
      EXPECT_GT(s.mse_pruned, 0.0) << i << "," << j;
      EXPECT_LT(s.mse_retrained, s.mse_pruned) << "block " << i << " descendant " << j;
      EXPECT_NEAR(after[i][j], s.mse_retrained, 1e-9);
    }
}

TEST(Pipeline, StoppedBuildResumesAndCompletes) {
  std::string dir = (fs::temp_directory_path() / ("legodnn-build-" + std::to_string(::getpid()))).string();
  fs::remove_all(dir);
  Model t = tiny_teacher();
  BuildOptions o;
  o.model_name = "resnet20";
  o.explicit_blocks = {{"s1.b1.conv1", "s1.b1.relu"}, {"s2.b0.conv1", "s2.b0.relu"}};
  o.sparsities = {0.0, 0.5};
  o.retrain.epochs = 2;
  o.retrain.batch_size = 64;
  o.retrain.val_images = 100;
  o.retrain.log_every = 0;
  o.retrain.stop_after_epoch = 1;  // as if killed after the first epoch's checkpoint
  o.drop_images = 100;
  o.check_compositions = 2;
  o.latency.repeats = 3;
  o.latency.warmup = 1;
  auto first = build_repository(t, tiny_data(), dir, o);
  EXPECT_FALSE(first.complete);
  EXPECT_TRUE(fs::exists(dir + "/retrain_state/state.json"));
  EXPECT_FALSE(Repository::open(dir).manifest().stages.contains("retrain"));

  o.retrain.stop_after_epoch = 0;
  auto second = build_repository(t, tiny_data(), dir, o);
  EXPECT_TRUE(second.complete);
  EXPECT_EQ(second.skipped, (std::vector<std::string>{"descendants"}));
  Repository repo = Repository::open(dir);
  const Manifest& m = repo.manifest();
  EXPECT_EQ(m.stages["retrain"]["resumed_after_epoch"], 1);
  EXPECT_TRUE(m.stages.contains("profile"));
  // Stage "latency" timed every composition but the teacher (the space is 2 x 2) and fitted the
  // block latencies to them: monotone, the original keeping its alone time.
  ASSERT_TRUE(m.stages.contains("latency"));
  EXPECT_EQ(m.stages["latency"]["compositions"], 3);
  EXPECT_TRUE(m.stages.contains("sweep"));
  EXPECT_FALSE(fs::exists(dir + "/retrain_state"));
  ASSERT_EQ(m.blocks.size(), 2u);
  for (const auto& b : m.blocks) {
    EXPECT_GT(b.descendants[1].profile.latency_ms, 0.0);
    EXPECT_GT(b.descendants[1].profile.latency_alone_ms, 0.0);
    EXPECT_EQ(b.descendants[0].profile.latency_ms, b.descendants[0].profile.latency_alone_ms);
    EXPECT_LE(b.descendants[1].profile.latency_ms, b.descendants[0].profile.latency_ms);
    EXPECT_LT(b.descendants[1].profile.mse_retrained, b.descendants[1].profile.mse_pruned);
    EXPECT_GE(b.descendants[1].profile.acc_drop, 0.0);
  }
  EXPECT_EQ(m.profile["estimate_check"]["compositions"].size(), 2u);
  // Every composition of the finished repository runs.
  at::InferenceMode guard;
  auto y = Executor(repo.compose({1, 1}).graph, repo.compose({1, 1}).weights).forward(at::randn({1, 1, 32, 32}));
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{1, 10}));
  // The optimizer's view of the repository: unbounded budgets lose no accuracy (originals, or
  // descendants whose measured drop is zero), a deadline below every composition is infeasible.
  ModelChoiceSpec spec = choice_spec(m, dir);
  ASSERT_EQ(spec.blocks.size(), 2u);
  EXPECT_NEAR(spec.accuracy, m.profile["teacher_test_accuracy"].get<double>(), 1e-12);
  auto unbounded = optimize({spec}, {});
  EXPECT_TRUE(unbounded.feasible);
  EXPECT_NEAR(unbounded.accuracy[0], spec.accuracy, 1e-12);
  spec.deadline_ms = 1e-6;
  EXPECT_FALSE(optimize({spec}, {}).feasible);
  // A third run finds everything done.
  auto third = build_repository(t, tiny_data(), dir, o);
  EXPECT_EQ(third.ran.size(), 0u);
  fs::remove_all(dir);
}

TEST(Pipeline, DropsFromBlockEntriesEqualDropsFromWholeModels) {
  // measure_drops runs each variant only from its block's entry on; the result must be what
  // evaluating every whole composition gives.
  Model t = tiny_teacher();
  auto blocks = detect_blocks(t.graph);
  blocks.resize(3);
  auto fams = make_descendants(t, blocks, {0.0, 0.5, 0.75});
  Split val = tiny_data().val;
  auto table = measure_drops(t, fams, val, {0, 1}, 64);
  for (size_t i = 0; i < fams.size(); ++i)
    for (size_t j = 1; j < 3; ++j) {
      double want = 0;
      for (int ctx : {0, 1}) {
        std::vector<int> base(fams.size(), ctx), var = base;
        base[i] = 0;
        var[i] = static_cast<int>(j);
        want += (correctness(compose(t, fams, base), val).accuracy -
                 correctness(compose(t, fams, var), val).accuracy) / 2;
      }
      EXPECT_NEAR(table.raw[i][j], want, 1e-12) << i << "," << j;
    }
}
