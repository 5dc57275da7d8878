#include "legodnn/scenario/report.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "legodnn/util/fs.h"

namespace legodnn {
namespace {

std::string pct(double v) {
  if (!std::isfinite(v)) return "-";
  char b[32];
  std::snprintf(b, sizeof b, "%.2f%%", 100 * v);
  return b;
}

std::string num(double v, const char* f = "%.1f") {
  char b[48];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

}  // namespace

std::string summary_table(const std::vector<RunSummary>& runs, double memory_budget_mb) {
  std::ostringstream s;
  char line[256];
  std::snprintf(line, sizeof line, "%-34s", "");
  s << line;
  for (const auto& r : runs) {
    std::snprintf(line, sizeof line, "%16s", r.system.c_str());
    s << line;
  }
  s << "\n";
  auto row = [&](const char* name, auto value) {
    std::snprintf(line, sizeof line, "%-34s", name);
    s << line;
    for (const auto& r : runs) {
      std::snprintf(line, sizeof line, "%16s", value(r).c_str());
      s << line;
    }
    s << "\n";
  };
  row("mean accuracy, measured", [](const RunSummary& r) { return pct(r.mean_measured_accuracy); });
  row("mean accuracy, estimated", [](const RunSummary& r) { return pct(r.mean_estimated_accuracy); });
  row("inferences", [](const RunSummary& r) { return std::to_string(r.inferences); });
  row("deadline misses", [](const RunSummary& r) {
    return std::to_string(r.misses) + " (" + pct(r.inferences ? double(r.misses) / r.inferences : 0.0) + ")";
  });
  row("memory-budget violations (steps)", [](const RunSummary& r) {
    return std::to_string(r.memory_violations) + "/" + std::to_string(r.steps);
  });
  row("solves (infeasible)", [](const RunSummary& r) {
    return std::to_string(r.solves) + " (" + std::to_string(r.infeasible_solves) + ")";
  });
  row("median solve time (us)", [](const RunSummary& r) { return num(r.median_solve_us); });
  row("bytes moved by switches (MB)", [](const RunSummary& r) { return num(r.bytes_moved / 1e6, "%.2f"); });
  row("time spent switching (ms)", [](const RunSummary& r) { return num(r.switch_ms); });
  row("distinct configurations", [](const RunSummary& r) { return std::to_string(r.configurations); });
  for (size_t m = 0; m < (runs.empty() ? 0 : runs[0].models.size()); ++m) {
    std::string label = "  " + runs[0].models[m].name + " accuracy / misses";
    std::snprintf(line, sizeof line, "%-34s", label.c_str());
    s << line;
    for (const auto& r : runs) {
      const auto& ms = r.models.at(m);
      std::string v = pct(ms.mean_measured_accuracy) + " / " + std::to_string(ms.misses);
      std::snprintf(line, sizeof line, "%16s", v.c_str());
      s << line;
    }
    s << "\n";
  }
  if (std::isfinite(memory_budget_mb)) s << "(initial memory budget " << memory_budget_mb << " MB)\n";
  return s.str();
}

std::vector<std::string> plot_runs(const std::vector<std::pair<std::string, std::string>>& csvs,
                                   const std::vector<std::string>& models, const std::string& dir) {
  namespace fs = std::filesystem;
  std::ostringstream gp;
  gp << "# Made by legodnn run; render with: gnuplot plots.gp\n"
     << "set datafile separator ','\nset terminal png size 1100,420\nset key outside right\nset grid\n"
     << "set xlabel 'time (s)'\n";
  // Rows of one kind and model, from one CSV (gnuplot reads a shell pipe).
  auto rows = [&](const std::string& csv, const std::string& model) {
    return "'< grep \",step," + model + ",\" " + fs::absolute(csv).string() + "'";
  };
  auto plot = [&](const std::string& png, const std::string& ylabel, int column, const std::string& extra) {
    gp << "set output '" << fs::absolute(fs::path(dir) / png).string() << "'\nset ylabel '" << ylabel << "'\nplot ";
    bool first = true;
    for (const auto& [system, csv] : csvs)
      for (const auto& m : models) {
        gp << (first ? "" : ", ") << rows(csv, m) << " using 2:" << column << " with lines title '" << system << " "
           << m << "'";
        first = false;
      }
    gp << extra << "\n";
  };
  plot("accuracy.png", "accuracy (rolling window)", 11, "");
  plot("latency.png", "median latency (ms)", 13, "");
  // Memory: each system's total is the sum over models; plot per model and the budget.
  gp << "set output '" << fs::absolute(fs::path(dir) / "memory.png").string()
     << "'\nset ylabel 'memory in use (MB)'\nplot ";
  bool first = true;
  for (const auto& [system, csv] : csvs)
    for (const auto& m : models) {
      gp << (first ? "" : ", ") << rows(csv, m) << " using 2:($17/1e6) with lines title '" << system << " " << m << "'";
      first = false;
    }
  if (!csvs.empty())
    gp << ", " << rows(csvs[0].second, models.at(0)) << " using 2:($18/1e6) with lines dt 2 lw 2 title 'budget'";
  gp << "\n";
  const std::string script = (fs::path(dir) / "plots.gp").string();
  atomic_write_file(script, gp.str());
  if (std::system("command -v gnuplot > /dev/null 2>&1") != 0) return {};
  if (std::system(("gnuplot '" + script + "' 2> '" + (fs::path(dir) / "gnuplot.log").string() + "'").c_str()) != 0)
    return {};
  std::vector<std::string> out;
  for (const char* p : {"accuracy.png", "latency.png", "memory.png"}) out.push_back((fs::path(dir) / p).string());
  return out;
}

}  // namespace legodnn
