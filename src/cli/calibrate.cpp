// legodnn calibrate: the accuracy sweep on a repository already built (no retraining): picks of
// the optimizer over a budget sweep, measured on the validation split, refit the drops the
// optimizer uses; the manifest is rewritten atomically.
#include <algorithm>
#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>

#include "cli/cli.h"
#include "legodnn/data/data_source.h"
#include "legodnn/repository/manifest.h"
#include "legodnn/pipeline/calibrate.h"

namespace legodnn::cli {
namespace {
Split skip_head(const Split& s, int64_t n) {
  n = std::min(n, s.size());
  return Split{s.images.narrow(0, n, s.size() - n), s.labels.narrow(0, n, s.size() - n)};
}
}  // namespace

Command add_calibrate(CLI::App& app) {
  struct Args {
    Common common;
    std::string repo;
    int64_t val_images = 0, test_images = 0, val_skip = 0;
    bool no_test = false;
    CalibrateOptions opt;
  };
  auto a = std::make_shared<Args>();
  auto& s = a->opt.sweep;
  auto* c = app.add_subcommand("calibrate",
                               "fit the drops the optimizer uses to measured optimizer picks over a budget sweep");
  c->add_option("--repo", a->repo, "block repository (rewritten in place)")->required();
  c->add_option("--rounds", s.rounds, "at most this many refits")->check(CLI::Range(0, 100));
  c->add_option("--points", s.points, "budget points per axis (memory, deadline, both)")->check(CLI::Range(2, 1000));
  c->add_option("--prior-sd", s.prior_sd, "how far a drop may move from its profiled value (fraction)")
      ->check(CLI::PositiveNumber);
  c->add_option("--model-sd", s.model_sd, "error additive cannot fit, added to each measurement's (fraction)")
      ->check(CLI::NonNegativeNumber);
  c->add_option("--tolerance", s.tolerance, "stop once every pick is estimated within this (fraction)")
      ->check(CLI::NonNegativeNumber);
  c->add_option("--val-images", a->val_images, "validation images measured (0 = all 5,000)")
      ->check(CLI::NonNegativeNumber);
  c->add_option("--val-skip", a->val_skip,
                "skip the first N validation images (those that picked retraining's best epochs: build's --val-images)")
      ->check(CLI::NonNegativeNumber);
  c->add_option("--test-images", a->test_images, "test images for the report (0 = all 10,000)")
      ->check(CLI::NonNegativeNumber);
  c->add_flag("--no-test", a->no_test, "do not measure the picks on the test split");
  add_common(c, a->common, "the number of cores");
  return {c, [a] {
            apply_threads(a->common, cores());
            FashionMnist data = load_data(data_for(a->common, open_manifest(a->repo)));
            Split val = skip_head(data.val, a->val_skip);
            if (a->val_images > 0) val = val.head(a->val_images);
            Split test = a->test_images > 0 ? data.test.head(a->test_images) : data.test;
            CalibrateOptions o = a->opt;
            o.measure_test = !a->no_test;
            auto r = calibrate_repository(a->repo, val, test, o, [](const std::string& line) {
              std::printf("%s\n", line.c_str());
              std::fflush(stdout);
            });
            std::printf("%s: %d compositions measured on validation, %d on test, %d refits (%s), %.1f s\n",
                        a->repo.c_str(), r.measured_val, r.measured_test, r.sweep.rounds,
                        r.sweep.converged ? "converged" : "not converged", r.seconds);
            std::fputs(calibrate_table(r).c_str(), stdout);
            return 0;
          }};
}

}  // namespace legodnn::cli
