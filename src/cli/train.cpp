// legodnn train: a zoo model trained on Fashion-MNIST (55k train / 5k val) or an image folder,
// checkpointed.
#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "legodnn/data/data_source.h"
#include "legodnn/graph/serialize.h"
#include "legodnn/models/zoo.h"
#include "legodnn/train/trainer.h"
#include "legodnn/util/fs.h"

namespace legodnn::cli {

Command add_train(CLI::App& app) {
  struct Args {
    Common common;
    std::string model, out;
    ZooOptions zoo;
    TrainOptions train;
    int64_t subset = 0;
  };
  auto a = std::make_shared<Args>();
  auto* c = app.add_subcommand("train", "train a zoo model on Fashion-MNIST (55k train / 5k val) or an image folder (--data)");
  c->add_option("--model", a->model, "zoo model name")->required();
  c->add_option("--width", a->zoo.width, "channel width multiplier");
  c->add_option("--stem-stride", a->zoo.stem_stride, "stride of the first conv (1 or 2)");
  // An image folder's pictures are resized to the model's input: these shape the model for them.
  c->add_option("--in-channels", a->zoo.in_channels, "input channels (3: an image folder's RGB colours)")
      ->check(CLI::IsMember({1, 3}));
  c->add_option("--input-size", a->zoo.input_size, "square input side the images are resized to")
      ->check(CLI::Range(8, 1024));
  c->add_option("--classes", a->zoo.num_classes, "classes (an image folder's class subfolders)")
      ->check(CLI::Range(2, 100000));
  c->add_option("--epochs", a->train.epochs, "epochs");
  c->add_option("--batch-size", a->train.batch_size, "batch size");
  c->add_option("--lr", a->train.lr, "peak learning rate (warm-up then cosine)");
  c->add_option("--weight-decay", a->train.weight_decay, "weight decay");
  c->add_option("--momentum", a->train.momentum, "SGD momentum (Nesterov)");
  c->add_option("--warmup", a->train.warmup_epochs, "warm-up epochs");
  c->add_option("--label-smoothing", a->train.label_smoothing, "label smoothing");
  c->add_option("--crop-padding", a->train.crop_padding, "random-crop padding, 0 = off");
  c->add_flag("!--no-flip", a->train.flip, "no random horizontal flips");
  c->add_option("--seed", a->train.seed, "seed of initialization, shuffling and augmentation");
  c->add_option("--subset", a->subset, "train on this many images only (0 = all)");
  c->add_option("--out", a->out, "output model folder (checkpointed after every epoch)")->required();
  c->add_flag("--resume", a->train.resume, "continue an interrupted run from --out");
  add_common(c, a->common, "the number of cores");
  return {c, [a] {
            apply_threads(a->common, cores());
            ensure_writable_dir(a->out);
            Model m;
            m.graph = build_zoo_model(a->model, a->zoo);
            auto data = load_data(data_for(a->common, m.graph));
            Split tr = a->subset > 0 ? data.train.subset(a->subset, a->train.seed) : data.train;
            m.weights = init_weights(m.graph, a->train.seed);
            std::fputs(stats_line(a->model, m.graph).c_str(), stdout);
            TrainOptions topt = a->train;
            topt.checkpoint_dir = a->out;
            auto r = train_model(m, tr, data.val, topt);
            if (r.val.n == 0) r.val = evaluate(m, data.val);  // a resumed run that had nothing left to do
            auto test = evaluate(m, data.test);
            nlohmann::json meta = {{"model", a->model}, {"width", a->zoo.width}, {"stem_stride", a->zoo.stem_stride},
                                   {"in_channels", a->zoo.in_channels}, {"input_size", a->zoo.input_size},
                                   {"classes", a->zoo.num_classes},
                                   {"seed", topt.seed}, {"command", invocation()}, {"threads", at_threads()},
                                   {"train_images", tr.size()}, {"epochs", topt.epochs},
                                   {"val_accuracy", r.val.accuracy}, {"test_accuracy", test.accuracy},
                                   {"train_seconds_last_call", r.seconds}};
            save_model(a->out, m, meta);
            std::printf("%s: test accuracy %.2f%% (%lld images), val %.2f%%, %.0f s; saved to %s\n", a->model.c_str(),
                        100 * test.accuracy, (long long)test.n, 100 * r.val.accuracy, r.seconds, a->out.c_str());
            return 0;
          }};
}

}  // namespace legodnn::cli
