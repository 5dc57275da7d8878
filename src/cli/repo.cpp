// legodnn inspect and legodnn select: a repository's tables, and the scaling optimizer over
// profiled repositories.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "legodnn/report/tables.h"
#include "legodnn/repository/repository.h"
#include "legodnn/runtime/from_repository.h"
#include "legodnn/runtime/solve.h"
#include "legodnn/util/error.h"
#include "legodnn/util/fs.h"

namespace legodnn::cli {

Command add_inspect(CLI::App& app) {
  struct Args {
    std::string dir, csv;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  auto* c = app.add_subcommand("inspect", "print a block repository's block and profile tables");
  c->add_option("dir", a->dir, "repository folder")->required();
  c->add_flag("--json", a->json, "print the manifest as JSON");
  c->add_option("--csv", a->csv, "also write PREFIX_blocks.csv and PREFIX_profiles.csv");
  return {c, [a] {
            Repository repo = Repository::open(a->dir);
            std::fputs(a->json ? (manifest_to_json(repo.manifest()).dump(1) + "\n").c_str() : inspect_text(repo.dir(), repo.manifest()).c_str(),
                       stdout);
            if (!a->csv.empty()) {
              auto [blocks, profiles] = inspect_csv(repo.manifest());
              atomic_write_file(a->csv + "_blocks.csv", blocks);
              atomic_write_file(a->csv + "_profiles.csv", profiles);
              std::printf("wrote %s_blocks.csv and %s_profiles.csv\n", a->csv.c_str(), a->csv.c_str());
            }
            return 0;
          }};
}

Command add_select(CLI::App& app) {
  struct Args {
    std::vector<std::string> repos;
    std::string deadlines, objective = "sum", solver = "builtin";
    double memory_mb = std::numeric_limits<double>::infinity();
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  auto* c = app.add_subcommand("select", "choose every block's descendant within budgets (scaling optimizer)");
  c->add_option("--repo", a->repos, "profiled block repository (repeat for several models)")->required();
  c->add_option("--deadline-ms", a->deadlines, "latency deadline per model, comma-separated (one value: all; inf: none)");
  c->add_option("--memory-mb", a->memory_mb, "memory budget shared by all models (MB of tensors; default inf: none)");
  c->add_option("--objective", a->objective, "sum (of accuracies) or maxmin")->check(CLI::IsMember({"sum", "maxmin"}));
  c->add_option("--solver", a->solver, "builtin (exact, fast) or cbc (the same problem as a MILP, for cross-checks)")
      ->check(CLI::IsMember({"builtin", "cbc"}));
  c->add_flag("--json", a->json, "print one JSON document");
  return {c, [a] {
            check_budget(a->memory_mb, "--memory-mb");
            std::vector<double> deadlines;
            if (!a->deadlines.empty()) {
              deadlines = parse_numbers(a->deadlines, "--deadline-ms");
              for (double d : deadlines) check_budget(d, "--deadline-ms");
              if (deadlines.size() == 1) deadlines.assign(a->repos.size(), deadlines[0]);
              if (deadlines.size() != a->repos.size())
                throw OptionError("--deadline-ms: " + std::to_string(deadlines.size()) + " deadlines for " +
                                  std::to_string(a->repos.size()) + " models");
            }
            std::vector<ModelChoiceSpec> specs;
            std::vector<Repository> repos;
            for (const auto& dir : a->repos) {
              repos.push_back(Repository::open(dir));
              specs.push_back(choice_spec(repos.back().manifest(), dir + "/manifest.json"));
            }
            for (size_t m = 0; m < deadlines.size(); ++m) specs[m].deadline_ms = deadlines[m];
            SharedBudget budget;
            budget.memory_bytes = a->memory_mb * 1e6;
            const Solver solver = parse_solver(a->solver);
            auto t0 = std::chrono::steady_clock::now();
            auto dec = solve(specs, budget, a->objective == "sum" ? Objective::Sum : Objective::MaxMin, solver);
            double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
            std::vector<const Manifest*> mans;
            std::vector<std::string> names;
            for (size_t m = 0; m < repos.size(); ++m) {
              mans.push_back(&repos[m].manifest());
              names.push_back(specs[m].name);
            }
            auto doc = selection_json(dec, mans, a->repos, names, solver_name(solver), us);
            std::fputs(a->json ? (doc.dump(1) + "\n").c_str() : selection_text(doc).c_str(), stdout);
            return 0;
          }};
}

}  // namespace legodnn::cli
