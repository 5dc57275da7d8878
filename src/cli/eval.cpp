// legodnn eval: test accuracy of a trained model (and of uniformly pruned versions), or of one
// composition of a block repository next to its additive estimate.
#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>

#include "cli/cli.h"
#include "legodnn/blocks/prune.h"
#include "legodnn/data/data_source.h"
#include "legodnn/repository/repository.h"
#include "legodnn/repository/selection.h"
#include "legodnn/train/trainer.h"
#include "legodnn/util/error.h"

namespace legodnn::cli {
namespace {

Split test_split(const DataSource& source, int64_t subset) {
  Split test = load_test_data(source);
  return subset > 0 ? test.head(subset) : test;
}

}  // namespace

Command add_eval(CLI::App& app) {
  struct Args {
    Common common;
    std::string checkpoint, model, repo, select;
    int64_t subset = 0;
    std::vector<double> uniform;
  };
  auto a = std::make_shared<Args>();
  auto* c = app.add_subcommand("eval", "test accuracy of a trained model on the 10k test set");
  auto* ckpt = c->add_option("--checkpoint", a->checkpoint, "model folder (model.json + weights.pt)");
  c->add_option("--repo", a->repo, "block repository (with --select)")->excludes(ckpt);
  c->add_option("--select", a->select, "sparsity per block, e.g. 0.2,0.8,... (one value: every block)");
  c->add_option("--model", a->model, "expected zoo model name (checked against the checkpoint)");
  c->add_option("--subset", a->subset, "first N test images only (0 = all)");
  c->add_option("--uniform", a->uniform,
                "also evaluate compositions with every block at these sparsities (pruned, not retrained)")
      ->delimiter(',');
  add_common(c, a->common, "the number of cores");
  return {c, [a] {
            apply_threads(a->common, cores());
            if (!a->repo.empty()) {
              if (a->select.empty()) throw OptionError("eval --repo needs --select S1,S2,... (one sparsity per block)");
              Repository repo = Repository::open(a->repo);
              const Manifest& man = repo.manifest();
              std::vector<int> choice = selection_for_sparsities(man, parse_numbers(a->select, "--select"), "--select");
              const double est = additive_estimate(man, choice, a->repo + "/manifest.json");
              Split test = test_split(data_for(a->common, man), a->subset);
              Model m = repo.compose(choice);
              auto r = evaluate(m, test);
              auto st = graph_stats(m.graph);
              std::printf("%s [%s]: test accuracy %.2f%% on %lld images; additive estimate %.2f%%; params %lld, MACs %lld\n",
                          a->repo.c_str(), a->select.c_str(), 100 * r.accuracy, (long long)r.n, 100 * est,
                          (long long)st.params, (long long)st.macs);
              return 0;
            }
            if (a->checkpoint.empty()) throw OptionError("eval needs --checkpoint DIR or --repo DIR --select ...");
            if (!a->uniform.empty()) check_sparsities(a->uniform, "--uniform", false);
            std::string name;
            Model m = load_teacher(a->checkpoint, a->model, name);
            Split test = test_split(data_for(a->common, m.graph), a->subset);
            auto r = evaluate(m, test);
            auto st = graph_stats(m.graph);
            std::printf("%s: test accuracy %.2f%% on %lld images (loss %.4f), params %lld, MACs %lld\n",
                        a->checkpoint.c_str(), 100 * r.accuracy, (long long)r.n, r.loss, (long long)st.params,
                        (long long)st.macs);
            if (a->uniform.empty()) return 0;
            auto specs = detect_blocks(m.graph);
            auto fams = make_descendants(m, specs, a->uniform);
            for (size_t k = 0; k < a->uniform.size(); ++k) {
              Model comp = compose(m, fams, std::vector<int>(fams.size(), static_cast<int>(k)));
              auto rc = evaluate(comp, test);
              auto sc = graph_stats(comp.graph);
              std::printf("  all blocks at sparsity %.2f (%zu blocks): test accuracy %.2f%%, params %lld (%.1f%%), "
                          "MACs %lld (%.1f%%)\n", a->uniform[k], fams.size(), 100 * rc.accuracy, (long long)sc.params,
                          100.0 * sc.params / st.params, (long long)sc.macs, 100.0 * sc.macs / st.macs);
            }
            return 0;
          }};
}

}  // namespace legodnn::cli
