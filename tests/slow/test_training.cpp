// Slow (labelled "slow", still run in CI): real training on real Fashion-MNIST, and the shipped
// teachers' accuracy on the full 10k test set.
#include <filesystem>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "legodnn/data/fashion_mnist.h"
#include "legodnn/graph/serialize.h"
#include "legodnn/models/zoo.h"
#include "legodnn/train/trainer.h"
#include "test_util.h"

using namespace legodnn;
namespace fs = std::filesystem;

TEST(SlowTraining, Resnet20OneEpochOn2000ImagesBeats70Percent) {
  auto data = load_fashion_mnist();
  Model m{build_zoo_model("resnet20", {}), {}};
  m.weights = init_weights(m.graph, 1);
  TrainOptions o;
  o.epochs = 1;
  o.batch_size = 16;  // 125 steps: one epoch of 2,000 images needs small batches to get anywhere
  o.lr = 0.03;
  o.warmup_epochs = 0;
  o.crop_padding = 0;
  o.flip = false;
  o.seed = 1;
  o.log_every = 0;
  train_model(m, data.train.subset(2000, 1), Split{}, o);
  auto r = evaluate(m, data.test.head(1000));
  EXPECT_EQ(r.n, 1000);
  EXPECT_GT(r.accuracy, 0.70);
}

TEST(SlowTraining, InterruptedRunResumesFromItsLastEpoch) {
  auto data = load_fashion_mnist();
  Split train = data.train.subset(512, 2);
  std::string dir = (fs::temp_directory_path() / ("legodnn-resume-" + std::to_string(::getpid()))).string();
  fs::remove_all(dir);
  ZooOptions zo;
  zo.width = 0.25;
  TrainOptions o;
  o.epochs = 2;
  o.batch_size = 64;
  o.log_every = 0;
  o.checkpoint_dir = dir;
  // Reference: two epochs straight through.
  Model full{build_zoo_model("resnet20", zo), {}};
  full.weights = init_weights(full.graph, 4);
  train_model(full, train, Split{}, o);
  // Interrupted after one epoch (same schedule), then resumed by a new run.
  fs::remove_all(dir);
  Model part{build_zoo_model("resnet20", zo), {}};
  part.weights = init_weights(part.graph, 4);
  // The first run stops after epoch 1 (as a killed run would, past its checkpoint); a new
  // run with resume=true must continue from there and end where the straight run ended.
  {
    TrainOptions one = o;
    one.epochs = 2;
    one.stop_after_epoch = 1;
    train_model(part, train, Split{}, one);
  }
  Model resumed{build_zoo_model("resnet20", zo), {}};
  resumed.weights = init_weights(resumed.graph, 99);  // overwritten by the checkpoint
  TrainOptions again = o;
  again.resume = true;
  auto r = train_model(resumed, train, Split{}, again);
  EXPECT_EQ(r.first_epoch, 1);
  for (const auto& [k, t] : full.weights)
    EXPECT_TRUE(at::allclose(t, resumed.weights.at(k), 1e-4, 1e-5)) << k;
  fs::remove_all(dir);
}

TEST(SlowTeachers, ShippedTeachersReachTheirStatedTestAccuracy) {
  Split test = load_fashion_mnist_test();
  struct Want { const char* name; double min_acc; };
  for (Want w : {Want{"resnet20", 0.92}, Want{"vgg11_bn", 0.90}, Want{"mobilenetv2", 0.90}}) {
    std::string dir = source_dir() + "/teachers/" + w.name;
    nlohmann::json meta;
    Model m = load_model(dir, &meta);
    auto r = evaluate(m, test);
    EXPECT_EQ(r.n, 10000);
    EXPECT_GE(r.accuracy, w.min_acc) << w.name;
    // The accuracy stored with the teacher (and quoted in the docs) is the one measured here.
    EXPECT_NEAR(meta.at("test_accuracy").get<double>(), r.accuracy, 1e-9) << w.name;
  }
}
