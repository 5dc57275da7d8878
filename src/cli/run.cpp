// legodnn run and legodnn demo: multi-DNN scenarios served in real time, LegoDNN against the
// model-grained baseline.
#include <cstdio>
#include <map>
#include <memory>

#include <ATen/Parallel.h>
#include <CLI/CLI.hpp>

#include "apps/demo.h"
#include "cli/cli.h"
#include "legodnn/baseline/model_grained.h"
#include "legodnn/data/data_source.h"
#include "legodnn/repository/manifest.h"
#include "legodnn/repository/repository.h"
#include "legodnn/scenario/report.h"
#include "legodnn/scenario/runner.h"
#include "legodnn/scenario/scenario.h"
#include "legodnn/util/error.h"
#include "legodnn/util/format.h"
#include "legodnn/util/fs.h"

namespace legodnn::cli {
namespace {

// Every input of every system the run will use, opened (and so validated) before either runs:
// a damaged baseline must not surface only after the LegoDNN run has taken its minutes.
void check_inputs(const Scenario& sc, const std::vector<SystemKind>& systems) {
  for (SystemKind k : systems)
    for (const auto& m : sc.models) {
      if (k == SystemKind::LegoDnn) {
        Repository::open(m.repo);
      } else {
        if (m.baseline.empty())
          throw OptionError("scenario model '" + m.name + "' has no \"baseline\" folder; the model-grained run needs one");
        ModelGrainedSet::open(m.baseline);
      }
    }
}

// The test images of a scenario: a model whose entry names its own "data" folder reads it (as
// its repository's manifest says the model reads images); the others share --data, so they must
// read the same input shape and classes. `own` receives the per-model splits; returns the shared one.
Split scenario_tests(const Common& common, const Scenario& sc, std::map<std::string, Split>& own) {
  const ScenarioModel* shared = nullptr;
  Manifest first;
  for (const auto& m : sc.models) {
    const Manifest man = open_manifest(m.repo);
    if (!m.data.empty()) {
      Common c = common;
      c.data = m.data;
      own[m.name] = load_test_data(data_for(c, man));
      continue;
    }
    if (!shared) {
      shared = &m;
      first = man;
    } else if (man.input_shape != first.input_shape || man.classes != first.classes) {
      throw OptionError("scenario models '" + shared->name + "' and '" + m.name +
                        "' read different inputs (shape or classes): give one of them its own \"data\" folder");
    }
  }
  if (shared) return load_test_data(data_for(common, first));
  return own.begin()->second;
}

std::vector<SystemKind> systems_of(const std::string& which) {
  std::vector<SystemKind> systems;
  if (which != "baseline") systems.push_back(SystemKind::LegoDnn);
  if (which != "legodnn") systems.push_back(SystemKind::ModelGrained);
  return systems;
}

// Runs a scenario with each system in turn; writes CSVs, summary.json and plots to `out`.
void run_scenarios(const Scenario& sc, const Split& test, const std::vector<SystemKind>& systems,
                   const std::string& out, const RunOptions& base, double process_warm_up_s,
                   bool trace_inferences) {
  if (process_warm_up_s > 0) {
    std::printf("Warming up the process (%.1f s per system, not counted)...\n", process_warm_up_s);
    std::fflush(stdout);
    warm_up_process(sc, test, systems, base, process_warm_up_s);
  }
  std::vector<RunSummary> runs;
  std::vector<std::pair<std::string, std::string>> csvs;
  for (SystemKind k : systems) {
    RunOptions o = base;
    o.system = k;
    o.csv = out + "/" + system_name(k) + ".csv";
    if (trace_inferences) o.inferences_csv = out + "/inferences-" + system_name(k) + ".csv";
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
  std::printf("\n%s", phase_table(runs).c_str());
  for (const auto& [system, csv] : csvs) std::printf("CSV (%s): %s\n", system.c_str(), csv.c_str());
  if (trace_inferences) std::printf("inferences: %s/inferences-<system>.csv\n", out.c_str());
  std::printf("summary: %s/summary.json\n", out.c_str());
  if (pngs.empty()) std::printf("plots: gnuplot not found or failed; script in %s/plots.gp\n", out.c_str());
  for (const auto& p : pngs) std::printf("plot: %s\n", p.c_str());
}

}  // namespace

Command add_run(CLI::App& app) {
  struct Args {
    Common common;
    std::string scenario, system = "legodnn", out;
    RunOptions run;
    double switch_cost_points = 100 * RunOptions{}.switching.cost_per_mb;
    double hysteresis_points = 100 * RunOptions{}.switching.hysteresis;
    double process_warm_up_s = 2;
    bool trace_inferences = false;
  };
  auto a = std::make_shared<Args>();
  auto* c = app.add_subcommand("run", "run a multi-DNN scenario (LegoDNN and/or the model-grained baseline)");
  c->add_option("--scenario", a->scenario, "scenario JSON file")->required();
  c->add_option("--system", a->system, "legodnn, baseline or both")->check(CLI::IsMember({"legodnn", "baseline", "both"}));
  c->add_option("--out", a->out, "output folder for the CSV, summary and plots (default out/run/<scenario name>)");
  c->add_option("--seed", a->run.seed, "where each model starts in the test set");
  c->add_option("--warm-up", a->run.warm_up,
                "forwards run on each new serving state before it serves (default " +
                    std::to_string(RunOptions{}.warm_up) + "; 0: none)")
      ->check(CLI::Range(0, 100));
  c->add_option("--process-warm-up", a->process_warm_up_s,
                "seconds each system serves the scenario's models, uncounted, before the runs, so that "
                "neither pays the process's first-run costs (default 2; 0: none)")
      ->check(CLI::Range(0.0, 60.0));
  c->add_option("--miss-target", a->run.miss.target, "wanted fraction of inferences over their deadline (default 0.01)")
      ->check(CLI::Range(0.001, 0.2));
  c->add_option("--switch-cost", a->switch_cost_points,
                "accuracy points a switch pays per MB it moves (default " + number_string(a->switch_cost_points) + ")")
      ->check(CLI::Range(0.0, 100.0));
  c->add_option("--deadline-headroom", a->run.switching.deadline_headroom,
                "fraction of each deadline a switch leaves free when it can (default " +
                    number_string(RunOptions{}.switching.deadline_headroom) + ")")
      ->check(CLI::Range(0.0, 0.5));
  c->add_option("--late-tolerance", a->run.switching.late_tolerance,
                "a model late whatever it serves takes a selection at most this fraction slower than its fastest "
                "(default " + number_string(RunOptions{}.switching.late_tolerance) + ")")
      ->check(CLI::Range(0.0, 0.5));
  c->add_option("--hysteresis", a->hysteresis_points,
                "accuracy points a switch no budget forces must gain (default " + number_string(a->hysteresis_points) + ")")
      ->check(CLI::Range(0.0, 100.0));
  c->add_flag("--trace-inferences", a->trace_inferences,
              "also write one row per inference (time, latency, deadline, missed, serving state) to "
              "OUT/inferences-<system>.csv");
  add_common(c, a->common, "1 per serving model");
  return {c, [a] {
            // One torch thread per serving model unless told otherwise: the models share the cores.
            apply_threads(a->common, 1);
            // CLI11's range lets NaN through.
            if (!(a->process_warm_up_s >= 0 && a->process_warm_up_s <= 60))
              throw OptionError("--process-warm-up: seconds must be a number in [0, 60], got " +
                                number_string(a->process_warm_up_s));
            Scenario sc = load_scenario(a->scenario);
            // The scenario's name comes from a file: it may name one folder under out/run, nothing else.
            std::string out = a->out.empty() ? "out/run/" + safe_path_component(sc.name, "scenario") : a->out;
            ensure_writable_dir(out);
            const auto systems = systems_of(a->system);
            check_inputs(sc, systems);
            std::map<std::string, Split> own;
            Split test = scenario_tests(a->common, sc, own);
            RunOptions ro = a->run;
            for (const auto& [name, split] : own) ro.model_tests[name] = &split;
            ro.switching.cost_per_mb = a->switch_cost_points / 100;
            ro.switching.hysteresis = a->hysteresis_points / 100;
            run_scenarios(sc, test, systems, out, ro, a->process_warm_up_s, a->trace_inferences);
            return 0;
          }};
}

Command add_demo(CLI::App& app) {
  struct Args {
    Common common;
    DemoOptions demo;
  };
  auto a = std::make_shared<Args>();
  auto* c = app.add_subcommand("demo", "the main job: teachers, repositories and baselines, the default scenario compared");
  c->add_option("--teachers", a->demo.teachers, "folder of shipped teachers");
  c->add_option("--out", a->demo.out, "output folder (repositories and baselines are reused once complete)");
  c->add_option("--duration", a->demo.duration_s, "seconds of the default scenario, per system")
      ->check(CLI::Range(1.0, 86400.0));
  add_common(c, a->common, "1 per serving model");
  return {c, [a] {
            // One torch thread per model: the scenario runs several models on the device's cores.
            DemoOptions o = a->demo;
            o.threads = a->common.threads > 0 ? a->common.threads : 1;
            o.data = a->common.data;
            ensure_writable_dir(o.out);
            run_demo(o);
            return 0;
          }};
}

}  // namespace legodnn::cli
