// legodnn build and legodnn baseline: the offline stage, a block repository or a model-grained set.
#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>

#include "cli/cli.h"
#include "legodnn/baseline/model_grained.h"
#include "legodnn/data/data_source.h"
#include "legodnn/pipeline/build.h"
#include "legodnn/report/tables.h"
#include "legodnn/util/fs.h"

namespace legodnn::cli {

Command add_build(CLI::App& app) {
  struct Args {
    Common common;
    std::string checkpoint, model, out, pairs;
    bool no_sweep = false;
    BuildOptions build;
  };
  auto a = std::make_shared<Args>();
  auto& b = a->build;
  auto* c = app.add_subcommand("build", "build the block repository of a trained model");
  c->add_option("--checkpoint", a->checkpoint, "trained model folder")->required();
  c->add_option("--model", a->model, "model name (checked against the checkpoint)");
  c->add_option("--out", a->out, "repository folder")->required();
  auto* mc = c->add_option("--max-convs", b.detect.max_convs, "at most K convs per block");
  c->add_option("--max-ratio", b.detect.max_ratio, "max convs = max(floor(R * total convs), 2)")->excludes(mc);
  c->add_option("--blocks", a->pairs, "explicit blocks first:last,...");
  c->add_option("--sparsities", b.sparsities, "descendant sparsities (first must be 0)")->delimiter(',');
  c->add_option("--epochs", b.retrain.epochs, "retraining epochs");
  c->add_option("--train-images", b.retrain.train_images, "retraining images (0 = all 55,000)");
  c->add_option("--val-images", b.retrain.val_images, "held-out images that pick the best epoch");
  c->add_option("--batch-size", b.retrain.batch_size, "retraining batch size");
  c->add_option("--lr", b.retrain.lr, "retraining learning rate (Adam)");
  c->add_option("--drop-images", b.drop_images, "validation images for accuracy drops");
  c->add_option("--check", b.check_compositions, "random compositions checking the additive estimate");
  c->add_option("--test-images", b.test_images, "test images for the estimate check and the sweep (0 = all)")
      ->check(CLI::NonNegativeNumber);
  c->add_option("--calibrate", b.calibration_compositions,
                "random validation compositions that fit the drop scale (0 = none)");
  c->add_option("--sweep-rounds", b.sweep.rounds, "accuracy sweep: at most this many refits");
  c->add_option("--sweep-points", b.sweep.points, "accuracy sweep: budget points per axis");
  c->add_flag("--no-sweep", a->no_sweep, "skip the accuracy sweep");
  c->add_option("--latency-compositions", b.latency_compositions,
                "at most this many compositions timed against the teacher to fit the block latencies (0: keep the "
                "alone-timed ones)")
      ->check(CLI::Range(0, 100000));
  c->add_flag("--high-context", b.high_context, "also measure drops in the all-highest-sparsity context");
  c->add_option("--repeats", b.latency.repeats, "latency repeats (median)");
  c->add_option("--stop-after-epoch", b.retrain.stop_after_epoch, "stop retraining after this epoch");
  c->add_option("--seed", b.seed, "seed");
  add_common(c, a->common, "the number of cores");
  return {c, [a] {
            check_sparsities(a->build.sparsities, "--sparsities", true);
            apply_threads(a->common, cores());
            BuildOptions bopt = a->build;
            if (a->no_sweep) bopt.accuracy_sweep = false;
            Model m = load_teacher(a->checkpoint, a->model, bopt.model_name);
            if (!a->pairs.empty()) bopt.explicit_blocks = parse_block_pairs(a->pairs);
            ensure_writable_dir(a->out);
            auto r = build_repository(m, load_data(data_for(a->common, m.graph)), a->out, bopt);
            for (const auto& s : r.skipped) std::printf("stage %s: already complete, skipped\n", s.c_str());
            for (const auto& s : r.ran) std::printf("stage %s: done\n", s.c_str());
            std::printf("%s: %s\n", a->out.c_str(), r.complete ? "complete" : "incomplete (rerun to continue)");
            return r.complete ? 0 : 3;
          }};
}

Command add_baseline(CLI::App& app) {
  struct Args {
    Common common;
    std::string teacher, model, out, pairs;
    ModelGrainedOptions opt;
  };
  auto a = std::make_shared<Args>();
  auto& g = a->opt;
  auto* c = app.add_subcommand("baseline",
                               "build the model-grained baseline: whole uniformly pruned models, fine-tuned end to end");
  c->add_option("--teacher", a->teacher, "trained model folder")->required();
  c->add_option("--model", a->model, "model name (checked against the teacher)");
  c->add_option("--out", a->out, "output folder (baseline.json + one model folder per variant)")->required();
  auto* mc = c->add_option("--max-convs", g.detect.max_convs, "at most K convs per block");
  c->add_option("--max-ratio", g.detect.max_ratio, "max convs = max(floor(R * total convs), 2)")->excludes(mc);
  c->add_option("--blocks", a->pairs, "explicit blocks first:last,...");
  c->add_option("--sparsities", g.sparsities, "uniform sparsities of the variants (first must be 0)")->delimiter(',');
  c->add_option("--epochs", g.epochs, "fine-tuning epochs per variant (default: block retraining's)");
  c->add_option("--train-images", g.train_images,
                "fine-tuning images, seeded subset (default: block retraining's; 0 = all 55,000)");
  c->add_option("--val-images", g.val_images, "validation images logged after each epoch (0 = none)");
  c->add_option("--eval-images", g.eval_images, "test images for the accuracies (0 = all 10,000)");
  c->add_option("--batch-size", g.batch_size, "fine-tuning batch size");
  c->add_option("--lr", g.lr, "fine-tuning learning rate (SGD, cosine to 0)");
  c->add_option("--repeats", g.latency.repeats, "latency repeats (median)");
  c->add_option("--stop-after-epoch", g.stop_after_epoch, "stop fine-tuning after this epoch");
  c->add_option("--seed", g.seed, "seed");
  add_common(c, a->common, "the number of cores");
  return {c, [a] {
            check_sparsities(a->opt.sparsities, "--sparsities", true);
            apply_threads(a->common, cores());
            ModelGrainedOptions gopt = a->opt;
            Model m = load_teacher(a->teacher, a->model, gopt.model_name);
            if (!a->pairs.empty()) gopt.explicit_blocks = parse_block_pairs(a->pairs);
            ensure_writable_dir(a->out);
            auto r = build_model_grained(m, load_data(data_for(a->common, m.graph)), a->out, gopt);
            for (double s : r.skipped) std::printf("variant sparsity %g: already complete, skipped\n", s);
            for (double s : r.ran) std::printf("variant sparsity %g: done\n", s);
            if (!r.complete) {
              std::printf("%s: incomplete (rerun to continue)\n", a->out.c_str());
              return 3;
            }
            const ModelGrainedSet set = ModelGrainedSet::open(a->out);
            const auto& man = set.manifest();
            std::printf("%s: complete; %s, teacher test accuracy %.2f%% on %lld images\n", a->out.c_str(),
                        man.model.c_str(), 100 * man.teacher_accuracy, (long long)man.eval_images);
            std::fputs(baseline_table(man).c_str(), stdout);
            return 0;
          }};
}

}  // namespace legodnn::cli
