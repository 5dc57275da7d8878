#include "legodnn/pipeline/calibrate.h"

#include <chrono>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "legodnn/blocks/prune.h"
#include "legodnn/profile/profile.h"
#include "legodnn/repository/repository.h"
#include "legodnn/runtime/from_repository.h"
#include "legodnn/util/error.h"

namespace legodnn {
namespace {
using nlohmann::json;

// Every tensor of the repository loaded once (files verified once), so that a composition is
// assembled without reading files again.
class Compositions {
 public:
  explicit Compositions(const Repository& repo) : man_(repo.manifest()), frame_(repo.load_frame()) {
    for (const auto& b : man_.blocks) {
      nodes_.push_back(b.nodes);
      loaded_.emplace_back();
      for (size_t j = 0; j < b.descendants.size(); ++j)
        loaded_.back().push_back(repo.load_descendant(b.id, static_cast<int>(j)));
    }
  }
  Model compose(const std::vector<int>& choice) const {
    std::vector<const Model*> chosen;
    for (size_t i = 0; i < choice.size(); ++i) chosen.push_back(&loaded_.at(i).at(choice[i]));
    return assemble(man_.teacher, frame_, nodes_, chosen);
  }

 private:
  const Manifest& man_;
  Weights frame_;
  std::vector<std::vector<std::string>> nodes_;
  std::vector<std::vector<Model>> loaded_;
};

// Accuracy of a composition and the standard error of its paired drop against the teacher.
CompositionAccuracy paired(const Correctness& teacher, const Correctness& c) {
  const size_t n = c.correct.size();
  double sum = 0, sq = 0;
  for (size_t k = 0; k < n; ++k) {
    const double d = static_cast<double>(teacher.correct[k]) - c.correct[k];
    sum += d;
    sq += d * d;
  }
  CompositionAccuracy a;
  a.accuracy = c.accuracy;
  if (n > 0) {
    const double mean = sum / n;
    a.drop_se = std::sqrt(std::max(0.0, sq / n - mean * mean) / n);
  }
  return a;
}

json error_json(const EstimateError& e) {
  return {{"count", e.count}, {"mean_abs_error", e.mean_abs}, {"max_abs_error", e.max_abs}};
}

}  // namespace

CalibrateReport calibrate_repository(const std::string& dir, const Split& val, const Split& test,
                                     const CalibrateOptions& o,
                                     const std::function<void(const std::string&)>& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  auto say = [&](const std::string& s) {
    if (progress) progress(s);
  };
  const Repository repo = Repository::open(dir);
  Manifest man = repo.manifest();
  const std::string source = dir + "/manifest.json";
  ModelChoiceSpec spec = choice_spec(man, source);
  if (val.size() == 0) throw OptionError(source + ": the accuracy sweep needs validation images, got none");
  // Always from the profiled drops: a second calibration refits, it does not compound.
  for (size_t i = 0; i < man.blocks.size(); ++i)
    for (size_t j = 0; j < man.blocks[i].descendants.size(); ++j)
      spec.blocks[i][j].drop = man.blocks[i].descendants[j].profile.acc_drop_profiled;
  const Compositions comps(repo);
  const std::vector<int> teacher_choice(man.blocks.size(), 0);
  const Correctness teacher_val = correctness(comps.compose(teacher_choice), val);
  CalibrateReport r;
  r.teacher_val = teacher_val.accuracy;
  char line[256];
  std::snprintf(line, sizeof line, "%s: teacher %.2f%% on %lld validation images", man.model.c_str(),
                100 * r.teacher_val, (long long)val.size());
  say(line);
  MeasureFn measure = [&](const std::vector<int>& choice) {
    ++r.measured_val;
    auto a = paired(teacher_val, correctness(comps.compose(choice), val));
    std::string sel;
    for (int c : choice) sel += std::to_string(c);
    std::snprintf(line, sizeof line, "  composition %s: %.2f%% on validation (drop se %.2f)", sel.c_str(),
                  100 * a.accuracy, 100 * a.drop_se);
    say(line);
    return a;
  };
  r.sweep = run_accuracy_sweep(spec, r.teacher_val, measure, o.sweep, say);
  const auto& cs = r.sweep.compositions;
  auto est_before = [&](const SweptComposition& c) { return c.estimated_before; };
  auto est_after = [&](const SweptComposition& c) { return c.estimated_after; };
  auto before = [](const SweptComposition& c) { return c.picked_before; };
  auto after = [](const SweptComposition& c) { return c.picked_after; };
  auto on_val = [](const SweptComposition& c) { return c.measured; };
  r.val_before = estimate_error(cs, before, est_before, on_val);
  r.val_after = estimate_error(cs, after, est_after, on_val);

  // The report's honest figure: the same picks on the test split, never used for fitting, against
  // the estimate the optimizer sees (the teacher's test accuracy less the summed drops).
  std::vector<double> test_acc(cs.size(), std::nan(""));
  if (o.measure_test && test.size() > 0) {
    size_t picked = 0;
    for (const auto& c : cs) picked += c.picked_before || c.picked_after;
    say("measuring the teacher and " + std::to_string(picked) + " picks on " + std::to_string(test.size()) +
        " test images (reported, never fitted on)");
    r.teacher_test = correctness(comps.compose(teacher_choice), test).accuracy;
    for (size_t k = 0; k < cs.size(); ++k)
      if (cs[k].picked_before || cs[k].picked_after) {
        test_acc[k] = correctness(comps.compose(cs[k].choice), test).accuracy;
        ++r.measured_test;
        std::snprintf(line, sizeof line, "  test %zu/%zu: %.2f%%", static_cast<size_t>(r.measured_test), picked,
                      100 * test_acc[k]);
        say(line);
      }
    std::vector<SweptComposition> shifted = cs;  // estimates in test terms
    for (auto& c : shifted) {
      c.estimated_before += r.teacher_test - r.teacher_val;
      c.estimated_after += r.teacher_test - r.teacher_val;
    }
    size_t k = 0;
    for (auto& c : shifted) c.measured = test_acc[k++];
    r.test_before = estimate_error(shifted, before, est_before, on_val);
    r.test_after = estimate_error(shifted, after, est_after, on_val);
  }

  // The optimizer's view from now on: the fitted drops.
  for (size_t i = 0; i < man.blocks.size(); ++i)
    for (size_t j = 0; j < man.blocks[i].descendants.size(); ++j)
      man.blocks[i].descendants[j].profile.acc_drop = r.sweep.drops[i][j];
  const double teacher_est = spec.accuracy;  // what choice_spec gives the optimizer
  json list = json::array();
  for (size_t k = 0; k < cs.size(); ++k) {
    const auto& c = cs[k];
    json e{{"choice", c.choice},
           {"first_round", c.first_round},
           {"picked_before", c.picked_before},
           {"picked_after", c.picked_after},
           {"estimated_before", teacher_est - (r.teacher_val - c.estimated_before)},
           {"estimated_after", teacher_est - (r.teacher_val - c.estimated_after)},
           {"measured_val", c.measured},
           {"drop_se_val", c.drop_se}};
    e["measured_test"] = std::isnan(test_acc[k]) ? json(nullptr) : json(test_acc[k]);
    list.push_back(std::move(e));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  man.accuracy_sweep = {
      {"measured_on", "validation"},
      {"val_images", val.size()},
      {"test_images", o.measure_test ? test.size() : 0},
      {"teacher_val_accuracy", r.teacher_val},
      {"teacher_test_accuracy", r.teacher_test},
      {"options", {{"points", o.sweep.points}, {"rounds", o.sweep.rounds}, {"prior_sd", o.sweep.prior_sd},
                   {"model_sd", o.sweep.model_sd}, {"tolerance", o.sweep.tolerance}}},
      {"budgets", r.sweep.budgets},
      {"refits", r.sweep.rounds},
      {"converged", r.sweep.converged},
      {"compositions", list},
      {"error", {{"val", {{"before", error_json(r.val_before)}, {"after", error_json(r.val_after)}}},
                 {"test", {{"before", error_json(r.test_before)}, {"after", error_json(r.test_after)}}}}},
      {"seconds", r.seconds}};
  man.stages["sweep"] = {{"seconds", r.seconds}};
  write_manifest(dir, man);
  return r;
}

std::string calibrate_table(const CalibrateReport& r) {
  std::string out = "split       picks  before: MAE   max  | picks  after: MAE   max   (points)\n";
  auto row = [&](const char* name, const EstimateError& b, const EstimateError& a) {
    char line[160];
    std::snprintf(line, sizeof line, "%-10s  %5d        %5.2f %5.2f  | %5d        %5.2f %5.2f\n", name, b.count,
                  100 * b.mean_abs, 100 * b.max_abs, a.count, 100 * a.mean_abs, 100 * a.max_abs);
    out += line;
  };
  row("validation", r.val_before, r.val_after);
  if (r.test_before.count + r.test_after.count > 0) row("test", r.test_before, r.test_after);
  return out;
}

}  // namespace legodnn
