#include "legodnn/pipeline/build.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <spdlog/spdlog.h>

#include "legodnn/graph/serialize.h"
#include "legodnn/pipeline/calibrate.h"
#include "legodnn/repository/repository.h"
#include "legodnn/util/error.h"
#include "legodnn/util/fs.h"

namespace legodnn {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string descendant_file(int block, size_t desc) {
  return "blocks/b" + std::to_string(block) + "_d" + std::to_string(desc) + ".pt";
}

json machine_info() {
  json m;
  char host[256] = {0};
  if (::gethostname(host, sizeof host - 1) == 0) m["host"] = host;
  std::ifstream cpu("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpu, line))
    if (line.rfind("model name", 0) == 0) {
      m["cpu"] = line.substr(line.find(':') + 2);
      break;
    }
  m["cores"] = std::thread::hardware_concurrency();
  m["torch_threads"] = at::get_num_threads();
  return m;
}

// Rebuilds the block families from a repository on disk (the descendants' current weights).
std::vector<BlockFamily> families_from(const Repository& repo) {
  std::vector<BlockFamily> fams;
  const Manifest& man = repo.manifest();
  for (const auto& b : man.blocks) {
    BlockFamily f;
    f.spec.id = b.id;
    f.spec.entry = b.entry;
    f.spec.exit = b.exit;
    f.spec.nodes = b.nodes;
    for (const auto& n : b.nodes) f.spec.convs += man.teacher.node(n).op == Op::Conv2d;
    f.original = block_graph(man.teacher, f.spec);
    for (size_t j = 0; j < b.descendants.size(); ++j) {
      f.sparsities.push_back(b.descendants[j].sparsity);
      f.descendants.push_back(repo.load_descendant(b.id, static_cast<int>(j)));
    }
    fams.push_back(std::move(f));
  }
  return fams;
}

void write_descendants(const std::string& dir, Manifest& man, const std::vector<BlockFamily>& fams) {
  for (size_t i = 0; i < fams.size(); ++i)
    for (size_t j = 0; j < fams[i].descendants.size(); ++j) {
      auto& rec = man.blocks[i].descendants[j];
      rec.file = descendant_file(static_cast<int>(i), j);
      rec.checksum = write_tensor_file(dir + "/" + rec.file, fams[i].descendants[j].weights);
    }
}

}  // namespace

BuildResult build_repository(const Model& teacher, const FashionMnist& data, const std::string& dir,
                             const BuildOptions& o) {
  BuildResult res;
  fs::create_directories(dir + "/blocks");
  const std::string manifest_path = dir + "/manifest.json";
  Manifest man;
  std::vector<BlockFamily> fams;
  // The test images of the estimate check and the sweep's report.
  const Split test = o.test_images > 0 ? data.test.head(o.test_images) : data.test;

  // ---- stage 1: blocks and descendants ----
  if (path_exists(manifest_path)) {
    Repository repo = Repository::open(dir);
    man = repo.manifest();
    if (graph_to_json(man.teacher).dump() != graph_to_json(teacher.graph).dump())
      throw IoError(manifest_path + ": field 'teacher' holds another model than the one given; use a new --out");
    fams = families_from(repo);
    res.skipped.push_back("descendants");
  } else {
    auto t0 = Clock::now();
    auto specs = o.explicit_blocks.empty() ? detect_blocks(teacher.graph, o.detect)
                                           : explicit_blocks(teacher.graph, o.explicit_blocks);
    if (specs.empty()) throw GraphError("the model has no block with prunable channels");
    fams = make_descendants(teacher, specs, o.sparsities);
    auto shapes = teacher.graph.infer_shapes();
    man.model = o.model_name;
    man.input_shape = shapes[teacher.graph.index(teacher.graph.input())];
    man.classes = shapes[teacher.graph.index(teacher.graph.output())].at(0);
    man.teacher = teacher.graph;
    Weights frame;
    for (const auto& name : frame_nodes(teacher.graph, specs))
      for (const auto& p : param_specs(teacher.graph.node(name))) {
        auto key = param_key(name, p.name);
        frame.emplace(key, teacher.weights.at(key));
      }
    man.frame_file = "frame.pt";
    man.frame_checksum = write_tensor_file(dir + "/frame.pt", frame);
    for (const auto& f : fams) {
      BlockRecord b;
      b.id = f.spec.id;
      b.entry = f.spec.entry;
      b.exit = f.spec.exit;
      b.nodes = f.spec.nodes;
      b.entry_shape = shapes[teacher.graph.index(f.spec.entry)];
      b.exit_shape = shapes[teacher.graph.index(f.spec.exit)];
      for (size_t j = 0; j < f.descendants.size(); ++j) {
        DescendantRecord d;
        d.sparsity = f.sparsities[j];
        d.graph = f.descendants[j].graph;
        auto st = graph_stats(d.graph);
        d.profile.params = st.params;
        d.profile.macs = st.macs;
        d.profile.bytes = st.bytes;
        b.descendants.push_back(std::move(d));
      }
      man.blocks.push_back(std::move(b));
    }
    write_descendants(dir, man, fams);
    man.stages["descendants"] = {{"seconds", since(t0)}};
    write_manifest(dir, man);
    res.ran.push_back("descendants");
    spdlog::info("build: {} blocks x {} descendants written to {}", fams.size(), o.sparsities.size(), dir);
  }

  // ---- stage 2: retraining ----
  if (man.stages.contains("retrain")) {
    res.skipped.push_back("retrain");
  } else {
    auto t0 = Clock::now();
    RetrainOptions ro = o.retrain;
    ro.state_dir = dir + "/retrain_state";
    auto r = retrain_descendants(teacher, fams, data.train, data.val, ro);
    if (!r.finished) {
      spdlog::info("build: stopped after retraining epoch {} of {}; rerun to continue", r.epochs_done, ro.epochs);
      return res;
    }
    write_descendants(dir, man, fams);
    for (size_t i = 0; i < fams.size(); ++i)
      for (size_t j = 0; j < fams[i].descendants.size(); ++j) {
        man.blocks[i].descendants[j].profile.mse_pruned = r.stats[i][j].mse_pruned;
        man.blocks[i].descendants[j].profile.mse_retrained = r.stats[i][j].mse_retrained;
      }
    man.stages["retrain"] = {{"seconds_this_run", since(t0)}, {"epochs", ro.epochs},
                             {"epoch_seconds", r.epoch_seconds}, {"resumed_after_epoch", r.first_epoch},
                             {"train_images", ro.train_images > 0 ? ro.train_images : data.train.size()},
                             {"batch_size", ro.batch_size}, {"lr", ro.lr}};
    write_manifest(dir, man);
    fs::remove_all(ro.state_dir);
    res.ran.push_back("retrain");
  }

  // ---- stage 3: profiling ----
  if (man.stages.contains("profile")) {
    res.skipped.push_back("profile");
  } else {
    auto t0 = Clock::now();
    // Latency as served: each descendant alone, and the frame as the whole teacher minus its
    // original blocks (so per-call overheads of the frame are counted once).
    double blocks_ms = 0;
    for (size_t i = 0; i < fams.size(); ++i)
      for (size_t j = 0; j < fams[i].descendants.size(); ++j) {
        double ms = measure_latency_ms(fams[i].descendants[j], man.blocks[i].entry_shape, o.latency);
        man.blocks[i].descendants[j].profile.latency_ms = ms;
        man.blocks[i].descendants[j].profile.latency_alone_ms = ms;
        if (j == 0) blocks_ms += ms;
      }
    double teacher_ms = measure_latency_ms(teacher, man.input_shape, o.latency);
    Split val = data.val.head(o.drop_images);
    int last = static_cast<int>(o.sparsities.size()) - 1;
    // Contexts: all-original and uniform middle sparsity. The all-highest context is optional:
    // measured on resnet20, drops inside it are inflated (errors compound in a damaged model).
    std::vector<int> contexts{0};
    if (last >= 2) contexts.push_back(last / 2);
    if (o.high_context && last >= 1) contexts.push_back(last);
    auto drops = measure_drops(teacher, fams, val, contexts);
    double teacher_val = drops.context_accuracy.at(0);
    // Summed drops still misjudge compositions by a roughly constant factor; fit it on random
    // compositions of the validation split (never the test set the check below uses).
    double scale = calibrate_drop_scale(teacher, fams, drops.drop, teacher_val, val,
                                        o.calibration_compositions, o.seed + 1000);
    for (size_t i = 0; i < fams.size(); ++i)
      for (size_t j = 0; j < fams[i].descendants.size(); ++j) {
        auto& p = man.blocks[i].descendants[j].profile;
        // A drop is a fraction of the images: scaled past 1 it would be no accuracy at all (and
        // the loader refuses it).
        drops.drop[i][j] = std::min(1.0, drops.drop[i][j] * scale);
        p.acc_drop = p.acc_drop_profiled = drops.drop[i][j];
        p.acc_drop_raw = drops.raw[i][j];
        p.acc_drop_se = drops.se[i][j];
      }
    spdlog::info("profile: drop scale {:.3f}; checking the additive estimate on {} random compositions ({} test images)",
                 scale, o.check_compositions, test.size());
    double teacher_test = correctness(teacher, test).accuracy;
    auto checks = check_additive_estimate(teacher, fams, drops.drop, teacher_test, test,
                                          o.check_compositions, o.seed);
    json comps = json::array();
    double sum_err = 0, max_err = 0;
    for (const auto& c : checks) {
      double err = std::abs(c.estimated - c.measured);
      sum_err += err;
      max_err = std::max(max_err, err);
      comps.push_back({{"choice", c.choice}, {"estimated", c.estimated}, {"measured", c.measured}});
    }
    man.profile = {{"machine", machine_info()},
                   {"latency", {{"batch", o.latency.batch}, {"repeats", o.latency.repeats},
                                {"teacher_ms", teacher_ms}, {"frame_ms", std::max(0.0, teacher_ms - blocks_ms)}}},
                   {"teacher_val_accuracy", teacher_val},
                   {"teacher_test_accuracy", teacher_test},
                   {"drop_images", val.size()},
                   {"contexts", contexts},
                   {"drop_scale", scale},
                   {"calibration_compositions", o.calibration_compositions},
                   {"context_val_accuracy", drops.context_accuracy},
                   {"estimate_check", {{"split", "test"}, {"images", test.size()},
                                       {"compositions", comps},
                                       {"mean_abs_error", checks.empty() ? 0.0 : sum_err / checks.size()},
                                       {"max_abs_error", max_err}}}};
    man.stages["profile"] = {{"seconds", since(t0)}};
    write_manifest(dir, man);
    res.ran.push_back("profile");
  }

  // ---- stage 3b: latency as served (latency_fit.h) ----
  if (man.stages.contains("latency")) {
    res.skipped.push_back("latency");
  } else if (o.latency_compositions > 0) {
    auto t0 = Clock::now();
    std::vector<int> per;
    std::vector<std::vector<double>> alone;
    for (const auto& b : man.blocks) {
      per.push_back(static_cast<int>(b.descendants.size()));
      alone.emplace_back();
      for (const auto& d : b.descendants) alone.back().push_back(d.profile.latency_alone_ms);
    }
    int unknowns = 0;
    for (int n : per) unknowns += n - 1;
    const int count = std::min(o.latency_compositions, std::max(24, 3 * unknowns));
    auto choices = latency_compositions(per, count, o.seed + 2000);
    // The profiled teacher, as the estimate has it: frame plus the original blocks.
    double teacher_ms = frame_latency_ms(man, manifest_path);
    for (const auto& a : alone) teacher_ms += a[0];
    const int rounds = std::max(3, o.latency_rounds);
    spdlog::info("build: timing {} compositions against the teacher ({} rounds each)", choices.size(), rounds);
    auto obs = time_savings(teacher, fams, choices, o.latency, rounds, teacher_ms);
    // Every fifth composition held out: the fit is judged on compositions it did not see, then
    // refitted on all of them.
    std::vector<LatencyObservation> fit_on, held_out;
    for (size_t c = 0; c < obs.size(); ++c) (c % 5 == 4 ? held_out : fit_on).push_back(obs[c]);
    auto before = latency_fit_error(alone, held_out);
    auto after = latency_fit_error(fit_block_latencies(alone, fit_on), held_out);
    auto fitted = fit_block_latencies(alone, obs);
    for (size_t i = 0; i < man.blocks.size(); ++i)
      for (size_t j = 0; j < man.blocks[i].descendants.size(); ++j)
        man.blocks[i].descendants[j].profile.latency_ms = fitted[i][j];
    spdlog::info("build: latency of held-out compositions (saving against the teacher): alone-timed blocks "
                 "{:.3f} ms mean error ({:.3f} max), fitted {:.3f} ({:.3f})",
                 before.mean_abs_ms, before.max_abs_ms, after.mean_abs_ms, after.max_abs_ms);
    man.stages["latency"] = {
        {"seconds", since(t0)},
        {"compositions", obs.size()},
        {"rounds", rounds},
        {"held_out", {{"count", before.count},
                      {"alone_mean_abs_ms", before.mean_abs_ms}, {"alone_max_abs_ms", before.max_abs_ms},
                      {"fitted_mean_abs_ms", after.mean_abs_ms}, {"fitted_max_abs_ms", after.max_abs_ms}}}};
    // The sweep's picks depend on the latencies: one made before this stage is made again.
    if (man.stages.contains("sweep")) {
      spdlog::info("build: the accuracy sweep was made with the alone-timed latencies; it runs again");
      man.stages.erase("sweep");
    }
    write_manifest(dir, man);
    res.ran.push_back("latency");
  }

  // ---- stage 4: accuracy sweep (calibrate.h) ----
  if (man.stages.contains("sweep")) {
    res.skipped.push_back("sweep");
  } else if (o.accuracy_sweep) {
    CalibrateOptions co;
    co.sweep = o.sweep;
    auto r = calibrate_repository(dir, data.val, test, co, [](const std::string& s) { spdlog::info("build: {}", s); });
    spdlog::info("build: accuracy sweep: {} compositions, estimate error on the picks (test) {:.2f} -> {:.2f} points "
                 "mean, {:.2f} -> {:.2f} max",
                 r.measured_val, 100 * r.test_before.mean_abs, 100 * r.test_after.mean_abs,
                 100 * r.test_before.max_abs, 100 * r.test_after.max_abs);
    res.ran.push_back("sweep");
  }
  res.complete = true;
  return res;
}

}  // namespace legodnn
