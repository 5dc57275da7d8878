#include "legodnn/retrain/retrain.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/optim/adam.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include "legodnn/graph/executor.h"
#include "legodnn/graph/serialize.h"
#include "legodnn/util/error.h"
#include "legodnn/util/format.h"
#include "legodnn/util/fs.h"

namespace legodnn {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::vector<std::string> block_taps(const std::vector<BlockFamily>& fams) {
  std::vector<std::string> taps;
  for (const auto& f : fams) {
    taps.push_back(f.spec.entry);
    taps.push_back(f.spec.exit);
  }
  return taps;
}

// One descendant in training: its executor and optimizer over its own tensors.
struct Trainee {
  int block = 0, desc = 0;
  Model* model = nullptr;
  std::unique_ptr<Executor> ex;
  std::unique_ptr<torch::optim::Adam> opt;
  Weights best;
  double best_mse = 0;
};

void copy_into(Weights& dst, const Weights& src) {
  at::NoGradGuard ng;
  for (auto& [k, t] : dst) t.copy_(src.at(k));
}

std::string key(const Trainee& t) { return std::to_string(t.block) + "_" + std::to_string(t.desc); }

// The state of a run after an epoch, written as a new folder then swapped in, so a kill at any
// moment leaves either the previous complete state or the new one.
void save_state(const std::string& dir, int epoch, std::vector<Trainee>& ts,
                const std::vector<std::vector<DescendantTrainStats>>& stats) {
  std::string tmp = dir + ".tmp", old = dir + ".old";
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  json j = {{"epoch", epoch}, {"trainees", json::array()}};
  for (auto& t : ts) {
    save_tensors(tmp + "/w" + key(t) + ".pt", t.model->weights);
    save_tensors(tmp + "/best" + key(t) + ".pt", t.best);
    torch::serialize::OutputArchive ar;
    t.opt->save(ar);
    ar.save_to(tmp + "/opt" + key(t) + ".pt");
    const auto& s = stats[t.block][t.desc];
    j["trainees"].push_back({{"block", t.block}, {"desc", t.desc}, {"best_mse", t.best_mse},
                             {"mse_pruned", s.mse_pruned}, {"best_epoch", s.best_epoch}});
  }
  atomic_write_file(tmp + "/state.json", j.dump(1));
  fs::remove_all(old);
  if (fs::exists(dir)) fs::rename(dir, old);
  fs::rename(tmp, dir);
  fs::remove_all(old);
}

// Returns the epoch the saved state ended, or 0 when there is none.
int load_state(const std::string& dir, std::vector<Trainee>& ts, std::vector<std::vector<DescendantTrainStats>>& stats) {
  std::string d = dir;
  if (!fs::exists(d + "/state.json") && fs::exists(dir + ".old/state.json")) d = dir + ".old";
  if (!fs::exists(d + "/state.json")) return 0;
  const json j = read_json_file(d + "/state.json");
  if (j.at("trainees").size() != ts.size())
    throw IoError(d + "/state.json: field 'trainees' lists " + std::to_string(j["trainees"].size()) +
                  " descendants but this run has " + std::to_string(ts.size()) + " (different settings?)");
  for (size_t k = 0; k < ts.size(); ++k) {
    auto& t = ts[k];
    const auto& jt = j["trainees"][k];
    if (jt.at("block") != t.block || jt.at("desc") != t.desc)
      throw IoError(d + "/state.json: trainees[" + std::to_string(k) + "] is another descendant");
    Weights w = load_tensors(d + "/w" + key(t) + ".pt");
    check_weights(t.model->graph, w);
    copy_into(t.model->weights, w);
    t.best = load_tensors(d + "/best" + key(t) + ".pt");
    check_weights(t.model->graph, t.best);
    torch::serialize::InputArchive ar;
    ar.load_from(d + "/opt" + key(t) + ".pt");
    t.opt->load(ar);
    t.best_mse = jt.at("best_mse").get<double>();
    stats[t.block][t.desc].mse_pruned = jt.at("mse_pruned").get<double>();
    stats[t.block][t.desc].best_epoch = jt.at("best_epoch").get<int>();
  }
  return j.at("epoch").get<int>();
}

}  // namespace

std::vector<std::vector<double>> block_mse(const Model& teacher, const std::vector<BlockFamily>& fams,
                                           const Split& data, int64_t batch_size) {
  Executor tex(teacher.graph, teacher.weights);
  std::vector<std::vector<std::unique_ptr<Executor>>> exs(fams.size());
  std::vector<std::vector<double>> sum(fams.size());
  for (size_t i = 0; i < fams.size(); ++i)
    for (const auto& d : fams[i].descendants) {
      exs[i].push_back(std::make_unique<Executor>(d.graph, d.weights));
      sum[i].push_back(0.0);
    }
  auto taps = block_taps(fams);
  at::InferenceMode guard;
  int64_t n = 0;
  for (int64_t s = 0; s < data.size(); s += batch_size) {
    int64_t b = std::min(batch_size, data.size() - s);
    auto t = tex.run_taps(data.images.narrow(0, s, b), taps);
    for (size_t i = 0; i < fams.size(); ++i)
      for (size_t j = 0; j < exs[i].size(); ++j)
        sum[i][j] += at::mse_loss(exs[i][j]->forward(t[2 * i]), t[2 * i + 1]).item<double>() * b;
    n += b;
  }
  for (auto& v : sum)
    for (auto& x : v) x /= std::max<int64_t>(1, n);
  return sum;
}

RetrainResult retrain_descendants(const Model& teacher, std::vector<BlockFamily>& fams, const Split& train_all,
                                  const Split& val_all, const RetrainOptions& o) {
  if (o.epochs <= 0 || o.batch_size <= 0 || !(o.lr > 0))
    throw OptionError("retraining needs epochs > 0, batch size > 0 and lr > 0");
  Split train = o.train_images > 0 ? train_all.subset(o.train_images, o.seed) : train_all;
  Split val = o.val_images > 0 ? val_all.head(o.val_images) : val_all;
  if (train.size() == 0 || val.size() == 0) throw OptionError("retraining needs training and held-out images");

  RetrainResult res;
  res.stats.resize(fams.size());
  std::vector<Trainee> ts;
  for (size_t i = 0; i < fams.size(); ++i) {
    res.stats[i].resize(fams[i].descendants.size());
    for (size_t j = 0; j < fams[i].descendants.size(); ++j) {
      if (fams[i].sparsities[j] == 0.0) continue;  // the original block needs no training
      Trainee t;
      t.block = static_cast<int>(i);
      t.desc = static_cast<int>(j);
      t.model = &fams[i].descendants[j];
      t.opt = std::make_unique<torch::optim::Adam>(trainable_tensors(t.model->graph, t.model->weights),
                                                   torch::optim::AdamOptions(o.lr));
      ts.push_back(std::move(t));
    }
  }

  int start = o.state_dir.empty() ? 0 : load_state(o.state_dir, ts, res.stats);
  if (start == 0) {
    auto mse = block_mse(teacher, fams, val);
    for (auto& t : ts) {
      res.stats[t.block][t.desc].mse_pruned = mse[t.block][t.desc];
      t.best_mse = mse[t.block][t.desc];
      t.best = clone_weights(t.model->weights);
    }
  } else {
    spdlog::info("retraining: resuming after epoch {} from {}", start, o.state_dir);
  }
  res.first_epoch = start;
  for (auto& t : ts) t.ex = std::make_unique<Executor>(t.model->graph, t.model->weights);

  Executor tex(teacher.graph, teacher.weights);
  auto taps = block_taps(fams);
  BatchLoader loader(train, training_batches(o.batch_size, o.seed, o.crop_padding, o.flip, train.size()));
  const int64_t nb = loader.batches_per_epoch();
  const auto t0 = Clock::now();
  int64_t done = 0;
  const int64_t total = static_cast<int64_t>(o.epochs - start) * nb;
  res.epochs_done = start;

  for (int epoch = start; epoch < o.epochs; ++epoch) {
    const auto te = Clock::now();
    loader.start_epoch(epoch);
    std::vector<double> loss_sum(fams.size(), 0.0);
    std::vector<int> per_block(fams.size(), 0);
    for (const auto& t : ts) ++per_block[t.block];
    at::Tensor x, y;
    int64_t b = 0;
    while (loader.next(x, y)) {
      std::vector<at::Tensor> feats;
      {
        at::NoGradGuard ng;  // the teacher is frozen; its taps are constants for the students
        feats = tex.run_taps(x, taps, false);
      }
      for (auto& t : ts) {
        t.opt->zero_grad();
        auto out = t.ex->forward(feats[2 * t.block], true);
        auto loss = at::mse_loss(out, feats[2 * t.block + 1]);
        loss.backward();
        t.opt->step();
        loss_sum[t.block] += loss.item<double>() / per_block[t.block];
      }
      ++b;
      ++done;
      if (o.log_every > 0 && (b % o.log_every == 0 || b == nb)) {
        double el = since(t0), rate = done * o.batch_size / std::max(1e-9, el);
        std::string losses;
        for (size_t i = 0; i < fams.size(); ++i)
          losses += (i ? " " : "") + fmt::format("{:.4f}", loss_sum[i] / b);
        spdlog::info("retrain epoch {}/{} batch {}/{} mean MSE per block [{}] {:.0f} img/s ETA {:.0f}s",
                     epoch + 1, o.epochs, b, nb, losses, rate,
                     (total - done) * o.batch_size / std::max(1e-9, rate));
      }
    }
    auto mse = block_mse(teacher, fams, val);
    int improved = 0;
    for (auto& t : ts) {
      double m = mse[t.block][t.desc];
      if (m < t.best_mse) {
        t.best_mse = m;
        t.best = clone_weights(t.model->weights);
        res.stats[t.block][t.desc].best_epoch = epoch + 1;
        ++improved;
      }
    }
    res.epoch_seconds.push_back(since(te));
    res.epochs_done = epoch + 1;
    spdlog::info("retrain epoch {}/{} done in {:.0f}s; {} of {} descendants improved on held-out data",
                 epoch + 1, o.epochs, res.epoch_seconds.back(), improved, ts.size());
    if (!o.state_dir.empty()) save_state(o.state_dir, epoch + 1, ts, res.stats);
    if (o.stop_after_epoch > 0 && epoch + 1 >= o.stop_after_epoch && epoch + 1 < o.epochs) return res;
  }

  // Keep each descendant's best weights, then re-estimate batch-norm statistics for serving: the
  // plain average over a few batches of the teacher's block inputs, in training mode. Where the
  // re-estimated statistics do worse on held-out data, the ones from training stay.
  for (auto& t : ts) copy_into(t.model->weights, t.best);
  auto before = block_mse(teacher, fams, val);
  std::vector<Weights> kept;
  for (auto& t : ts) {
    kept.push_back(clone_weights(t.model->weights));
    at::NoGradGuard ng;
    for (auto& [k, w] : t.model->weights) {
      if (k.size() > 13 && k.compare(k.size() - 13, 13, ".running_mean") == 0) w.zero_();
      if (k.size() > 12 && k.compare(k.size() - 12, 12, ".running_var") == 0) w.fill_(1.0);
    }
  }
  {
    BatchOptions cal;
    cal.batch_size = o.batch_size;
    cal.shuffle = true;
    cal.seed = o.seed + 7;
    BatchLoader cl(train, cal);
    cl.start_epoch(0);
    at::Tensor x, y;
    at::NoGradGuard ng;
    for (int64_t k = 0; k < o.recalibration_batches && cl.next(x, y); ++k) {
      auto feats = tex.run_taps(x, taps, false);
      for (auto& t : ts) {
        t.ex->set_batch_norm_momentum(1.0 / (k + 1));
        t.ex->forward(feats[2 * t.block], true);
      }
    }
  }
  auto recal = block_mse(teacher, fams, val);
  for (size_t k = 0; k < ts.size(); ++k)
    if (recal[ts[k].block][ts[k].desc] > before[ts[k].block][ts[k].desc]) copy_into(ts[k].model->weights, kept[k]);
  auto mse = block_mse(teacher, fams, val);
  for (auto& t : ts) res.stats[t.block][t.desc].mse_retrained = mse[t.block][t.desc];
  res.finished = true;
  return res;
}

}  // namespace legodnn
