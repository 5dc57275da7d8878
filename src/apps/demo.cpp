#include "apps/demo.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include "legodnn/baseline/model_grained.h"
#include "legodnn/data/fashion_mnist.h"
#include "legodnn/graph/serialize.h"
#include "legodnn/pipeline/build.h"
#include "legodnn/repository/repository.h"
#include "legodnn/runtime/from_repository.h"
#include "legodnn/scenario/report.h"
#include "legodnn/scenario/runner.h"
#include "legodnn/train/trainer.h"
#include "legodnn/util/error.h"
#include "legodnn/util/fs.h"

namespace legodnn {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const char* const kTeachers[] = {"resnet20", "vgg11_bn", "mobilenetv2"};

// Quick settings: the whole demo (three repositories and baselines) in minutes on 2 cores. The
// block descendants and the whole-model variants get the same training budget.
// 0.8 is left out: with this little retraining its descendants lose too much accuracy to be chosen.
const std::vector<double> kSparsities = {0.0, 0.2, 0.4, 0.6};
constexpr int kEpochs = 1;
constexpr int64_t kTrainImages = 3000;

BuildOptions quick_build(const std::string& name) {
  BuildOptions b;
  b.model_name = name;
  b.sparsities = kSparsities;
  b.retrain.epochs = kEpochs;
  b.retrain.train_images = kTrainImages;
  b.retrain.val_images = 500;
  b.retrain.log_every = 0;
  b.drop_images = 1000;
  b.calibration_compositions = 3;
  b.check_compositions = 5;
  // The estimate check and the sweep's report (never fitted on) on 2,000 test images: on all
  // 10,000 they were about two thirds of resnet20's sweep, the longest stage of the first run.
  b.test_images = 2000;
  b.latency.repeats = 15;
  return b;
}

ModelGrainedOptions quick_baseline(const std::string& name) {
  ModelGrainedOptions b;
  b.model_name = name;
  b.sparsities = kSparsities;
  b.epochs = kEpochs;
  b.train_images = kTrainImages;
  b.val_images = 0;
  b.eval_images = 2000;
  b.latency.repeats = 15;
  b.log_every = 0;
  return b;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// The default scenario, from the repositories' own profiles so that it fits the machine: every
// model at 30 requests per second with a deadline of 2.5x its profiled latency (serving next to
// other models is slower than profiling alone; the calibration measures by how much); then the
// memory budget squeezed (never below what the smallest blocks need) and relaxed, resnet20's deadline cut to 1.2x, a background thread of CPU
// load, and a model leaving and coming back.
json default_scenario(const std::vector<ModelChoiceSpec>& specs, const std::string& out, double duration) {
  double full_bytes = 0;
  for (const auto& s : specs) {
    full_bytes += s.frame_bytes;
    for (const auto& b : s.blocks) full_bytes += b[0].bytes;
  }
  auto full_ms = [](const ModelChoiceSpec& s) {
    double t = s.frame_ms;
    for (const auto& b : s.blocks) t += b[0].latency_ms;
    return t;
  };
  // Memory budgets between the least the three models can take (every block at its highest
  // sparsity) and all of them unpruned, so that every budget of the scenario can be met.
  double least_bytes = 0;
  for (const auto& s : specs) {
    least_bytes += s.frame_bytes;
    for (const auto& b : s.blocks) least_bytes += b.back().bytes;
  }
  auto mb = [&](double f) { return std::round((least_bytes + f * (full_bytes - least_bytes)) / 1e3) / 1e3; };
  auto ms = [&](size_t m, double f) { return std::round(full_ms(specs[m]) * f * 1e3) / 1e3; };
  json models = json::array();
  for (size_t m = 0; m < specs.size(); ++m)
    models.push_back({{"name", kTeachers[m]},
                      {"repo", fs::relative(fs::path(out) / "repos" / kTeachers[m], out).string()},
                      {"baseline", fs::relative(fs::path(out) / "baselines" / kTeachers[m], out).string()},
                      {"deadline_ms", ms(m, 2.5)},
                      {"rate_hz", 30}});
  const double d = duration;
  json events = {
      {{"at_s", 0.15 * d}, {"type", "memory"}, {"memory_mb", mb(0.5)}},
      {{"at_s", 0.3 * d}, {"type", "deadline"}, {"model", kTeachers[0]}, {"deadline_ms", ms(0, 1.2)}},
      {{"at_s", 0.45 * d}, {"type", "cpu_load"}, {"threads", 1}},
      {{"at_s", 0.6 * d}, {"type", "leave"}, {"model", kTeachers[2]}},
      {{"at_s", 0.7 * d}, {"type", "memory"}, {"memory_mb", mb(0.1)}},
      {{"at_s", 0.8 * d}, {"type", "arrive"}, {"model", kTeachers[2]}},
      {{"at_s", 0.85 * d}, {"type", "cpu_load"}, {"threads", 0}},
      {{"at_s", 0.9 * d}, {"type", "memory"}, {"memory_mb", mb(0.8)}}};
  return {{"name", "default"}, {"duration_s", d}, {"step_s", 0.5}, {"memory_mb", mb(1.0)}, {"objective", "sum"},
          {"window", 300}, {"models", models}, {"events", events}};
}

}  // namespace

void run_demo(const DemoOptions& o) {
  at::set_num_threads(o.threads);
  FashionMnistOptions fo;
  if (!o.data.empty()) fo.root = o.data;
  Split test = load_fashion_mnist_test(fo);
  std::printf("== 1. Shipped teachers on the Fashion-MNIST test set (%lld images)\n", (long long)test.size());
  std::vector<Model> teachers;
  for (const char* name : kTeachers) {
    json meta;
    teachers.push_back(load_model(o.teachers + "/" + name, &meta));
    auto r = evaluate(teachers.back(), test);
    auto st = graph_stats(teachers.back().graph);
    std::printf("  %-12s params %8lld  MACs %10lld  test accuracy %.2f%%\n", name, (long long)st.params,
                (long long)st.macs, 100 * r.accuracy);
    std::fflush(stdout);
  }

  std::printf("\n== 2. Block repositories and model-grained baselines (quick settings: sparsities 0..0.6, "
              "%d epoch on %lld images per descendant; built once, then reused)\n",
              kEpochs, (long long)kTrainImages);
  std::fflush(stdout);
  std::unique_ptr<FashionMnist> data;  // loaded only when something must be built
  std::vector<ModelChoiceSpec> specs;
  for (size_t i = 0; i < teachers.size(); ++i) {
    const std::string name = kTeachers[i];
    const std::string repo = o.out + "/repos/" + name, base = o.out + "/baselines/" + name;
    auto need = [&](const std::string& dir, const char* file) { return !path_exists(dir + "/" + file); };
    bool repo_done = false;
    if (!need(repo, "manifest.json")) {
      const Repository opened = Repository::open(repo);
      const Manifest& man = opened.manifest();
      for (const auto& b : man.blocks) {
        std::vector<double> sp;
        for (const auto& d : b.descendants) sp.push_back(d.sparsity);
        if (sp != kSparsities)
          throw OptionError(repo + " was built with other sparsities than the demo's; remove it or give --out");
      }
      // A repository from before the latency stage gets it (and the sweep again) here.
      repo_done = man.stages.contains("profile") && man.stages.contains("latency") && man.stages.contains("sweep");
    }
    if (!repo_done || need(base, "baseline.json") ||
        ModelGrainedSet::open(base).variants() != static_cast<int>(kSparsities.size())) {
      if (!data) data = std::make_unique<FashionMnist>(load_fashion_mnist(fo));
    }
    auto t0 = std::chrono::steady_clock::now();
    if (!repo_done) {
      std::printf("  %s: building the block repository in %s ...\n", name.c_str(), repo.c_str());
      std::fflush(stdout);
      build_repository(teachers[i], *data, repo, quick_build(name));
      std::printf("  %s: block repository built in %.0f s\n", name.c_str(), seconds_since(t0));
    } else {
      std::printf("  %s: block repository %s (reused)\n", name.c_str(), repo.c_str());
    }
    t0 = std::chrono::steady_clock::now();
    if (need(base, "baseline.json") || ModelGrainedSet::open(base).variants() != static_cast<int>(kSparsities.size())) {
      std::printf("  %s: building the model-grained baseline in %s ...\n", name.c_str(), base.c_str());
      std::fflush(stdout);
      build_model_grained(teachers[i], *data, base, quick_baseline(name));
      std::printf("  %s: baseline built in %.0f s\n", name.c_str(), seconds_since(t0));
    } else {
      std::printf("  %s: model-grained baseline %s (reused)\n", name.c_str(), base.c_str());
    }
    std::fflush(stdout);
    specs.push_back(choice_spec(Repository::open(repo).manifest(), repo));
  }
  data.reset();

  std::printf("\n== 3. The default scenario, with LegoDNN and with the model-grained baseline\n");
  const std::string scenario_file = o.out + "/scenario.json";
  atomic_write_file(scenario_file, default_scenario(specs, o.out, o.duration_s).dump(2) + "\n");
  Scenario sc = load_scenario(scenario_file);
  std::printf("  scenario: %s (%.0f s per system; events:", scenario_file.c_str(), sc.duration_s);
  for (const auto& e : sc.events) std::printf(" [%.0f s] %s;", e.at_s, e.describe().c_str());
  std::printf(")\n");
  std::fflush(stdout);
  std::vector<RunSummary> runs;
  std::vector<std::pair<std::string, std::string>> csvs;
  const std::string run_dir = o.out + "/run";
  const std::vector<SystemKind> systems = {SystemKind::LegoDnn, SystemKind::ModelGrained};
  // Neither system pays the process's first-run costs (runner.h).
  std::printf("  warming up the process (2 s per system, not counted)\n");
  std::fflush(stdout);
  warm_up_process(sc, test, systems, RunOptions{}, 2.0);
  for (SystemKind k : systems) {
    RunOptions ro;
    ro.system = k;
    ro.csv = run_dir + "/" + system_name(k) + ".csv";
    std::printf("  running with %s ...\n", system_name(k));
    std::fflush(stdout);
    runs.push_back(run_scenario(sc, test, ro));
    csvs.push_back({system_name(k), ro.csv});
  }
  write_summary_json(runs, run_dir + "/summary.json");
  std::vector<std::string> names(std::begin(kTeachers), std::end(kTeachers));
  auto pngs = plot_runs(csvs, names, run_dir);
  std::printf("\n== 4. Comparison (one run on this machine)\n%s", summary_table(runs, sc.memory_mb).c_str());
  std::printf("\n%s", phase_table(runs).c_str());
  for (const auto& [system, csv] : csvs) std::printf("CSV (%s): %s\n", system.c_str(), csv.c_str());
  std::printf("summary: %s/summary.json\n", run_dir.c_str());
  if (pngs.empty()) std::printf("plots: gnuplot not found or failed; script in %s/plots.gp\n", run_dir.c_str());
  for (const auto& p : pngs) std::printf("plot: %s\n", p.c_str());
}

}  // namespace legodnn
