#include "legodnn/baseline/model_grained.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <spdlog/spdlog.h>

#include "legodnn/graph/executor.h"
#include "legodnn/graph/fold.h"
#include "legodnn/graph/serialize.h"
#include "legodnn/repository/repository.h"
#include "legodnn/train/trainer.h"
#include "legodnn/util/error.h"
#include "legodnn/util/format.h"
#include "legodnn/util/fs.h"

namespace legodnn {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kFileName = kModelGrainedFileName;
// Fine-tuning settings fixed by this baseline (see ModelGrainedOptions::lr).
constexpr double kMomentum = 0.9;
constexpr int64_t kCropPadding = 2;  // the teachers' and block retraining's augmentation
constexpr bool kFlip = true;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// The folder of a variant, named by its sparsity so that a rerun with another list of sparsities
// finds the ones it shares: "s0", "s0.2", ...
std::string variant_dir(double sparsity) {
  std::string d = json(sparsity).dump();  // shortest text that reads back as the same number
  if (d.size() > 2 && d.compare(d.size() - 2, 2, ".0") == 0) d.resize(d.size() - 2);
  return "s" + d;
}

int64_t tensor_bytes(const Weights& w) {
  int64_t n = 0;
  for (const auto& kv : w) n += static_cast<int64_t>(kv.second.nbytes());
  return n;
}

int64_t file_size_or_zero(const std::string& path) {
  std::error_code ec;
  auto n = fs::file_size(path, ec);
  return ec ? 0 : static_cast<int64_t>(n);
}

// crc32 of the teacher's graph (as JSON) and of every tensor's bytes in key order: a rerun must
// continue the set of the same teacher.
std::string fingerprint(const Model& m) {
  Crc32 crc;
  crc.update(graph_to_json(m.graph).dump());
  for (const auto& [k, t] : m.weights) {
    crc.update(k);
    at::Tensor c = t.detach().to(at::kCPU).contiguous();
    crc.update(c.data_ptr(), c.nbytes());
  }
  return crc.checksum();
}

void validate_options(const ModelGrainedOptions& o) {
  const auto& s = o.sparsities;
  if (s.empty()) throw OptionError("sparsities: give at least one (the first must be 0, the teacher)");
  if (s[0] != 0.0) throw OptionError("sparsities: the first must be 0 (the teacher), got " + number_string(s[0]));
  for (size_t k = 1; k < s.size(); ++k) {
    if (!(s[k] > s[k - 1]))
      throw OptionError("sparsities: " + number_string(s[k]) + " does not exceed the previous " +
                        number_string(s[k - 1]) + " (sparsities must increase)");
    if (!(s[k] < 1.0)) throw OptionError("sparsities: " + number_string(s[k]) + " is not below 1");
  }
  if (o.epochs <= 0) throw OptionError("epochs must be positive, got " + std::to_string(o.epochs));
  if (o.batch_size <= 0) throw OptionError("batch size must be positive, got " + std::to_string(o.batch_size));
  if (o.train_images < 0) throw OptionError("train images must not be negative, got " + std::to_string(o.train_images));
  if (o.eval_images < 0) throw OptionError("eval images must not be negative, got " + std::to_string(o.eval_images));
  if (o.val_images < 0) throw OptionError("val images must not be negative, got " + std::to_string(o.val_images));
  if (!(o.lr > 0)) throw OptionError("lr must be positive, got " + number_string(o.lr));
}

// What a rerun must share with the run that began the set: variants built with other settings
// would not be comparable.
json settings_json(const ModelGrainedOptions& o, int64_t train_images, int64_t eval_images) {
  json blocks = json::array();
  for (const auto& [a, b] : o.explicit_blocks) blocks.push_back({a, b});
  return json{{"pruning", {{"importance", "l1"},
                           {"max_convs", o.detect.max_convs},
                           {"max_ratio", o.detect.max_ratio},
                           {"cross_stages", o.detect.cross_stages},
                           {"explicit_blocks", blocks}}},
              {"fine_tuning", {{"optimizer", "sgd"},
                               {"momentum", kMomentum},
                               {"nesterov", true},
                               {"schedule", "cosine to 0, no warm-up"},
                               {"lr", o.lr},
                               {"weight_decay", o.weight_decay},
                               {"epochs", o.epochs},
                               {"train_images", train_images},
                               {"batch_size", o.batch_size},
                               {"crop_padding", kCropPadding},
                               {"flip", kFlip},
                               {"seed", o.seed}}},
              {"evaluation", {{"split", "test"}, {"images", eval_images}}}};
}

// The first field where two settings documents differ, as "a.b: x vs y".
std::string first_difference(const json& a, const json& b, const std::string& path) {
  if (a.is_object() && b.is_object()) {
    for (const auto& [k, v] : a.items()) {
      std::string p = path.empty() ? k : path + "." + k;
      if (!b.contains(k)) return p + ": " + v.dump() + " vs missing";
      std::string d = first_difference(v, b.at(k), p);
      if (!d.empty()) return d;
    }
    for (const auto& [k, v] : b.items())
      if (!a.contains(k)) return (path.empty() ? k : path + "." + k) + ": missing vs " + v.dump();
    return "";
  }
  return a == b ? "" : path + ": " + a.dump() + " vs " + b.dump();
}

void write_set(const std::string& dir, const ModelGrainedManifest& m) {
  atomic_write_file(dir + "/" + kFileName, model_grained_to_json(m).dump(1));
}

std::string fmt_seconds(double s) {
  int t = static_cast<int>(s + 0.5);
  return t >= 3600 ? fmt::format("{}h{:02d}m{:02d}s", t / 3600, t / 60 % 60, t % 60)
                   : fmt::format("{}m{:02d}s", t / 60, t % 60);
}

// A copy with its own storage (pruned models share tensors with the teacher) and gradients on.
Model trainable_copy(const Model& m) {
  Model out{m.graph, clone_weights(m.weights)};
  require_grad_on_trainables(out.graph, out.weights);
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Building

ModelGrainedBuildResult build_model_grained(const Model& teacher, const FashionMnist& data,
                                            const std::string& dir, const ModelGrainedOptions& o) {
  validate_options(o);
  ModelGrainedBuildResult res;
  fs::create_directories(dir);
  const std::string path = dir + "/" + kFileName;
  const Split test = o.eval_images > 0 ? data.test.head(o.eval_images) : data.test;
  if (test.size() == 0) throw OptionError("the test split is empty: nothing to measure accuracy on");
  const int64_t train_images = o.train_images > 0 ? std::min(o.train_images, data.train.size()) : data.train.size();

  ModelGrainedManifest man;
  man.model = o.model_name;
  auto shapes = teacher.graph.infer_shapes();
  man.input_shape = shapes[teacher.graph.index(teacher.graph.input())];
  man.classes = shapes[teacher.graph.index(teacher.graph.output())].at(0);
  man.teacher_fingerprint = fingerprint(teacher);
  man.eval_images = test.size();
  man.settings = settings_json(o, train_images, test.size());
  man.info = {{"budget", "per descendant model, block retraining's: the same epochs over the same seeded "
                         "training subset, end to end"},
              {"cores", std::thread::hardware_concurrency()},
              {"torch_threads", at::get_num_threads()},
              {"latency", {{"batch", o.latency.batch}, {"warmup", o.latency.warmup}, {"repeats", o.latency.repeats}}}};

  // Variants an earlier run finished (files intact) are kept.
  std::vector<const ModelVariant*> done(o.sparsities.size(), nullptr);
  ModelGrainedManifest old;
  bool have_old = false;
  if (path_exists(path)) {
    old = parse_model_grained(read_json_file(path), path);
    have_old = true;
    if (old.teacher_fingerprint != man.teacher_fingerprint)
      throw IoError(path + ": field 'teacher_fingerprint' is " + old.teacher_fingerprint + ", the teacher given has " +
                    man.teacher_fingerprint + " (another model); use a new --out");
    std::string diff = first_difference(old.settings, man.settings, "settings");
    if (!diff.empty())
      throw IoError(path + ": " + diff + " (recorded vs given): the set was begun with other settings; use a new --out");
    man.teacher_accuracy = old.teacher_accuracy;
    for (size_t k = 0; k < old.variants.size(); ++k) {
      const ModelVariant& v = old.variants[k];
      for (size_t s = 0; s < o.sparsities.size(); ++s) {
        if (o.sparsities[s] != v.sparsity) continue;
        try {
          verify_variant_files(dir, path, k, v);
          done[s] = &v;
        } catch (const IoError& e) {
          spdlog::warn("baseline: rebuilding sparsity {}: {}", v.sparsity, e.what());
        }
      }
    }
  }
  if (!have_old) man.teacher_accuracy = correctness(teacher, test).accuracy;

  std::vector<BlockFamily> fams;
  const bool all_done = std::all_of(done.begin(), done.end(), [](const ModelVariant* v) { return v != nullptr; });
  if (!all_done) {
    auto specs = o.explicit_blocks.empty() ? detect_blocks(teacher.graph, o.detect)
                                           : explicit_blocks(teacher.graph, o.explicit_blocks);
    if (specs.empty()) throw GraphError("the model has no block with prunable channels");
    fams = make_descendants(teacher, specs, o.sparsities);
    spdlog::info("baseline: {} blocks; {} variants (sparsities {}); teacher test accuracy {:.2f}% on {} images",
                 fams.size(), o.sparsities.size(), json(o.sparsities).dump(), 100 * man.teacher_accuracy, test.size());
  }
  const Split train = o.train_images > 0 ? data.train.subset(o.train_images, o.seed) : data.train;
  const Split val = data.val.head(o.val_images);

  for (size_t s = 0; s < o.sparsities.size(); ++s) {
    const double sparsity = o.sparsities[s];
    if (done[s]) {
      man.variants.push_back(*done[s]);
      res.skipped.push_back(sparsity);
      spdlog::info("baseline: variant {}/{} (sparsity {}) already done, skipped", s + 1, o.sparsities.size(), sparsity);
      continue;
    }
    ModelVariant v;
    v.sparsity = sparsity;
    v.dir = variant_dir(sparsity);
    // Sparsity 0 is the teacher itself, bit for bit, and is not fine-tuned.
    Model m = trainable_copy(s == 0 ? teacher : compose(teacher, fams, std::vector<int>(fams.size(), static_cast<int>(s))));
    v.accuracy = v.pruned_accuracy = correctness(m, test).accuracy;
    if (s > 0) {
      spdlog::info("baseline: variant {}/{} (sparsity {}): pruned accuracy {:.2f}%; fine-tuning {} epochs on {} images",
                   s + 1, o.sparsities.size(), sparsity, 100 * v.pruned_accuracy, o.epochs, train.size());
      // One train_model call per epoch, each resuming from the checkpoint of the last, so the
      // fine-tuning time survives an interruption (the schedule spans all epochs either way).
      const std::string state = dir + "/train_state/" + v.dir;
      const std::string elapsed_path = state + "/elapsed.json";
      int epochs_done = 0;
      if (path_exists(elapsed_path)) {
        try {
          const json e = read_json_file(elapsed_path);
          v.train_seconds = e.at("seconds").get<double>();
          epochs_done = e.at("epochs_done").get<int>();
        } catch (const IoError&) {
          v.train_seconds = 0;  // an unreadable record only loses the earlier epochs' time
        } catch (const json::exception&) {
          v.train_seconds = 0;  // an unreadable record only loses the earlier epochs' time
        }
      }
      TrainOptions t;
      t.epochs = o.epochs;
      t.batch_size = o.batch_size;
      t.lr = o.lr;
      t.momentum = kMomentum;
      t.weight_decay = o.weight_decay;
      t.nesterov = true;
      t.warmup_epochs = 0;
      t.seed = o.seed;
      t.crop_padding = kCropPadding;
      t.flip = kFlip;
      t.checkpoint_dir = state;
      t.resume = true;
      t.log_every = o.log_every;
      fs::create_directories(state);
      while (epochs_done < o.epochs) {
        t.stop_after_epoch = epochs_done + 1;
        auto r = train_model(m, train, val, t);
        // A checkpoint ahead of elapsed.json (killed between the two writes) resumes past it.
        epochs_done = std::max({epochs_done + 1, r.epochs, r.first_epoch});
        v.train_seconds += r.seconds;
        atomic_write_file(elapsed_path, json{{"epochs_done", epochs_done}, {"seconds", v.train_seconds}}.dump());
        if (o.stop_after_epoch > 0 && epochs_done >= o.stop_after_epoch && epochs_done < o.epochs) {
          spdlog::info("baseline: stopped after fine-tuning epoch {} of {} (sparsity {}); rerun to continue",
                       epochs_done, o.epochs, sparsity);
          return res;
        }
      }
    }
    if (s > 0) v.accuracy = correctness(m, test).accuracy;
    v.latency_ms = measure_latency_ms(m, man.input_shape, o.latency);
    auto st = graph_stats(m.graph);
    v.bytes = st.bytes;
    v.params = st.params;
    v.macs = st.macs;
    // The variant folder is written whole under a temporary name, then renamed into place.
    const std::string final_dir = dir + "/" + v.dir;
    const std::string tmp_dir = final_dir + ".tmp";
    fs::remove_all(tmp_dir);
    save_model(tmp_dir, m, json{{"model", o.model_name}, {"sparsity", sparsity}, {"accuracy", v.accuracy},
                                {"teacher_fingerprint", man.teacher_fingerprint}});
    fs::remove_all(final_dir);
    fs::rename(tmp_dir, final_dir);
    v.checksum = file_checksum(final_dir + "/weights.pt");
    v.graph_checksum = file_checksum(final_dir + "/model.json");
    man.variants.push_back(v);
    write_set(dir, man);
    fs::remove_all(dir + "/train_state/" + v.dir);
    res.ran.push_back(sparsity);
    spdlog::info("baseline: variant {}/{} (sparsity {}): test accuracy {:.2f}% (pruned {:.2f}%, teacher {:.2f}%), "
                 "{:.3f} ms, {:.3f} MB, {} MACs, fine-tuned in {}",
                 s + 1, o.sparsities.size(), sparsity, 100 * v.accuracy, 100 * v.pruned_accuracy,
                 100 * man.teacher_accuracy, v.latency_ms, v.bytes / 1e6, v.macs, fmt_seconds(v.train_seconds));
  }
  // Also when every variant was skipped: the list now holds exactly the requested sparsities.
  write_set(dir, man);
  std::error_code ec;
  fs::remove(dir + "/train_state", ec);  // only when empty
  res.complete = true;
  return res;
}

// ---------------------------------------------------------------------------------------------
// The set on disk

ModelGrainedSet ModelGrainedSet::open(const std::string& dir) {
  const std::string path = dir + "/" + kFileName;
  if (!path_exists(path)) throw IoError(path + ": file is missing (not a model-grained set?)");
  ModelGrainedSet s;
  s.dir_ = dir;
  s.manifest_ = parse_model_grained(read_json_file(path), path);
  for (size_t k = 0; k < s.manifest_.variants.size(); ++k) verify_variant_files(dir, path, k, s.manifest_.variants[k]);
  return s;
}

ModelChoiceSpec ModelGrainedSet::spec() const {
  ModelChoiceSpec s;
  s.name = manifest_.model;
  s.accuracy = manifest_.teacher_accuracy;
  s.frame_ms = 0;
  s.frame_bytes = 0;
  std::vector<OptionCost> opts;
  for (const auto& v : manifest_.variants)
    opts.push_back({manifest_.teacher_accuracy - v.accuracy, v.latency_ms, static_cast<double>(v.bytes)});
  s.blocks.push_back(std::move(opts));
  return s;
}

Model ModelGrainedSet::load_variant(int index) const {
  if (index < 0 || index >= variants())
    throw OptionError("variant " + std::to_string(index) + " is out of range 0.." + std::to_string(variants() - 1));
  const std::string path = dir_ + "/" + kFileName;
  const ModelVariant& v = manifest_.variants[index];
  const std::string field = model_variant_field(index) + ".dir";
  verify_variant_files(dir_, path, static_cast<size_t>(index), v);
  Model m;
  // What a damaged model folder raises: our errors, torch's on its tensors, or the JSON reader's.
  try {
    m = load_model(resolve_inside(dir_, v.dir));
  } catch (const Error& e) {
    throw IoError(path + ": " + field + ": " + e.what());
  } catch (const c10::Error& e) {
    throw IoError(path + ": " + field + ": " + e.what_without_backtrace());
  } catch (const json::exception& e) {
    throw IoError(path + ": " + field + ": " + e.what());
  }
  auto shapes = m.graph.infer_shapes();
  const Shape& in = shapes[m.graph.index(m.graph.input())];
  const Shape& out = shapes[m.graph.index(m.graph.output())];
  if (in != manifest_.input_shape || out != Shape{manifest_.classes})
    throw IoError(path + ": " + field + ": " + dir_ + "/" + v.dir + "/model.json maps " + shape_string(in) + " -> " +
                  shape_string(out) + ", the set's models map " + shape_string(manifest_.input_shape) + " -> [" +
                  std::to_string(manifest_.classes) + "]");
  return m;
}

int64_t ModelGrainedSet::variant_file_bytes(int index) const {
  const std::string base = dir_ + "/" + manifest_.variants.at(index).dir;
  return file_size_or_zero(base + "/model.json") + file_size_or_zero(base + "/weights.pt");
}

// ---------------------------------------------------------------------------------------------
// Serving

namespace {
// The active model as served: folded and compiled. Immutable once built; a forward holds it
// for its duration.
struct ActiveModel final : ServingState {
  ActiveModel(int index, uint64_t version, Model m, Executor ex, int64_t b)
      : ServingState({index}, version), folded(std::move(m)), executor(std::move(ex)), bytes(b) {}
  at::Tensor forward(const at::Tensor& x) const override {
    c10::InferenceMode guard;
    return executor.forward(x);
  }
  int index() const { return selection()[0]; }
  const Model folded;
  const Executor executor;
  const int64_t bytes;
};

// Stage: loads, verifies, folds and compiles one whole variant; records the times in `r` when
// given. Throws what loading a damaged variant throws.
std::shared_ptr<const ActiveModel> load_active(const ModelGrainedSet& set, int index, uint64_t version,
                                               SwitchReport* r = nullptr) {
  const auto t_load = Clock::now();
  Model folded = fold_batch_norm(set.load_variant(index));
  if (r) r->load_ms = ms_since(t_load);
  const auto t_build = Clock::now();
  Executor ex(folded.graph, folded.weights);
  const int64_t bytes = tensor_bytes(folded.weights);
  auto out = std::make_shared<const ActiveModel>(index, version, std::move(folded), std::move(ex), bytes);
  if (r) r->build_ms = ms_since(t_build);
  return out;
}

void check_variant_selection(const ModelGrainedSet& set, const std::vector<int>& sel) {
  if (sel.size() != 1)
    throw OptionError("a model-grained selection is one variant index, got " + std::to_string(sel.size()) + " values");
  if (sel[0] < 0 || sel[0] >= set.variants())
    throw OptionError("variant " + std::to_string(sel[0]) + " is out of range 0.." + std::to_string(set.variants() - 1));
}
}  // namespace

struct WholeModelServer::State {
  ModelGrainedSet set;
  int warm_up = 0;
  // Serializes switches; forwards never take it.
  mutable std::mutex switch_mutex;
  // Only switches (holding switch_mutex) and open commit; forwards only load.
  Published<ActiveModel> active;
};

WholeModelServer::WholeModelServer(std::unique_ptr<State> s) : s_(std::move(s)) {}
WholeModelServer::WholeModelServer(WholeModelServer&&) noexcept = default;
WholeModelServer& WholeModelServer::operator=(WholeModelServer&&) noexcept = default;
WholeModelServer::~WholeModelServer() = default;

WholeModelServer WholeModelServer::open(const std::string& dir, int initial_variant, int warm_up_forwards) {
  ServingState::check_warm_up(warm_up_forwards);
  auto s = std::make_unique<State>();
  s->set = ModelGrainedSet::open(dir);
  s->warm_up = warm_up_forwards;
  check_variant_selection(s->set, {initial_variant});
  auto first = load_active(s->set, initial_variant, 0);
  first->warm_up(s->set.manifest().input_shape, s->warm_up);
  s->active.commit(std::move(first));
  return WholeModelServer(std::move(s));
}

ServingSnapshot WholeModelServer::snapshot() const { return ServingSnapshot(s_->active.load()); }

SwitchReport WholeModelServer::switch_to(const std::vector<int>& selection) {
  const auto t0 = Clock::now();
  std::lock_guard<std::mutex> lock(s_->switch_mutex);
  check_variant_selection(s_->set, selection);
  // Only switches commit, and they hold switch_mutex: this model stays the serving one.
  const std::shared_ptr<const ActiveModel> old = s_->active.load();
  SwitchReport r;
  r.selection = old->selection();
  if (selection[0] == old->index()) {
    r.ok = true;
    r.total_ms = ms_since(t0);
    return r;
  }
  std::shared_ptr<const ActiveModel> next;
  // What a missing or damaged variant raises: our errors naming it, or torch's on its tensors.
  try {
    next = load_active(s_->set, selection[0], old->version() + 1, &r);
    r.warm_ms = next->warm_up(s_->set.manifest().input_shape, s_->warm_up);
  } catch (const Error& e) {
    r.error = e.what();
  } catch (const c10::Error& e) {
    r.error = e.what_without_backtrace();
  }
  if (!next) {
    r.total_ms = ms_since(t0);
    return r;
  }
  s_->active.commit(std::move(next));
  r.ok = true;
  r.selection = selection;
  r.changed = {0};
  r.from_disk = 1;
  r.bytes_from_disk = s_->set.variant_file_bytes(selection[0]);
  r.total_ms = ms_since(t0);
  return r;
}

MemoryUse WholeModelServer::memory() const {
  MemoryUse u;
  u.active_bytes = s_->active.load()->bytes;
  return u;
}

void WholeModelServer::set_cache_limit(int64_t bytes) {
  if (bytes < 0) throw OptionError("cache byte limit must not be negative, got " + std::to_string(bytes));
}

const ModelGrainedSet& WholeModelServer::set() const { return s_->set; }

}  // namespace legodnn
