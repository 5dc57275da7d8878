#include "legodnn/train/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/optim/sgd.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include "legodnn/graph/executor.h"
#include "legodnn/graph/serialize.h"
#include "legodnn/util/allocator.h"
#include "legodnn/util/error.h"
#include "legodnn/util/fs.h"

namespace legodnn {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string fmt_duration(double s) {
  char buf[32];
  int t = static_cast<int>(s + 0.5);
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%dh%02dm", t / 3600, t / 60 % 60);
  else std::snprintf(buf, sizeof buf, "%dm%02ds", t / 60, t % 60);
  return buf;
}

double lr_at(const TrainOptions& o, double progress_epochs) {
  double warm = std::min(o.warmup_epochs, 0.5 * o.epochs);
  if (progress_epochs < warm) return o.lr * (progress_epochs + 1e-3) / warm;
  double t = (progress_epochs - warm) / std::max(1e-9, o.epochs - warm);
  return 0.5 * o.lr * (1.0 + std::cos(M_PI * std::min(1.0, t)));
}

nlohmann::json options_json(const TrainOptions& o) {
  return {{"epochs", o.epochs}, {"batch_size", o.batch_size}, {"lr", o.lr}, {"momentum", o.momentum},
          {"weight_decay", o.weight_decay}, {"nesterov", o.nesterov}, {"warmup_epochs", o.warmup_epochs},
          {"seed", o.seed}, {"crop_padding", o.crop_padding}, {"flip", o.flip},
          {"label_smoothing", o.label_smoothing}};
}

}  // namespace

EvalResult evaluate(const Model& m, const Split& data, int64_t batch_size) {
  Executor ex(m.graph, m.weights);
  batch_size = batch_within(m.graph, batch_size, kHeapTensorBytes);
  at::InferenceMode guard;
  EvalResult r;
  double loss_sum = 0;
  int64_t correct = 0;
  for (int64_t i = 0; i < data.size(); i += batch_size) {
    int64_t n = std::min(batch_size, data.size() - i);
    auto x = data.images.narrow(0, i, n);
    auto y = data.labels.narrow(0, i, n);
    auto logits = ex.forward(x, false);
    loss_sum += at::cross_entropy_loss(logits, y).item<double>() * n;
    correct += logits.argmax(1).eq(y).sum().item<int64_t>();
  }
  r.n = data.size();
  if (r.n) {
    r.accuracy = static_cast<double>(correct) / r.n;
    r.loss = loss_sum / r.n;
  }
  return r;
}

TrainResult train_model(Model& m, const Split& train, const Split& val, const TrainOptions& o) {
  if (o.epochs <= 0 || o.batch_size <= 0 || !(o.lr > 0))
    throw OptionError("training needs epochs > 0, batch size > 0 and lr > 0");
  if (train.size() == 0) throw OptionError("the training split is empty");
  TrainResult res;
  auto params = trainable_tensors(m.graph, m.weights);
  torch::optim::SGD opt(params, torch::optim::SGDOptions(o.lr)
                                    .momentum(o.momentum)
                                    .weight_decay(o.weight_decay)
                                    .nesterov(o.nesterov));
  const std::string state_path = o.checkpoint_dir.empty() ? "" : o.checkpoint_dir + "/train_state.pt";
  if (o.resume && !state_path.empty() && path_exists(state_path)) {
    Model saved = load_model(o.checkpoint_dir);
    check_weights(m.graph, saved.weights);
    at::NoGradGuard ng;
    for (auto& [k, t] : m.weights) t.copy_(saved.weights.at(k));
    torch::serialize::InputArchive ar;
    ar.load_from(state_path);
    opt.load(ar);
    at::Tensor e;
    ar.read("epoch", e);
    res.first_epoch = static_cast<int>(e.item<int64_t>());
    spdlog::info("resuming from {} after epoch {}", o.checkpoint_dir, res.first_epoch);
  }

  Executor ex(m.graph, m.weights);
  BatchLoader loader(train, training_batches(o.batch_size, o.seed, o.crop_padding, o.flip, train.size()));
  const int64_t nb = loader.batches_per_epoch();
  const auto t0 = Clock::now();
  int64_t images_done = 0;
  const int64_t images_total = static_cast<int64_t>(o.epochs - res.first_epoch) * nb * o.batch_size;

  for (int epoch = res.first_epoch; epoch < o.epochs; ++epoch) {
    loader.start_epoch(epoch);
    at::Tensor x, y;
    double loss_sum = 0;
    int64_t seen = 0, correct = 0, b = 0;
    const auto te = Clock::now();
    while (loader.next(x, y)) {
      double lr = lr_at(o, epoch + static_cast<double>(b) / nb);
      for (auto& g : opt.param_groups()) static_cast<torch::optim::SGDOptions&>(g.options()).lr(lr);
      opt.zero_grad();
      auto logits = ex.forward(x, true);
      auto loss = at::cross_entropy_loss(logits, y, {}, at::Reduction::Mean, -100, o.label_smoothing);
      loss.backward();
      opt.step();
      const int64_t n = x.size(0);
      loss_sum += loss.item<double>() * n;
      correct += logits.detach().argmax(1).eq(y).sum().item<int64_t>();
      seen += n;
      images_done += n;
      ++b;
      if (o.log_every > 0 && (b % o.log_every == 0 || b == nb)) {
        double el = seconds_since(t0);
        double rate = images_done / std::max(1e-9, el);
        spdlog::info("epoch {}/{} batch {}/{} loss {:.4f} acc {:.2f}% lr {:.4f} {:.0f} img/s ETA {}",
                     epoch + 1, o.epochs, b, nb, loss_sum / seen, 100.0 * correct / seen, lr, rate,
                     fmt_duration((images_total - images_done) / std::max(1e-9, rate)));
      }
    }
    res.train_loss = loss_sum / std::max<int64_t>(1, seen);
    if (val.size()) res.val = evaluate(m, val);
    spdlog::info("epoch {}/{} done in {}: train loss {:.4f} acc {:.2f}%, val loss {:.4f} acc {:.2f}%",
                 epoch + 1, o.epochs, fmt_duration(seconds_since(te)), res.train_loss,
                 100.0 * correct / std::max<int64_t>(1, seen), res.val.loss, 100.0 * res.val.accuracy);
    if (!o.checkpoint_dir.empty()) {
      nlohmann::json meta = {{"epochs_done", epoch + 1}, {"train_options", options_json(o)},
                             {"val_accuracy", res.val.accuracy}};
      save_model(o.checkpoint_dir, m, meta);
      torch::serialize::OutputArchive ar;
      opt.save(ar);
      ar.write("epoch", at::scalar_tensor(static_cast<int64_t>(epoch + 1), at::kLong));
      std::string tmp = state_path + ".tmp";
      ar.save_to(tmp);
      std::filesystem::rename(tmp, state_path);
    }
    res.epochs = epoch + 1;
    if (o.stop_after_epoch > 0 && epoch + 1 >= o.stop_after_epoch) break;
  }
  res.seconds = seconds_since(t0);
  return res;
}

}  // namespace legodnn
