// legodnn: the command-line program. Thin: parses options, calls the library, prints results.
#include <chrono>
#include <thread>

#include <ATen/Parallel.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "legodnn/baseline/model_grained.h"
#include "legodnn/blocks/prune.h"
#include "legodnn/data/fashion_mnist.h"
#include "legodnn/graph/serialize.h"
#include "legodnn/graph/weights.h"
#include "legodnn/models/zoo.h"
#include "legodnn/pipeline/build.h"
#include "legodnn/repository/repository.h"
#include "legodnn/runtime/from_repository.h"
#include "legodnn/runtime/optimizer.h"
#include "legodnn/runtime/solve.h"
#include "legodnn/scenario/demo.h"
#include "legodnn/scenario/report.h"
#include "legodnn/scenario/runner.h"
#include "legodnn/scenario/scenario.h"
#include "legodnn/train/trainer.h"
#include "legodnn/util/error.h"
#include "legodnn/util/format.h"
#include "legodnn/util/fs.h"

namespace {
using namespace legodnn;
using nlohmann::json;

struct Common {
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::string data = default_fashion_mnist_root();
};

void add_common(CLI::App* app, Common& c) {
  app->add_option("--threads", c.threads, "torch intra-op threads (default: number of cores)")
      ->check(CLI::PositiveNumber);
  app->add_option("--data", c.data, "Fashion-MNIST folder (IDX .gz files)");
}

void apply_threads(const Common& c) {
  at::set_num_threads(c.threads);
}

std::string join_args(int argc, char** argv) {
  std::string s = "legodnn";
  for (int i = 1; i < argc; ++i) s += std::string(" ") + argv[i];
  return s;
}

std::string shape_str(const Shape& s) { return shape_string(s); }  // util/format.h

// Comma-separated items; throws OptionError naming the option for an empty item.
std::vector<std::string> split_list(const std::string& text, const std::string& option) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t end = text.find(',', start);
    out.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (out.back().empty()) throw OptionError(option + ": empty item in '" + text + "'");
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}

// "a:b,c:d" -> pairs; throws OptionError naming the bad item.
std::vector<std::pair<std::string, std::string>> parse_block_pairs(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& item : split_list(text, "--blocks")) {
    size_t colon = item.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == item.size())
      throw OptionError("--blocks: '" + item + "' is not of the form first:last");
    out.emplace_back(item.substr(0, colon), item.substr(colon + 1));
  }
  return out;
}

// "0.2,0.8" -> {0.2, 0.8}; throws OptionError naming the bad item.
std::vector<double> parse_sparsities(const std::string& text, const std::string& option) {
  std::vector<double> out;
  for (const auto& item : split_list(text, option)) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
    }
    if (used != item.size()) throw OptionError(option + ": '" + item + "' is not a number");
    out.push_back(v);
  }
  return out;
}

void print_inspect(const Repository& repo, bool as_json, const std::string& csv_prefix) {
  const Manifest& man = repo.manifest();
  if (as_json) {
    std::printf("%s\n", manifest_to_json(man).dump(1).c_str());
  } else {
    std::printf("repository %s: model %s, input %s, %lld classes, %zu blocks\n", repo.dir().c_str(),
                man.model.c_str(), shape_str(man.input_shape).c_str(), (long long)man.classes, man.blocks.size());
    for (const auto& [stage, info] : man.stages.items()) std::printf("  stage %-12s %s\n", stage.c_str(), info.dump().c_str());
    const json& p = man.profile;
    if (!p.empty()) {
      std::printf("  teacher test accuracy %.2f%%, val %.2f%%; latency teacher %.3f ms, frame %.3f ms (batch %d)\n",
                  100 * p.value("teacher_test_accuracy", 0.0), 100 * p.value("teacher_val_accuracy", 0.0),
                  p["latency"].value("teacher_ms", 0.0), p["latency"].value("frame_ms", 0.0), p["latency"].value("batch", 1));
      const json& ec = p["estimate_check"];
      std::printf("  drops: contexts %s on %d validation images, scaled by %.3f (fitted on %d validation compositions)\n",
                  p.value("contexts", json::array()).dump().c_str(), p.value("drop_images", 0),
                  p.value("drop_scale", 1.0), p.value("calibration_compositions", 0));
      std::printf("  additive estimate on %zu random compositions (%s set): mean abs error %.2f points, max %.2f\n",
                  ec["compositions"].size(), ec.value("split", "?").c_str(), 100 * ec.value("mean_abs_error", 0.0),
                  100 * ec.value("max_abs_error", 0.0));
    }
    std::printf("\nblock  convs  entry          exit           first node .. exit node\n");
    for (const auto& b : man.blocks)
      std::printf("%5d  %5zu  %-13s  %-13s  %s .. %s\n", b.id,
                  (size_t)std::count_if(b.nodes.begin(), b.nodes.end(), [&](const std::string& n) { return man.teacher.node(n).op == Op::Conv2d; }),
                  shape_str(b.entry_shape).c_str(), shape_str(b.exit_shape).c_str(), b.nodes.front().c_str(), b.exit.c_str());
    std::printf("\nblock  sparsity   params      MACs   latency_ms  drop%%   raw%%    se%%   mse_pruned  mse_retrained\n");
    for (const auto& b : man.blocks)
      for (const auto& d : b.descendants) {
        const auto& q = d.profile;
        std::printf("%5d  %8.2f  %7lld  %9lld  %10.4f  %5.2f  %5.2f  %5.2f  %10.5f  %13.5f\n", b.id, d.sparsity,
                    (long long)q.params, (long long)q.macs, q.latency_ms, 100 * q.acc_drop, 100 * q.acc_drop_raw,
                    100 * q.acc_drop_se, q.mse_pruned, q.mse_retrained);
      }
  }
  if (!csv_prefix.empty()) {
    std::string blocks = "block,convs,entry,exit,entry_shape,exit_shape,first_node\n";
    for (const auto& b : man.blocks)
      blocks += std::to_string(b.id) + "," + std::to_string(std::count_if(b.nodes.begin(), b.nodes.end(), [&](const std::string& n) { return man.teacher.node(n).op == Op::Conv2d; })) +
                "," + b.entry + "," + b.exit + ",\"" + shape_str(b.entry_shape) + "\",\"" + shape_str(b.exit_shape) + "\"," + b.nodes.front() + "\n";
    std::string prof = "block,sparsity,params,macs,bytes,latency_ms,acc_drop,acc_drop_raw,acc_drop_se,mse_pruned,mse_retrained\n";
    for (const auto& b : man.blocks)
      for (const auto& d : b.descendants) {
        const auto& q = d.profile;
        prof += fmt::format("{},{},{},{},{},{},{},{},{},{},{}\n", b.id, d.sparsity, q.params, q.macs, q.bytes, q.latency_ms,
                            q.acc_drop, q.acc_drop_raw, q.acc_drop_se, q.mse_pruned, q.mse_retrained);
      }
    atomic_write_file(csv_prefix + "_blocks.csv", blocks);
    atomic_write_file(csv_prefix + "_profiles.csv", prof);
    std::printf("wrote %s_blocks.csv and %s_profiles.csv\n", csv_prefix.c_str(), csv_prefix.c_str());
  }
}

// The model a command works on: a trained checkpoint, or a zoo model with seeded random weights.
Model model_for(const std::string& checkpoint, const std::string& name, const ZooOptions& zoo, uint64_t seed) {
  if (!checkpoint.empty()) {
    json meta;
    Model m = load_model(checkpoint, &meta);
    if (!name.empty() && meta.value("model", name) != name)
      throw OptionError(checkpoint + ": holds model '" + meta.value("model", "") + "', not '" + name + "'");
    return m;
  }
  if (name.empty()) throw OptionError("give --model or --checkpoint");
  Model m;
  m.graph = build_zoo_model(name, zoo);
  m.weights = init_weights(m.graph, seed);
  return m;
}

// Loads a trained model folder; `expected` (when given) must match the model name it records.
Model load_teacher(const std::string& dir, const std::string& expected, std::string& name) {
  json meta;
  Model m = load_model(dir, &meta);
  name = meta.value("model", expected);
  if (!expected.empty() && name != expected)
    throw OptionError(dir + ": holds model '" + name + "', not '" + expected + "'");
  return m;
}

void print_stats(const std::string& name, const Graph& g) {
  auto st = graph_stats(g);
  std::printf("%-12s nodes %4zu  convs %3lld  params %9lld  MACs %11lld  bytes %10lld\n", name.c_str(),
              g.size(), (long long)st.convs, (long long)st.params, (long long)st.macs, (long long)st.bytes);
}

// Runs a scenario with one or both systems; writes CSVs, summary.json and plots to `out`.
void run_scenarios(const Scenario& sc, const Split& test, const std::string& which, const std::string& out,
                   uint64_t seed, double margin) {
  std::vector<SystemKind> systems;
  if (which != "baseline") systems.push_back(SystemKind::LegoDnn);
  if (which != "legodnn") systems.push_back(SystemKind::ModelGrained);
  if (which != "legodnn")
    for (const auto& m : sc.models)
      if (m.baseline.empty())
        throw OptionError("scenario model '" + m.name + "' has no \"baseline\" folder; the model-grained run needs one");
  std::vector<RunSummary> runs;
  std::vector<std::pair<std::string, std::string>> csvs;
  for (SystemKind k : systems) {
    RunOptions o;
    o.system = k;
    o.seed = seed;
    o.deadline_margin = margin;
    o.csv = out + "/" + system_name(k) + ".csv";
    std::printf("Running scenario '%s' (%.0f s) with %s...\n", sc.name.c_str(), sc.duration_s, system_name(k));
    std::fflush(stdout);
    runs.push_back(run_scenario(sc, test, o));
    csvs.push_back({system_name(k), o.csv});
  }
  write_summary_json(runs, out + "/summary.json");
  std::vector<std::string> names;
  for (const auto& m : sc.models) names.push_back(m.name);
  auto pngs = plot_runs(csvs, names, out);
  std::printf("\nScenario '%s':\n%s", sc.name.c_str(), summary_table(runs, sc.memory_mb).c_str());
  for (const auto& [system, csv] : csvs) std::printf("CSV (%s): %s\n", system.c_str(), csv.c_str());
  std::printf("summary: %s/summary.json\n", out.c_str());
  if (pngs.empty()) std::printf("plots: gnuplot not found or failed; script in %s/plots.gp\n", out.c_str());
  for (const auto& p : pngs) std::printf("plot: %s\n", p.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"LegoDNN-C++: block-grained scaling of DNNs for mobile vision"};
  app.require_subcommand(1);
  Common common;

  // ---- train ----
  auto* train = app.add_subcommand("train", "train a zoo model on Fashion-MNIST (55k train / 5k val)");
  std::string model_name, out_dir;
  ZooOptions zoo;
  TrainOptions topt;
  int64_t subset = 0;
  train->add_option("--model", model_name, "zoo model name")->required();
  train->add_option("--width", zoo.width, "channel width multiplier");
  train->add_option("--stem-stride", zoo.stem_stride, "stride of the first conv (1 or 2)");
  train->add_option("--epochs", topt.epochs, "epochs");
  train->add_option("--batch-size", topt.batch_size, "batch size");
  train->add_option("--lr", topt.lr, "peak learning rate (warm-up then cosine)");
  train->add_option("--weight-decay", topt.weight_decay, "weight decay");
  train->add_option("--momentum", topt.momentum, "SGD momentum (Nesterov)");
  train->add_option("--warmup", topt.warmup_epochs, "warm-up epochs");
  train->add_option("--label-smoothing", topt.label_smoothing, "label smoothing");
  train->add_option("--crop-padding", topt.crop_padding, "random-crop padding, 0 = off");
  train->add_flag("!--no-flip", topt.flip, "no random horizontal flips");
  train->add_option("--seed", topt.seed, "seed of initialization, shuffling and augmentation");
  train->add_option("--subset", subset, "train on this many images only (0 = all 55,000)");
  train->add_option("--out", out_dir, "output model folder (checkpointed after every epoch)")->required();
  train->add_flag("--resume", topt.resume, "continue an interrupted run from --out");
  add_common(train, common);

  // ---- eval ----
  auto* eval = app.add_subcommand("eval", "test accuracy of a trained model on the 10k test set");
  std::string ckpt, eval_model;
  int64_t eval_subset = 0;
  std::string eval_repo, eval_select;
  auto* eval_ckpt_opt = eval->add_option("--checkpoint", ckpt, "model folder (model.json + weights.pt)");
  eval->add_option("--repo", eval_repo, "block repository (with --select)")->excludes(eval_ckpt_opt);
  eval->add_option("--select", eval_select, "sparsity per block, e.g. 0.2,0.8,... (one value: every block)");
  eval->add_option("--model", eval_model, "expected zoo model name (checked against the checkpoint)");
  eval->add_option("--subset", eval_subset, "first N test images only (0 = all)");
  std::vector<double> eval_uniform;
  eval->add_option("--uniform", eval_uniform,
                   "also evaluate compositions with every block at these sparsities (pruned, not retrained)")
      ->delimiter(',');
  add_common(eval, common);

  // ---- info ----
  auto* info = app.add_subcommand("info", "size and cost of zoo models");
  std::vector<std::string> info_models = zoo_names();
  ZooOptions info_zoo;
  info->add_option("--model", info_models, "zoo model names (default: all)");
  info->add_option("--width", info_zoo.width, "channel width multiplier");
  info->add_option("--stem-stride", info_zoo.stem_stride, "stride of the first conv (1 or 2)");
  info->add_option("--input-size", info_zoo.input_size, "input side");
  info->add_option("--in-channels", info_zoo.in_channels, "input channels");
  info->add_option("--classes", info_zoo.num_classes, "classes");

  // ---- build ----
  auto* build = app.add_subcommand("build", "build the block repository of a trained model");
  std::string build_ckpt, build_model, build_out, build_pairs;
  BuildOptions bopt;
  build->add_option("--checkpoint", build_ckpt, "trained model folder")->required();
  build->add_option("--model", build_model, "model name (checked against the checkpoint)");
  build->add_option("--out", build_out, "repository folder")->required();
  auto* bmc = build->add_option("--max-convs", bopt.detect.max_convs, "at most K convs per block");
  build->add_option("--max-ratio", bopt.detect.max_ratio, "max convs = max(floor(R * total convs), 2)")->excludes(bmc);
  build->add_option("--blocks", build_pairs, "explicit blocks first:last,...");
  build->add_option("--sparsities", bopt.sparsities, "descendant sparsities (first must be 0)")->delimiter(',');
  build->add_option("--epochs", bopt.retrain.epochs, "retraining epochs");
  build->add_option("--train-images", bopt.retrain.train_images, "retraining images (0 = all 55,000)");
  build->add_option("--val-images", bopt.retrain.val_images, "held-out images that pick the best epoch");
  build->add_option("--batch-size", bopt.retrain.batch_size, "retraining batch size");
  build->add_option("--lr", bopt.retrain.lr, "retraining learning rate (Adam)");
  build->add_option("--drop-images", bopt.drop_images, "validation images for accuracy drops");
  build->add_option("--check", bopt.check_compositions, "random compositions checking the additive estimate");
  build->add_option("--calibrate", bopt.calibration_compositions,
                    "random validation compositions that fit the drop scale (0 = none)");
  build->add_flag("--high-context", bopt.high_context, "also measure drops in the all-highest-sparsity context");
  build->add_option("--repeats", bopt.latency.repeats, "latency repeats (median)");
  build->add_option("--stop-after-epoch", bopt.retrain.stop_after_epoch, "stop retraining after this epoch");
  build->add_option("--seed", bopt.seed, "seed");
  add_common(build, common);

  // ---- baseline ----
  auto* baseline = app.add_subcommand(
      "baseline", "build the model-grained baseline: whole uniformly pruned models, fine-tuned end to end");
  std::string base_teacher, base_model, base_out, base_pairs;
  ModelGrainedOptions gopt;
  baseline->add_option("--teacher", base_teacher, "trained model folder")->required();
  baseline->add_option("--model", base_model, "model name (checked against the teacher)");
  baseline->add_option("--out", base_out, "output folder (baseline.json + one model folder per variant)")->required();
  auto* gmc = baseline->add_option("--max-convs", gopt.detect.max_convs, "at most K convs per block");
  baseline->add_option("--max-ratio", gopt.detect.max_ratio, "max convs = max(floor(R * total convs), 2)")->excludes(gmc);
  baseline->add_option("--blocks", base_pairs, "explicit blocks first:last,...");
  baseline->add_option("--sparsities", gopt.sparsities, "uniform sparsities of the variants (first must be 0)")
      ->delimiter(',');
  baseline->add_option("--epochs", gopt.epochs, "fine-tuning epochs per variant (default: block retraining's)");
  baseline->add_option("--train-images", gopt.train_images,
                       "fine-tuning images, seeded subset (default: block retraining's; 0 = all 55,000)");
  baseline->add_option("--val-images", gopt.val_images, "validation images logged after each epoch (0 = none)");
  baseline->add_option("--eval-images", gopt.eval_images, "test images for the accuracies (0 = all 10,000)");
  baseline->add_option("--batch-size", gopt.batch_size, "fine-tuning batch size");
  baseline->add_option("--lr", gopt.lr, "fine-tuning learning rate (SGD, cosine to 0)");
  baseline->add_option("--repeats", gopt.latency.repeats, "latency repeats (median)");
  baseline->add_option("--stop-after-epoch", gopt.stop_after_epoch, "stop fine-tuning after this epoch");
  baseline->add_option("--seed", gopt.seed, "seed");
  add_common(baseline, common);

  // ---- inspect ----
  auto* inspect = app.add_subcommand("inspect", "print a block repository's block and profile tables");
  std::string inspect_dir, inspect_csv;
  bool inspect_json = false;
  inspect->add_option("dir", inspect_dir, "repository folder")->required();
  inspect->add_flag("--json", inspect_json, "print the manifest as JSON");
  inspect->add_option("--csv", inspect_csv, "also write PREFIX_blocks.csv and PREFIX_profiles.csv");

  // ---- select ----
  auto* select = app.add_subcommand("select", "choose every block's descendant within budgets (scaling optimizer)");
  std::vector<std::string> select_repos;
  std::string select_deadlines, select_objective = "sum", select_solver = "builtin";
  double select_memory_mb = -1;
  bool select_json = false;
  select->add_option("--repo", select_repos, "profiled block repository (repeat for several models)")->required();
  select->add_option("--deadline-ms", select_deadlines, "latency deadline per model, comma-separated (one value: all)");
  select->add_option("--memory-mb", select_memory_mb, "memory budget shared by all models (MB of tensors)");
  select->add_option("--objective", select_objective, "sum (of accuracies) or maxmin")
      ->check(CLI::IsMember({"sum", "maxmin"}));
  select->add_option("--solver", select_solver, "builtin (exact, fast) or cbc (the same problem as a MILP, for cross-checks)")
      ->check(CLI::IsMember({"builtin", "cbc"}));
  select->add_flag("--json", select_json, "print one JSON document");

  // ---- blocks ----
  auto* blocks_cmd = app.add_subcommand("blocks", "detect blocks and list their descendants");
  std::string blocks_model, blocks_ckpt, blocks_pairs;
  ZooOptions blocks_zoo;
  DetectOptions detect;
  std::vector<double> sparsities = default_sparsities();
  bool blocks_json = false;
  blocks_cmd->add_option("--model", blocks_model, "zoo model name (random weights unless --checkpoint)");
  blocks_cmd->add_option("--checkpoint", blocks_ckpt, "trained model folder");
  blocks_cmd->add_option("--width", blocks_zoo.width, "width multiplier of the zoo model");
  blocks_cmd->add_option("--stem-stride", blocks_zoo.stem_stride, "stride of the zoo model's first conv");
  auto* mc = blocks_cmd->add_option("--max-convs", detect.max_convs, "at most K convs per block (default 3)");
  blocks_cmd->add_option("--max-ratio", detect.max_ratio, "max convs = max(floor(R * total convs), 2)")
      ->excludes(mc);
  blocks_cmd->add_flag("--cross-stages", detect.cross_stages, "let blocks span resolution changes");
  blocks_cmd->add_option("--blocks", blocks_pairs, "explicit blocks first:last,first:last,...");
  blocks_cmd->add_option("--sparsities", sparsities, "descendant sparsities")->delimiter(',');
  blocks_cmd->add_flag("--json", blocks_json, "print one JSON document");

  // ---- run ----
  auto* run = app.add_subcommand("run", "run a multi-DNN scenario (LegoDNN and/or the model-grained baseline)");
  std::string run_scenario_file, run_system = "legodnn", run_out;
  uint64_t run_seed = 0;
  run->add_option("--scenario", run_scenario_file, "scenario JSON file")->required();
  run->add_option("--system", run_system, "legodnn, baseline or both")->check(CLI::IsMember({"legodnn", "baseline", "both"}));
  run->add_option("--out", run_out, "output folder for the CSV, summary and plots (default out/run/<scenario name>)");
  run->add_option("--seed", run_seed, "where each model starts in the test set");
  double run_margin = RunOptions{}.deadline_margin;
  run->add_option("--deadline-margin", run_margin, "plan for deadline * (1 - margin) (default 0.15)");
  add_common(run, common);

  // ---- demo ----
  auto* demo = app.add_subcommand("demo", "the main job: teachers, repositories and baselines, the default scenario compared");
  DemoOptions demo_opt;
  demo->add_option("--teachers", demo_opt.teachers, "folder of shipped teachers");
  demo->add_option("--out", demo_opt.out, "output folder (repositories and baselines are reused once complete)");
  demo->add_option("--duration", demo_opt.duration_s, "seconds of the default scenario, per system");
  add_common(demo, common);

  // Progress lines must show up promptly even when stdout is a file or a pipe.
  spdlog::flush_on(spdlog::level::info);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    if (*train) {
      apply_threads(common);
      FashionMnistOptions fo;
      fo.root = common.data;
      auto data = load_fashion_mnist(fo);
      Split tr = subset > 0 ? data.train.subset(subset, topt.seed) : data.train;
      Model m;
      m.graph = build_zoo_model(model_name, zoo);
      m.weights = init_weights(m.graph, topt.seed);
      print_stats(model_name, m.graph);
      topt.checkpoint_dir = out_dir;
      auto r = train_model(m, tr, data.val, topt);
      if (r.val.n == 0) r.val = evaluate(m, data.val);  // a resumed run that had nothing left to do
      auto test = evaluate(m, data.test);
      json meta = {{"model", model_name}, {"width", zoo.width}, {"stem_stride", zoo.stem_stride}, {"seed", topt.seed},
                   {"command", join_args(argc, argv)}, {"threads", common.threads},
                   {"train_images", tr.size()}, {"epochs", topt.epochs},
                   {"val_accuracy", r.val.accuracy}, {"test_accuracy", test.accuracy},
                   {"train_seconds_last_call", r.seconds}};
      save_model(out_dir, m, meta);
      std::printf("%s: test accuracy %.2f%% (%lld images), val %.2f%%, %.0f s; saved to %s\n",
                  model_name.c_str(), 100 * test.accuracy, (long long)test.n, 100 * r.val.accuracy,
                  r.seconds, out_dir.c_str());
    } else if (*eval && !eval_repo.empty()) {
      apply_threads(common);
      Repository repo = Repository::open(eval_repo);
      const Manifest& man = repo.manifest();
      std::vector<double> sel = parse_sparsities(eval_select, "--select");
      if (sel.size() == 1) sel.assign(man.blocks.size(), sel[0]);
      if (sel.size() != man.blocks.size())
        throw OptionError("--select: " + std::to_string(sel.size()) + " sparsities for " +
                          std::to_string(man.blocks.size()) + " blocks");
      std::vector<int> choice;
      double est = man.profile.value("teacher_test_accuracy", 0.0);
      for (size_t i = 0; i < sel.size(); ++i) {
        const auto& ds = man.blocks[i].descendants;
        int found = -1;
        for (size_t j = 0; j < ds.size(); ++j)
          if (std::abs(ds[j].sparsity - sel[i]) < 1e-9) found = static_cast<int>(j);
        if (found < 0) throw OptionError("--select: block " + std::to_string(i) + " has no descendant of sparsity " + std::to_string(sel[i]));
        choice.push_back(found);
        est -= ds[found].profile.acc_drop;
      }
      FashionMnistOptions fo;
      fo.root = common.data;
      Split test = load_fashion_mnist_test(fo);
      if (eval_subset > 0) test = test.head(eval_subset);
      Model m = repo.compose(choice);
      auto r = evaluate(m, test);
      auto st = graph_stats(m.graph);
      std::printf("%s [%s]: test accuracy %.2f%% on %lld images; additive estimate %.2f%%; params %lld, MACs %lld\n",
                  eval_repo.c_str(), eval_select.c_str(), 100 * r.accuracy, (long long)r.n, 100 * est,
                  (long long)st.params, (long long)st.macs);
    } else if (*eval) {
      if (ckpt.empty()) throw OptionError("eval needs --checkpoint DIR or --repo DIR --select ...");
      apply_threads(common);
      json meta;
      Model m = load_model(ckpt, &meta);
      if (!eval_model.empty() && meta.value("model", eval_model) != eval_model)
        throw OptionError(ckpt + ": holds model '" + meta.value("model", "") + "', not '" + eval_model + "'");
      FashionMnistOptions fo;
      fo.root = common.data;
      Split test = load_fashion_mnist_test(fo);
      if (eval_subset > 0) test = test.head(eval_subset);
      auto r = evaluate(m, test);
      auto st = graph_stats(m.graph);
      std::printf("%s: test accuracy %.2f%% on %lld images (loss %.4f), params %lld, MACs %lld\n", ckpt.c_str(),
                  100 * r.accuracy, (long long)r.n, r.loss, (long long)st.params, (long long)st.macs);
      if (!eval_uniform.empty()) {
        auto specs = detect_blocks(m.graph);
        auto fams = make_descendants(m, specs, eval_uniform);
        for (size_t k = 0; k < eval_uniform.size(); ++k) {
          Model c = compose(m, fams, std::vector<int>(fams.size(), static_cast<int>(k)));
          auto rc = evaluate(c, test);
          auto sc = graph_stats(c.graph);
          std::printf("  all blocks at sparsity %.2f (%zu blocks): test accuracy %.2f%%, params %lld (%.1f%%), "
                      "MACs %lld (%.1f%%)\n", eval_uniform[k], fams.size(), 100 * rc.accuracy,
                      (long long)sc.params, 100.0 * sc.params / st.params, (long long)sc.macs,
                      100.0 * sc.macs / st.macs);
        }
      }
    } else if (*info) {
      for (const auto& name : info_models) print_stats(name, build_zoo_model(name, info_zoo));
    } else if (*build) {
      apply_threads(common);
      std::string name;
      Model m = load_teacher(build_ckpt, build_model, name);
      bopt.model_name = name;
      if (!build_pairs.empty()) bopt.explicit_blocks = parse_block_pairs(build_pairs);
      FashionMnistOptions fo;
      fo.root = common.data;
      auto data = load_fashion_mnist(fo);
      auto r = build_repository(m, data, build_out, bopt);
      for (const auto& s : r.skipped) std::printf("stage %s: already complete, skipped\n", s.c_str());
      for (const auto& s : r.ran) std::printf("stage %s: done\n", s.c_str());
      std::printf("%s: %s\n", build_out.c_str(), r.complete ? "complete" : "incomplete (rerun to continue)");
      if (!r.complete) return 3;
    } else if (*baseline) {
      apply_threads(common);
      std::string name;
      Model m = load_teacher(base_teacher, base_model, name);
      gopt.model_name = name;
      if (!base_pairs.empty()) gopt.explicit_blocks = parse_block_pairs(base_pairs);
      FashionMnistOptions fo;
      fo.root = common.data;
      auto data = load_fashion_mnist(fo);
      auto r = build_model_grained(m, data, base_out, gopt);
      for (double s : r.skipped) std::printf("variant sparsity %g: already complete, skipped\n", s);
      for (double s : r.ran) std::printf("variant sparsity %g: done\n", s);
      if (!r.complete) {
        std::printf("%s: incomplete (rerun to continue)\n", base_out.c_str());
        return 3;
      }
      ModelGrainedSet set = ModelGrainedSet::open(base_out);
      const auto& man = set.manifest();
      std::printf("%s: complete; %s, teacher test accuracy %.2f%% on %lld images\n", base_out.c_str(), man.model.c_str(),
                  100 * man.teacher_accuracy, (long long)man.eval_images);
      std::printf("sparsity  accuracy%%  pruned%%   drop%%  latency_ms     bytes      params        MACs  train_s\n");
      for (const auto& v : man.variants)
        std::printf("%8.2f  %9.2f  %7.2f  %6.2f  %10.4f  %8lld  %10lld  %10lld  %7.0f\n", v.sparsity, 100 * v.accuracy,
                    100 * v.pruned_accuracy, 100 * (man.teacher_accuracy - v.accuracy), v.latency_ms,
                    (long long)v.bytes, (long long)v.params, (long long)v.macs, v.train_seconds);
    } else if (*inspect) {
      Repository repo = Repository::open(inspect_dir);
      print_inspect(repo, inspect_json, inspect_csv);
    } else if (*select) {
      std::vector<ModelChoiceSpec> specs;
      std::vector<Repository> repos;
      for (const auto& dir : select_repos) {
        repos.push_back(Repository::open(dir));
        specs.push_back(choice_spec(repos.back().manifest(), dir + "/manifest.json"));
      }
      if (!select_deadlines.empty()) {
        auto d = parse_sparsities(select_deadlines, "--deadline-ms");
        if (d.size() == 1) d.assign(specs.size(), d[0]);
        if (d.size() != specs.size())
          throw OptionError("--deadline-ms: " + std::to_string(d.size()) + " deadlines for " +
                            std::to_string(specs.size()) + " models");
        for (size_t m = 0; m < specs.size(); ++m) specs[m].deadline_ms = d[m];
      }
      SharedBudget budget;
      if (select_memory_mb >= 0) budget.memory_bytes = select_memory_mb * 1e6;
      auto t0 = std::chrono::steady_clock::now();
      const Solver solver = parse_solver(select_solver);
      auto dec = solve(specs, budget, select_objective == "sum" ? Objective::Sum : Objective::MaxMin, solver);
      double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
      json doc = {{"feasible", dec.feasible}, {"objective", dec.objective}, {"solver", solver_name(solver)}, {"solve_us", us},
                  {"memory_mb", dec.memory_bytes / 1e6}, {"memory_excess_mb", dec.memory_excess_bytes / 1e6},
                  {"models", json::array()}};
      for (size_t m = 0; m < specs.size(); ++m) {
        std::vector<double> sp;
        for (size_t i = 0; i < dec.choice[m].size(); ++i)
          sp.push_back(repos[m].manifest().blocks[i].descendants[dec.choice[m][i]].sparsity);
        doc["models"].push_back({{"repo", select_repos[m]}, {"model", specs[m].name}, {"sparsities", sp},
                                 {"accuracy", dec.accuracy[m]}, {"latency_ms", dec.latency_ms[m]},
                                 {"deadline_excess_ms", dec.deadline_excess_ms[m]}});
      }
      if (select_json) {
        std::printf("%s\n", doc.dump(1).c_str());
      } else {
        std::printf("%s; solved in %.0f us (%s); memory %.3f MB%s\n",
                    dec.feasible ? "feasible" : "INFEASIBLE: least-violating selection", us, solver_name(solver),
                    dec.memory_bytes / 1e6,
                    dec.memory_excess_bytes > 0 ? fmt::format(" (over budget by {:.3f} MB)", dec.memory_excess_bytes / 1e6).c_str() : "");
        for (const auto& jm : doc["models"])
          std::printf("  %-12s sparsities %s  est. accuracy %.2f%%  est. latency %.3f ms%s\n",
                      jm["model"].get<std::string>().c_str(), jm["sparsities"].dump().c_str(),
                      100 * jm["accuracy"].get<double>(), jm["latency_ms"].get<double>(),
                      jm["deadline_excess_ms"].get<double>() > 0
                          ? fmt::format(" (over deadline by {:.3f} ms)", jm["deadline_excess_ms"].get<double>()).c_str() : "");
      }
    } else if (*blocks_cmd) {
      Model m = model_for(blocks_ckpt, blocks_model, blocks_zoo, 0);
      auto specs = blocks_pairs.empty() ? detect_blocks(m.graph, detect)
                                        : explicit_blocks(m.graph, parse_block_pairs(blocks_pairs));
      auto fams = make_descendants(m, specs, sparsities);
      auto shapes = m.graph.infer_shapes();
      auto total = graph_stats(m.graph);
      json doc = {{"model", blocks_model.empty() ? blocks_ckpt : blocks_model},
                  {"params", total.params}, {"macs", total.macs}, {"blocks", json::array()},
                  {"frame", frame_nodes(m.graph, specs)}};
      for (const auto& f : fams) {
        auto st = graph_stats(f.original);
        json jb = {{"id", f.spec.id}, {"entry", f.spec.entry}, {"exit", f.spec.exit},
                   {"nodes", f.spec.nodes}, {"convs", f.spec.convs}, {"params", st.params},
                   {"macs", st.macs}, {"entry_shape", shapes[m.graph.index(f.spec.entry)]},
                   {"exit_shape", shapes[m.graph.index(f.spec.exit)]}, {"descendants", json::array()}};
        for (size_t k = 0; k < f.descendants.size(); ++k) {
          auto ds = graph_stats(f.descendants[k].graph);
          jb["descendants"].push_back({{"sparsity", f.sparsities[k]}, {"params", ds.params}, {"macs", ds.macs}});
        }
        doc["blocks"].push_back(jb);
      }
      if (blocks_json) {
        std::printf("%s\n", doc.dump(1).c_str());
      } else {
        std::printf("%s: %zu blocks, %lld params, %lld MACs; frame: %zu nodes\n", doc["model"].get<std::string>().c_str(),
                    fams.size(), (long long)total.params, (long long)total.macs, doc["frame"].size());
        for (const auto& jb : doc["blocks"]) {
          std::printf("block %d: %s .. %s (%zu nodes, %d convs) entry %s %s exit %s %s params %lld MACs %lld\n",
                      jb["id"].get<int>(), jb["nodes"].front().get<std::string>().c_str(),
                      jb["exit"].get<std::string>().c_str(), jb["nodes"].size(), jb["convs"].get<int>(),
                      jb["entry"].get<std::string>().c_str(), shape_str(jb["entry_shape"]).c_str(),
                      jb["exit"].get<std::string>().c_str(), shape_str(jb["exit_shape"]).c_str(),
                      (long long)jb["params"].get<int64_t>(), (long long)jb["macs"].get<int64_t>());
          for (const auto& d : jb["descendants"])
            std::printf("    sparsity %.2f: params %9lld  MACs %11lld\n", d["sparsity"].get<double>(),
                        (long long)d["params"].get<int64_t>(), (long long)d["macs"].get<int64_t>());
        }
      }
    } else if (*run) {
      // One torch thread per serving model unless told otherwise: the models share the cores.
      at::set_num_threads(run->count("--threads") ? common.threads : 1);
      Scenario sc = load_scenario(run_scenario_file);
      FashionMnistOptions fo;
      fo.root = common.data;
      Split test = load_fashion_mnist_test(fo);
      if (run_out.empty()) run_out = "out/run/" + sc.name;
      run_scenarios(sc, test, run_system, run_out, run_seed, run_margin);
    } else if (*demo) {
      // One torch thread per model: the scenario runs several models on the device's cores.
      demo_opt.threads = demo->count("--threads") ? common.threads : 1;
      demo_opt.data = common.data;
      run_demo(demo_opt);
    }
  } catch (const legodnn::Error& e) {
    std::fprintf(stderr, "legodnn: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "legodnn: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
