#include "legodnn/scenario/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "legodnn/util/error.h"
#include "legodnn/util/fs.h"
#include "legodnn/util/process.h"

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

AccuracyInterval accuracy_interval(int64_t correct, int64_t n) {
  AccuracyInterval a;
  if (n <= 0) {
    a.accuracy = a.low = a.high = std::nan("");
    return a;
  }
  const double z = 1.959964, p = static_cast<double>(correct) / n, nn = static_cast<double>(n);
  const double centre = (p + z * z / (2 * nn)) / (1 + z * z / nn);
  const double half = z / (1 + z * z / nn) * std::sqrt(p * (1 - p) / nn + z * z / (4 * nn * nn));
  a.accuracy = p;
  a.low = std::max(0.0, centre - half);
  a.high = std::min(1.0, centre + half);
  return a;
}

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
  row("accuracy of served images", [](const RunSummary& r) { return pct(accuracy_interval(r.correct, r.inferences).accuracy); });
  row("  95% interval", [](const RunSummary& r) {
    const AccuracyInterval a = accuracy_interval(r.correct, r.inferences);
    return std::isfinite(a.low) ? num(100 * a.low, "%.1f") + "-" + num(100 * a.high, "%.1f") + "%" : std::string("-");
  });
  row("mean accuracy, measured (window)", [](const RunSummary& r) { return pct(r.mean_measured_accuracy); });
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
  row("  of them read from disk (MB)", [](const RunSummary& r) { return num(r.bytes_from_disk / 1e6, "%.2f"); });
  row("switches (MB per switch)", [](const RunSummary& r) {
    return std::to_string(r.switches) + " (" + (r.switches ? num(r.bytes_moved / 1e6 / r.switches, "%.2f") : "-") + ")";
  });
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

std::string phase_table(const std::vector<RunSummary>& runs) {
  std::ostringstream s;
  if (runs.empty()) return "";
  char line[512];
  std::snprintf(line, sizeof line, "%-4s %-13s %-40s", "", "phase (s)", "began with");
  s << line;
  for (const auto& r : runs) {
    std::snprintf(line, sizeof line, " %26s", (r.system + " acc / miss").c_str());
    s << line;
  }
  s << "\n";
  for (size_t i = 0; i < runs[0].phases.size(); ++i) {
    const PhaseSummary& p0 = runs[0].phases[i];
    std::string began = p0.began_with.size() > 40 ? p0.began_with.substr(0, 37) + "..." : p0.began_with;
    // e1, e2, ...: the events' marks in the plots.
    std::snprintf(line, sizeof line, "%-4s %-13s %-40s", i ? ("e" + std::to_string(i)).c_str() : "",
                  (num(p0.start_s) + "-" + num(p0.end_s)).c_str(), began.c_str());
    s << line;
    for (const auto& r : runs) {
      std::string v = "-";
      if (i < r.phases.size() && r.phases[i].inferences > 0) {
        const PhaseSummary& p = r.phases[i];
        v = pct(static_cast<double>(p.correct) / p.inferences) + " / " +
            pct(static_cast<double>(p.misses) / p.inferences);
      }
      std::snprintf(line, sizeof line, " %26s", v.c_str());
      s << line;
    }
    s << "\n";
  }
  return s.str();
}

namespace {

// The records of a CSV text (RFC 4180 quoting, as the runner writes it: a quoted field may hold
// commas, doubled quotes and newlines).
std::vector<std::vector<std::string>> csv_records(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row(1);
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') row.back() += '"', ++i;
      else if (c == '"') quoted = false;
      else row.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.emplace_back();
    } else if (c == '\n') {
      rows.push_back(std::move(row));
      row.assign(1, "");
    } else if (c != '\r') {
      row.back() += c;
    }
  }
  if (row.size() > 1 || !row[0].empty()) rows.push_back(std::move(row));
  return rows;
}

// A label as gnuplot will read it from a data file's header line: no separators, quotes or
// control characters, so it stays one field and is only ever shown, never parsed.
std::string plot_label(const std::string& s) {
  std::string o;
  for (unsigned char c : s) o += (c < 0x20 || c == 0x7f || c == ',' || c == '"') ? '_' : static_cast<char>(c);
  return o;
}

std::string finite_or_empty(const std::string& v, double scale) {
  char* end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (v.empty() || end != v.c_str() + v.size() || !std::isfinite(d)) return "";
  char b[48];
  std::snprintf(b, sizeof b, "%.9g", d * scale);
  return b;
}

}  // namespace

std::vector<std::string> plot_runs(const std::vector<std::pair<std::string, std::string>>& csvs,
                                   const std::vector<std::string>& models, const std::string& dir) {
  namespace fs = std::filesystem;
  // No input text ever reaches gnuplot's command language (DESIGN.md section 16): every series is
  // a data file with a fixed name, its legend title is that file's header (gnuplot's columnheader),
  // and gnuplot runs in `dir` with an argument vector, so the script names only fixed files.
  static const char* kColumns[] = {"t_s", "measured_accuracy", "measured_latency_ms", "memory_bytes",
                                   "memory_budget_bytes", "deadline_ms"};
  static const double kScale[] = {1, 1, 1, 1e-6, 1e-6, 1};
  constexpr int kCols = 6;
  std::vector<std::string> series;  // data files, relative to `dir`: [system][model]
  std::vector<double> event_times;  // of the first run's events (every run has the same)
  for (size_t c = 0; c < csvs.size(); ++c) {
    const auto& [system, csv] = csvs[c];
    const auto rows = csv_records(read_file(csv));
    if (rows.empty()) throw IoError(csv + ": empty CSV, nothing to plot");
    const auto& header = rows[0];
    constexpr size_t kNone = static_cast<size_t>(-1);
    auto find = [&](const std::string& name) {
      for (size_t k = 0; k < header.size(); ++k)
        if (header[k] == name) return k;
      return kNone;
    };
    auto column = [&](const std::string& name) {
      const size_t k = find(name);
      if (k == kNone) throw IoError(csv + ": no column '" + name + "' to plot");
      return k;
    };
    // Events and deadlines are drawn when the records have them (older runs' may not).
    const size_t kind = column("kind"), model = column("model"), event = find("event");
    size_t cols[kCols];
    for (int k = 0; k < kCols; ++k) cols[k] = k == 5 ? find(kColumns[k]) : column(kColumns[k]);
    auto cell = [&](const std::vector<std::string>& f, size_t k) { return k == kNone ? std::string() : f[k]; };
    std::vector<std::string> data(models.size());
    for (size_t m = 0; m < models.size(); ++m) {
      const std::string title = plot_label(system + " " + models[m]);
      data[m] = "t_s," + title + "," + title + "," + title + ",budget," + plot_label(models[m] + " deadline") + "\n";
    }
    for (size_t r = 1; r < rows.size(); ++r) {
      const auto& f = rows[r];
      if (f.size() != header.size()) continue;
      if (c == 0 && f[kind] == "event" && event != kNone && f[event].rfind("open failed", 0) != 0) {
        const std::string t = finite_or_empty(f[cols[0]], 1);
        // Events at one time began one phase: one line for them.
        if (!t.empty() && (event_times.empty() || std::stod(t) > event_times.back() + 1e-3))
          event_times.push_back(std::stod(t));
      }
      if (f[kind] != "step") continue;
      for (size_t m = 0; m < models.size(); ++m) {
        if (f[model] != models[m]) continue;
        for (int k = 0; k < kCols; ++k) data[m] += (k ? "," : "") + finite_or_empty(cell(f, cols[k]), kScale[k]);
        data[m] += "\n";
      }
    }
    for (size_t m = 0; m < models.size(); ++m) {
      std::string name = "plot-data/" + std::to_string(c) + "-" + std::to_string(m) + ".csv";
      atomic_write_file((fs::path(dir) / name).string(), data[m]);
      series.push_back(name);
    }
  }
  // Only numbers and fixed names are written into the script; legend titles come from the files.
  const size_t M = models.size(), S = csvs.size();
  std::ostringstream gp;
  gp << "# Made by legodnn run; render with: cd into this folder, then gnuplot plots.gp\n"
     << "set datafile separator ','\nset grid\nset key outside right top vertical\n";
  // Every event as a dotted vertical line, numbered e1, e2, ... in the order of the phase table.
  for (size_t e = 0; e < event_times.size(); ++e) {
    char b[160];
    std::snprintf(b, sizeof b, "set arrow %zu from %.6g, graph 0 to %.6g, graph 1 nohead dt 3 lc rgb 'gray40'\n", e + 1,
                  event_times[e], event_times[e]);
    gp << b;
    std::snprintf(b, sizeof b, "set label %zu 'e%zu' at %.6g, graph 1.04 center font ',8'\n", e + 1, e + 1, event_times[e]);
    gp << b;
  }
  // One panel per model, the systems' lines side by side in it.
  auto per_model = [&](const char* png, const char* ylabel, int column, bool deadline) {
    gp << "set terminal png size 1100," << std::max<size_t>(1, M) * 230 + 40 << " noenhanced\n"
       << "set output '" << png << "'\nset multiplot layout " << std::max<size_t>(1, M) << ",1\n";
    for (size_t m = 0; m < M; ++m) {
      gp << "set ylabel '" << ylabel << "'\n" << (m + 1 == M ? "set xlabel 'time (s)'\n" : "unset xlabel\n") << "plot ";
      for (size_t c = 0; c < S; ++c)
        gp << (c ? ", " : "") << "'" << series[c * M + m] << "' using 1:" << column << " with lines lw 2 title columnheader("
           << column << ")";
      if (deadline && S > 0)
        gp << ", '" << series[m] << "' using 1:6 with lines dt 2 lw 2 lc rgb 'red' title columnheader(6)";
      gp << "\n";
    }
    gp << "unset multiplot\n";
  };
  per_model("accuracy.png", "accuracy (window)", 2, false);
  per_model("latency.png", "median latency (ms)", 3, true);
  gp << "set terminal png size 1100,420 noenhanced\nset output 'memory.png'\nset ylabel 'memory in use (MB)'\n"
     << "set xlabel 'time (s)'\nplot ";
  for (size_t k = 0; k < series.size(); ++k)
    gp << (k ? ", " : "") << "'" << series[k] << "' using 1:4 with lines title columnheader(4)";
  if (!series.empty()) gp << ", '" << series[0] << "' using 1:5 with lines dt 2 lw 2 lc rgb 'red' title columnheader(5)";
  gp << "\n";
  const std::string script = (fs::path(dir) / "plots.gp").string();
  atomic_write_file(script, gp.str());
  if (series.empty() || !find_program("gnuplot")) return {};
  ProcessOptions po;
  po.cwd = dir;
  po.stdout_path = (fs::path(dir) / "gnuplot.log").string();
  po.stderr_path = po.stdout_path;
  if (run_program({"gnuplot", "plots.gp"}, po) != 0) return {};
  std::vector<std::string> out;
  for (const char* p : {"accuracy.png", "latency.png", "memory.png"}) out.push_back((fs::path(dir) / p).string());
  return out;
}

}  // namespace legodnn
