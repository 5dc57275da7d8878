// Scenarios: parsing with errors that name the field, and a small scenario run end to end on tiny
// repositories (events in time order, a leaving model frees its memory, an impossible deadline is
// marked infeasible while serving goes on).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "legodnn/data/fashion_mnist.h"
#include "legodnn/repository/repository.h"
#include "legodnn/scenario/report.h"
#include "legodnn/scenario/runner.h"
#include "legodnn/scenario/scenario.h"
#include "legodnn/util/error.h"
#include "legodnn/util/fs.h"
#include "test_util.h"
#include "tiny_repository.h"

using namespace legodnn;
using legodnn::testing::TempDir;
using nlohmann::json;

namespace {

// The tiny repository with a profile: latency proportional to MACs, drops growing with sparsity.
// The runner's mechanics are under test here, not the figures.
void write_profiled_tiny_repository(const std::string& dir, uint64_t seed) {
  Manifest m = legodnn::testing::write_tiny_repository(dir, {0.0, 0.4, 0.8}, seed);
  for (auto& b : m.blocks)
    for (auto& d : b.descendants) {
      d.profile.macs = graph_stats(d.graph).macs;
      d.profile.latency_ms = 0.02 + 1e-6 * static_cast<double>(d.profile.macs);
      d.profile.acc_drop = 0.02 * d.sparsity;
    }
  m.stages["profile"] = {{"seconds", 0}};
  m.profile["teacher_test_accuracy"] = 0.9;
  m.profile["latency"] = {{"frame_ms", 0.05}};
  write_manifest(dir, m);
}

// One CSV row; cells are read by column name.
struct Row {
  double t;
  std::string kind, model, event;
  std::map<std::string, std::string> cells;
  const std::string& operator[](const std::string& column) const {
    auto it = cells.find(column);
    if (it == cells.end()) throw std::out_of_range("no column '" + column + "'");
    return it->second;
  }
};

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (char c : line) {
    if (c == '"') quoted = !quoted;
    else if (c == ',' && !quoted) out.push_back(cur), cur.clear();
    else cur += c;
  }
  out.push_back(cur);
  return out;
}

// The columns the report and earlier runs' readers know, with their meaning unchanged.
const std::vector<std::string> kKnownColumns = {
    "system",      "t_s",          "kind",           "model",        "event",
    "feasible",    "solve_us",     "selection",      "sparsities",   "est_accuracy",
    "measured_accuracy", "est_latency_ms", "measured_latency_ms", "deadline_ms", "inferences",
    "misses",      "memory_bytes", "memory_budget_bytes", "switch_bytes", "switch_ms",
    "latency_ratio"};

std::vector<Row> read_rows(const std::string& path) {
  std::istringstream in(read_text_file(path));
  std::string line;
  std::getline(in, line);
  const std::vector<std::string> header = split_csv(line);
  EXPECT_EQ(header, run_record_columns());
  std::vector<Row> rows;
  while (std::getline(in, line)) {
    auto f = split_csv(line);
    EXPECT_EQ(f.size(), header.size()) << line;
    Row r;
    for (size_t i = 0; i < header.size() && i < f.size(); ++i) r.cells[header[i]] = f[i];
    r.t = std::stod(r["t_s"]);
    r.kind = r["kind"];
    r.model = r["model"];
    r.event = r["event"];
    rows.push_back(std::move(r));
  }
  return rows;
}

Split random_images(int64_t n) {
  at::manual_seed(3);
  return Split{at::randn({n, 1, 32, 32}), at::randint(0, 10, {n}, at::kLong)};
}

}  // namespace

TEST(Scenario, RecordColumnsKeepTheirNamesAndOrder) {
  const auto& cols = run_record_columns();
  ASSERT_GE(cols.size(), kKnownColumns.size());
  EXPECT_EQ(std::vector<std::string>(cols.begin(), cols.begin() + kKnownColumns.size()), kKnownColumns);
  // Added at the end: what each switch did.
  EXPECT_EQ(std::vector<std::string>(cols.begin() + kKnownColumns.size(), cols.end()),
            (std::vector<std::string>{"switch_ok", "switch_error", "planned_selection", "planning_ratio", "miss_feedback",
                                      "decision"}));
}

TEST(Scenario, SmallScenarioRunsEndToEnd) {
  at::set_num_threads(1);
  TempDir tmp;
  write_profiled_tiny_repository(tmp.path + "/a", 1);
  write_profiled_tiny_repository(tmp.path + "/b", 2);
  json j = {{"duration_s", 2.4},
            {"step_s", 0.2},
            {"memory_mb", 10},
            {"window", 50},
            {"models", {{{"name", "a"}, {"repo", "a"}, {"deadline_ms", 50}, {"rate_hz", 100}},
                        {{"name", "b"}, {"repo", "b"}, {"deadline_ms", 50}, {"rate_hz", 100}}}},
            {"events", {{{"at_s", 0.5}, {"type", "memory"}, {"memory_mb", 0.1}},
                        {{"at_s", 0.9}, {"type", "deadline"}, {"model", "a"}, {"deadline_ms", 0.001}},
                        {{"at_s", 1.3}, {"type", "deadline"}, {"model", "a"}, {"deadline_ms", 50}},
                        {{"at_s", 1.5}, {"type", "leave"}, {"model", "b"}},
                        {{"at_s", 1.9}, {"type", "arrive"}, {"model", "b"}}}}};
  Scenario sc = parse_scenario(j, tmp.path + "/s.json", tmp.path);
  RunOptions o;
  o.csv = tmp.path + "/run.csv";
  o.inferences_csv = tmp.path + "/inferences.csv";
  o.progress = false;
  RunSummary r = run_scenario(sc, random_images(64), o);
  auto rows = read_rows(o.csv);

  // One trace row per counted inference (the serving threads' warm-up forwards are not), in time
  // order per model, each serving state's forwards numbered from 0.
  {
    std::istringstream in(read_text_file(o.inferences_csv));
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, "model,t_s,latency_ms,deadline_ms,missed,state_version,forwards_in_state");
    std::map<std::string, int64_t> count, missed;
    std::map<std::string, double> last;
    std::map<std::pair<std::string, std::string>, int64_t> in_state;
    while (std::getline(in, line)) {
      const auto f = split_csv(line);
      ASSERT_EQ(f.size(), 7u) << line;
      ++count[f[0]];
      missed[f[0]] += std::stoll(f[4]);
      // (printed to 4 decimals)
      if (f[4] == "1") EXPECT_GE(std::stod(f[2]), std::stod(f[3]) - 1e-4) << line;
      else EXPECT_LE(std::stod(f[2]), std::stod(f[3]) + 1e-4) << line;
      EXPECT_GE(std::stod(f[1]), last[f[0]]) << line;
      last[f[0]] = std::stod(f[1]);
      // A model that leaves and comes back starts its new opening's states at 0 again.
      auto& k = in_state[{f[0], f[5]}];
      if (std::stoll(f[6]) == 0) k = 0;
      EXPECT_EQ(std::stoll(f[6]), k) << line;
      ++k;
    }
    ASSERT_EQ(r.models.size(), 2u);
    for (const auto& m : r.models) {
      EXPECT_EQ(count[m.name], m.inferences) << m.name;
      EXPECT_EQ(missed[m.name], m.misses) << m.name;
    }
  }

  // Events in time order, each followed by a solve.
  std::vector<std::string> events;
  double last_t = -1;
  for (const auto& row : rows) {
    EXPECT_GE(row.t, last_t - 1e-9);
    last_t = row.t;
    if (row.kind == "event") events.push_back(row.event);
  }
  EXPECT_EQ(events, (std::vector<std::string>{"memory 0.1 MB", "deadline a 0.001 ms", "deadline a 50 ms", "leave b",
                                              "arrive b"}));
  // Start, one per event, and re-solves when the measured latency drifts from the (made-up) profile.
  EXPECT_GE(r.solves, 6);

  // The squeezed memory budget makes the models pick smaller blocks.
  auto switch_rows = [&](const std::string& why) {
    std::vector<Row> out;
    for (const auto& row : rows)
      if (row.kind == "switch" && row.event == why) out.push_back(row);
    return out;
  };
  auto start = switch_rows("start"), squeezed = switch_rows("memory 0.1 MB");
  ASSERT_EQ(start.size(), 2u);
  ASSERT_EQ(squeezed.size(), 2u);
  EXPECT_LT(std::stod(squeezed[0]["memory_bytes"]), std::stod(start[0]["memory_bytes"]));

  // The impossible deadline is marked infeasible; the model goes on serving.
  auto impossible = switch_rows("deadline a 0.001 ms");
  ASSERT_EQ(impossible.size(), 2u);
  EXPECT_EQ(impossible[0]["feasible"], "0");
  // The least-violating selection: the fastest descendant of every block (latency falls with MACs here).
  EXPECT_EQ(impossible[0]["sparsities"], "0.8;0.8;0.8;0.8;0.8;0.8;0.8;0.8;0.8");
  int64_t served_while_infeasible = 0;
  for (const auto& row : rows)
    if (row.kind == "step" && row.model == "a" && row["deadline_ms"] == "0.001")
      served_while_infeasible += std::stoll(row["inferences"]);
  EXPECT_GT(served_while_infeasible, 0);
  EXPECT_EQ(switch_rows("deadline a 50 ms")[0]["feasible"], "1");

  // The model that leaves is gone from the next solve and the steps, and its memory with it.
  auto after_leave = switch_rows("leave b");
  ASSERT_EQ(after_leave.size(), 1u);
  EXPECT_EQ(after_leave[0].model, "a");
  double left = 0, came_back = 0;
  for (const auto& row : rows) {
    if (row.kind == "event" && row.event == "leave b") left = row.t;
    if (row.kind == "event" && row.event == "arrive b") came_back = row.t;
  }
  for (const auto& row : rows)
    if (row.kind == "step" && row.t > left && row.t < came_back) EXPECT_EQ(row.model, "a") << "at " << row.t;
  auto back = switch_rows("arrive b");
  ASSERT_EQ(back.size(), 2u);
  // Every switch is recorded and took effect: the selection serving is the one planned.
  for (const auto& row : rows) {
    if (row.kind != "switch") continue;
    EXPECT_EQ(row["switch_ok"], "1") << row.event;
    EXPECT_EQ(row["switch_error"], "") << row.event;
    EXPECT_EQ(row["planned_selection"], row["selection"]) << row.event;
  }

  EXPECT_GT(r.inferences, 100);
  ASSERT_EQ(r.models.size(), 2u);
  // Openings read every byte from disk; the switches after them take some from the cache.
  int64_t switch_bytes = 0;
  for (const auto& row : rows)
    if (row.kind == "switch") switch_bytes += std::stoll(row["switch_bytes"]);
  EXPECT_EQ(r.bytes_moved, switch_bytes);
  EXPECT_GT(r.bytes_from_disk, 0);
  EXPECT_LE(r.bytes_from_disk, r.bytes_moved);
  EXPECT_EQ(r.bytes_from_disk, r.models[0].bytes_from_disk + r.models[1].bytes_from_disk);
  EXPECT_GE(r.models[0].configurations, 2);
  EXPECT_EQ(r.memory_violations, 0) << "the budget always admits the smallest blocks here";
  // Exactly the solves while the impossible deadline held were infeasible.
  int infeasible_rows = 0, solves_in_window = 0;
  for (const auto& row : rows) {
    if (row.kind != "switch" || row.model != "a") continue;
    bool in_window = row["deadline_ms"] == "0.001";  // the deadline this solve planned for
    EXPECT_EQ(row["feasible"], in_window ? "0" : "1") << "solve at " << row.t << " (" << row.event << ")";
    infeasible_rows += row["feasible"] == "0";
    solves_in_window += in_window;
  }
  EXPECT_EQ(r.infeasible_solves, infeasible_rows);
  EXPECT_EQ(solves_in_window, infeasible_rows);

  // The report helpers work on the run.
  auto table = summary_table({r}, 10);
  EXPECT_NE(table.find("deadline misses"), std::string::npos);
  write_summary_json({r}, tmp.path + "/summary.json");
  EXPECT_NE(read_text_file(tmp.path + "/summary.json").find("\"memory_violations\""), std::string::npos);
}

TEST(Scenario, MissingRepositoryFailsBeforeServing) {
  json j = {{"models", {{{"name", "a"}, {"repo", "/nonexistent/repo"}}}}};
  Scenario sc = parse_scenario(j, "s.json");
  RunOptions o;
  o.progress = false;
  EXPECT_THROWS_WITH(run_scenario(sc, random_images(4), o), IoError, "/nonexistent/repo");
}

TEST(Scenario, ArrivingModelThatCannotBeOpenedStaysOutAndServingGoesOn) {
  at::set_num_threads(1);
  TempDir tmp;
  write_profiled_tiny_repository(tmp.path + "/a", 1);
  write_profiled_tiny_repository(tmp.path + "/b", 2);
  json j = {{"duration_s", 1.0},
            {"step_s", 0.2},
            {"models", {{{"name", "a"}, {"repo", "a"}, {"rate_hz", 100}},
                        {{"name", "b"}, {"repo", "b"}, {"rate_hz", 100}, {"active", false}}}},
            {"events", {{{"at_s", 0.6}, {"type", "arrive"}, {"model", "b"}}}}};
  Scenario sc = parse_scenario(j, tmp.path + "/s.json", tmp.path);
  RunOptions o;
  o.csv = tmp.path + "/run.csv";
  o.progress = false;
  // The file is damaged while the scenario runs, after the runner checked every repository.
  std::thread damage([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    std::fstream f(tmp.path + "/b/blocks/b1_s0.pt", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x7f');
  });
  RunSummary r = run_scenario(sc, random_images(16), o);
  damage.join();
  bool reported = false;
  int64_t a_after = 0;
  const auto rows = read_rows(o.csv);
  for (const auto& row : rows) {
    if (row.kind == "event" && row.model == "b" && row.event.find("open failed") != std::string::npos) {
      reported = true;
      EXPECT_EQ(row["switch_ok"], "0");
      EXPECT_NE(row["switch_error"].find("b1_s0.pt"), std::string::npos) << row["switch_error"];
      EXPECT_NE(row["planned_selection"], "");
    }
    EXPECT_FALSE(row.kind == "step" && row.model == "b");
    if (row.kind == "step" && row.model == "a" && row.t > 0.65) a_after += std::stoll(row["inferences"]);
  }
  EXPECT_TRUE(reported);
  EXPECT_GT(a_after, 0);
  EXPECT_EQ(r.models[1].inferences, 0);
  // The solve without the model that failed is recorded too.
  int resolved = 0;
  for (const auto& row : rows)
    if (row.kind == "switch" && row.event == "a model failed to open") {
      EXPECT_EQ(row.model, "a");
      EXPECT_EQ(row["switch_ok"], "1");
      ++resolved;
    }
  EXPECT_EQ(resolved, 1);
}

TEST(Scenario, FailedSwitchIsRecordedAndTheOldSelectionServesOn) {
  at::set_num_threads(1);
  TempDir tmp;
  const std::string repo = tmp.path + "/a";
  write_profiled_tiny_repository(repo, 1);
  // Every pruned descendant truncated, with manifest checksums that match the damage: the runner's
  // opening passes (the original blocks are whole), and only a switch that loads one tells.
  auto man = json::parse(read_text_file(repo + "/manifest.json"));
  for (auto& b : man["blocks"])
    for (size_t d = 1; d < b["descendants"].size(); ++d) {
      const std::string path = repo + "/" + b["descendants"][d]["file"].get<std::string>();
      std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
      b["descendants"][d]["checksum"] = file_checksum(path);
    }
  atomic_write_file(repo + "/manifest.json", man.dump(1));
  json j = {{"duration_s", 1.0},
            {"step_s", 0.2},
            {"memory_mb", 10},
            {"models", {{{"name", "a"}, {"repo", "a"}, {"rate_hz", 100}}}},
            {"events", {{{"at_s", 0.5}, {"type", "memory"}, {"memory_mb", 0.001}}}}};
  Scenario sc = parse_scenario(j, tmp.path + "/s.json", tmp.path);
  RunOptions o;
  o.csv = tmp.path + "/run.csv";
  o.progress = false;
  RunSummary r = run_scenario(sc, random_images(16), o);
  const auto rows = read_rows(o.csv);
  const std::string originals = "0;0;0;0;0;0;0;0;0";
  std::vector<Row> squeezed;
  for (const auto& row : rows)
    if (row.kind == "switch" && row.event == "memory 0.001 MB") squeezed.push_back(row);
  ASSERT_EQ(squeezed.size(), 1u);
  EXPECT_EQ(squeezed[0]["switch_ok"], "0");
  EXPECT_NE(squeezed[0]["switch_error"].find("damaged tensor file"), std::string::npos) << squeezed[0]["switch_error"];
  // Nothing fits: the solve chose the least-violating (smaller) blocks...
  EXPECT_NE(squeezed[0]["planned_selection"], originals);
  EXPECT_EQ(squeezed[0]["selection"], originals);          // ...and the originals serve on
  EXPECT_EQ(squeezed[0]["switch_bytes"], "0");
  int64_t served_after = 0;
  for (const auto& row : rows)
    if (row.kind == "step" && row.t > squeezed[0].t) {
      EXPECT_EQ(row["selection"], originals);
      served_after += std::stoll(row["inferences"]);
    }
  EXPECT_GT(served_after, 0);
  ASSERT_EQ(r.models.size(), 1u);
  EXPECT_GE(r.models[0].failed_switches, 1);
}

TEST(Scenario, AModelWithItsOwnDataServesItsOwnImages) {
  at::set_num_threads(1);
  TempDir tmp;
  write_profiled_tiny_repository(tmp.path + "/a", 1);
  write_profiled_tiny_repository(tmp.path + "/b", 2);
  json j = {{"duration_s", 0.8},
            {"step_s", 0.2},
            {"window", 50},
            {"models", {{{"name", "a"}, {"repo", "a"}, {"rate_hz", 100}},
                        {{"name", "b"}, {"repo", "b"}, {"rate_hz", 100}, {"data", "b-images"}}}}};
  Scenario sc = parse_scenario(j, tmp.path + "/s.json", tmp.path);
  EXPECT_EQ(sc.models[1].data, tmp.path + "/b-images");  // relative to the scenario file
  EXPECT_EQ(sc.models[0].data, "");
  // b's own images carry a label no model predicts: none of its answers can be right; a serves the
  // shared images.
  Split own = random_images(8);
  own.labels.fill_(-1);
  RunOptions o;
  o.progress = false;
  o.model_tests["b"] = &own;
  RunSummary r = run_scenario(sc, random_images(64), o);
  ASSERT_EQ(r.models.size(), 2u);
  EXPECT_GT(r.models[1].inferences, 0);
  EXPECT_EQ(r.models[1].correct, 0);
  EXPECT_GT(r.models[0].inferences, 0);
}
