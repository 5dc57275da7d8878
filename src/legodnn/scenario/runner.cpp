#include "legodnn/scenario/runner.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <functional>
#include <future>
#include <iterator>
#include <limits>
#include <mutex>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <spdlog/spdlog.h>

#include "legodnn/data/fashion_mnist.h"
#include "legodnn/repository/repository.h"
#include "legodnn/runtime/from_repository.h"
#include "legodnn/runtime/latency_estimator.h"
#include "legodnn/runtime/scalable_model.h"
#include "legodnn/scenario/report.h"
#include "legodnn/util/error.h"
#include "legodnn/util/fs.h"

namespace legodnn {
namespace {

using Clock = std::chrono::steady_clock;

// Busy threads that stand for other work on the device.
class CpuLoad {
 public:
  ~CpuLoad() { set(0); }
  void set(int threads) {
    stop_ = true;
    for (auto& t : threads_) t.join();
    threads_.clear();
    stop_ = false;
    for (int i = 0; i < threads; ++i)
      threads_.emplace_back([this] {
        volatile double x = 1;
        while (!stop_.load(std::memory_order_relaxed))
          for (int k = 0; k < 10000; ++k) x = x * 1.0000001 + 1e-9;
      });
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

double median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

// Runs `f`, catching what opening, switching or running a model raises when its files are missing
// or damaged: our errors naming the file, or torch's on the tensors. Anything else is a bug and
// propagates.
template <class F>
bool expected_errors(F&& f, std::string& error) {
  try {
    f();
    return true;
  } catch (const Error& e) {
    error = e.what();
  } catch (const c10::Error& e) {
    error = e.what_without_backtrace();
  }
  return false;
}

// One model of the scenario: its system, its calibration and, while active, its serving thread.
struct Slot {
  ScenarioModel cfg;
  ModelSystem sys;
  double deadline_ms = 0;
  bool active = false;
  std::unique_ptr<Servable> served;
  std::thread thread;
  std::atomic<bool> stop{false};
  std::atomic<double> deadline_now{0};

  // Shared with the serving thread, guarded by mu.
  std::mutex mu;
  LatencyEstimator estimator{ModelChoiceSpec{}};
  MissRateController miss;
  std::deque<uint8_t> window;
  int64_t window_correct = 0;
  bool tracing = false;           // per-inference rows (RunOptions::inferences_csv)
  std::ostringstream trace;
  Clock::time_point run_start;
  std::vector<double> step_latency;
  int64_t step_inferences = 0, step_misses = 0;
  int64_t phase_inferences = 0, phase_correct = 0, phase_misses = 0;  // since the current phase began

  // The main thread's records.
  std::vector<int> selection;
  double est_accuracy = 0, est_latency_ms = 0;
  double ratio_at_solve = 1;     // the mean ratio when the last solve ran
  double planning_at_solve = 1;  // the planning ratio the last solve used
  ModelSummary summary;
  std::set<std::vector<int>> configs;
  double measured_sum = 0, estimated_sum = 0;
  int steps = 0;
};

// Serves requests at `first` and every period after it (back to back without a rate). A request
// whose time has passed when the previous one ends is skipped, as a camera's frame would be: the
// schedule keeps its phase.
//
// Before its first request the thread runs `warm_up` forwards of its own, uncounted, sets `warmed`
// and waits for `first` (the runner warms one thread at a time, so that no warm-up slows another
// model's counted forwards, then gives each its first request time).
void serve_loop(Slot& s, const Split& test, const std::vector<int64_t>& labels, int64_t offset, int window,
                int warm_up, std::promise<void> warmed, std::shared_future<Clock::time_point> first) {
  const int64_t n = test.size();
  const double period_s = s.cfg.rate_hz > 0 ? 1.0 / s.cfg.rate_hz : 0.0;
  const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(period_s));
  // The thread's own first forward is slow even after the opening's warm-up, which ran on the
  // opening thread: on resnet20 (legodnn run, one model) 5.6-7.4 ms against 1.6-1.9 for the next
  // ones; 1.6-1.7 ms after a forward of the thread's own.
  for (int w = 0; w < warm_up; ++w) {
    std::string error;
    if (!expected_errors([&] { s.served->snapshot().forward(test.images.narrow(0, offset % n, 1)); }, error)) {
      spdlog::error("{}: inference failed, the model stops serving: {}", s.cfg.name, error);
      warmed.set_value();
      return;
    }
  }
  warmed.set_value();
  auto next = first.get();
  if (period_s > 0) std::this_thread::sleep_until(next);
  // The first forwards of a new serving state are slow once (allocations, cold caches): they are
  // served and counted, but kept out of the latency tail the plan is made from, where a few of
  // them would hold the quantile up for a whole window.
  constexpr int kWarmForwards = 3;
  uint64_t version = ~uint64_t(0);
  int warm = 0;
  int64_t since_version = 0;
  for (int64_t i = offset; !s.stop.load(); ++i) {
    const int64_t k = i % n;
    at::Tensor x = test.images.narrow(0, k, 1);
    auto t0 = Clock::now();
    // The snapshot says which selection computes this forward, also when a switch commits meanwhile.
    const ServingSnapshot snap = s.served->snapshot();
    at::Tensor y;
    std::string error;
    if (!expected_errors([&] { y = snap.forward(x); }, error)) {
      // A failing model stops serving; the others go on and the step rows show it idle.
      spdlog::error("{}: inference failed, the model stops serving: {}", s.cfg.name, error);
      return;
    }
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    bool correct = y.argmax(1).item<int64_t>() == labels[k];
    {
      std::lock_guard<std::mutex> lock(s.mu);
      s.window.push_back(correct);
      s.window_correct += correct;
      if (static_cast<int>(s.window.size()) > window) {
        s.window_correct -= s.window.front();
        s.window.pop_front();
      }
      s.step_latency.push_back(ms);
      ++s.step_inferences;
      const double deadline_ms = s.deadline_now.load();
      const bool missed = ms > deadline_ms;
      s.step_misses += missed;
      ++s.phase_inferences;
      s.phase_correct += correct;
      s.phase_misses += missed;
      if (snap.version() != version) {
        version = snap.version();
        warm = kWarmForwards;
        since_version = 0;
      }
      if (s.tracing)
        s.trace << fmt::format("{},{:.6f},{:.4f},{:.4f},{},{},{}\n", csv_field(s.cfg.name),
                                std::chrono::duration<double>(t0 - s.run_start).count(), ms,
                                deadline_ms, missed ? 1 : 0, version, since_version);
      ++since_version;
      if (warm > 0) {
        --warm;
      } else {
        s.estimator.observe(snap.selection(), ms);
        s.miss.observe(ms / s.estimator.profiled_ms(snap.selection()), missed);
      }
    }
    if (period_s > 0) {
      next += period;
      const auto now = Clock::now();
      while (next < now) next += period;
      std::this_thread::sleep_until(next);
    }
  }
}

}  // namespace

ModelSystem legodnn_system(const std::string& dir, int warm_up_forwards) {
  Repository repo = Repository::open(dir);
  ModelSystem s;
  s.spec = choice_spec(repo.manifest(), dir);
  for (const auto& b : repo.manifest().blocks) {
    std::vector<double> sp;
    for (const auto& d : b.descendants) sp.push_back(d.sparsity);
    s.sparsity.push_back(sp);
  }
  s.open = [dir, warm_up_forwards](const std::vector<int>& selection) -> std::unique_ptr<Servable> {
    ScalableOptions o;
    o.initial = selection;
    o.warm_up_forwards = warm_up_forwards;
    o.cache_bytes = 0;  // the runner hands out what the budget leaves
    return std::make_unique<ScalableModel>(ScalableModel::open(dir, o));
  };
  return s;
}

const char* system_name(SystemKind k) { return k == SystemKind::LegoDnn ? "legodnn" : "model-grained"; }

namespace {

// The records' columns: the name and how the cell is written. The CSV header is made from the
// names, so header and rows cannot drift apart.
std::string num(double v) {
  if (!std::isfinite(v)) return std::string(std::isnan(v) ? "" : "inf");
  char b[64];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}
std::string num(const std::optional<double>& v) { return v ? num(*v) : ""; }
std::string integer(const std::optional<int64_t>& v) { return v ? std::to_string(*v) : ""; }
std::string flag(const std::optional<bool>& v) { return v ? (*v ? "1" : "0") : ""; }
std::string list(const std::vector<int>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ";" : "") + std::to_string(v[i]);
  return out;
}
std::string list(const std::vector<double>& v) {
  std::ostringstream s;
  for (size_t i = 0; i < v.size(); ++i) s << (i ? ";" : "") << v[i];
  return s.str();
}

struct Column {
  const char* name;
  std::string (*cell)(const RunRecord&);
};

// Names and meanings of the first 21 columns are what the report and earlier runs' readers know.
const Column kColumns[] = {
    {"system", [](const RunRecord& r) { return csv_field(r.system); }},
    {"t_s", [](const RunRecord& r) { return num(r.t_s); }},
    {"kind", [](const RunRecord& r) { return csv_field(r.kind); }},
    {"model", [](const RunRecord& r) { return csv_field(r.model); }},
    {"event", [](const RunRecord& r) { return csv_field(r.event); }},
    {"feasible", [](const RunRecord& r) { return flag(r.feasible); }},
    {"solve_us", [](const RunRecord& r) { return num(r.solve_us); }},
    {"selection", [](const RunRecord& r) { return list(r.selection); }},
    {"sparsities", [](const RunRecord& r) { return list(r.sparsities); }},
    {"est_accuracy", [](const RunRecord& r) { return num(r.est_accuracy); }},
    {"measured_accuracy", [](const RunRecord& r) { return num(r.measured_accuracy); }},
    {"est_latency_ms", [](const RunRecord& r) { return num(r.est_latency_ms); }},
    {"measured_latency_ms", [](const RunRecord& r) { return num(r.measured_latency_ms); }},
    {"deadline_ms", [](const RunRecord& r) { return num(r.deadline_ms); }},
    {"inferences", [](const RunRecord& r) { return integer(r.inferences); }},
    {"misses", [](const RunRecord& r) { return integer(r.misses); }},
    {"memory_bytes", [](const RunRecord& r) { return integer(r.memory_bytes); }},
    {"memory_budget_bytes", [](const RunRecord& r) { return num(r.memory_budget_bytes); }},
    {"switch_bytes", [](const RunRecord& r) { return integer(r.switch_bytes); }},
    {"switch_ms", [](const RunRecord& r) { return num(r.switch_ms); }},
    {"latency_ratio", [](const RunRecord& r) { return num(r.latency_ratio); }},
    {"switch_ok", [](const RunRecord& r) { return flag(r.switch_ok); }},
    {"switch_error", [](const RunRecord& r) { return csv_field(r.switch_error); }},
    {"planned_selection", [](const RunRecord& r) { return list(r.planned_selection); }},
    {"planning_ratio", [](const RunRecord& r) { return num(r.planning_ratio); }},
    {"miss_feedback", [](const RunRecord& r) { return num(r.miss_feedback); }},
    {"decision", [](const RunRecord& r) { return csv_field(r.decision); }},
};

// A model's estimated accuracy as reported. The optimizer's objective keeps the plain sum (it stays
// linear, so exact); summed drops may pass the teacher's accuracy, and no accuracy is below 0.
double reported_accuracy(const ScalingDecision& d, size_t model) { return std::max(0.0, d.accuracy[model]); }

std::string csv_line(const RunRecord& r) {
  std::string out;
  for (size_t i = 0; i < std::size(kColumns); ++i) out += (i ? "," : "") + kColumns[i].cell(r);
  return out + "\n";
}

std::string csv_header() {
  std::string out;
  for (size_t i = 0; i < std::size(kColumns); ++i) out += std::string(i ? "," : "") + kColumns[i].name;
  return out + "\n";
}

// A run of one scenario under one system. The steps: solve (the optimizer over the active
// models' calibrated tables), apply (switch the serving models, open the arriving ones), share
// the cache, apply an event, record a step; run() drives them along the scenario's clock.
class ScenarioRunner {
 public:
  // Opens every model's system first: a bad repository fails before anything runs.
  ScenarioRunner(const Scenario& sc, const Split& test, const RunOptions& o);
  ~ScenarioRunner() { stop_all(); }
  ScenarioRunner(const ScenarioRunner&) = delete;
  ScenarioRunner& operator=(const ScenarioRunner&) = delete;

  RunSummary run();

 private:
  // One solve's answer for the models active when it ran, in the decision's order.
  struct Plan {
    std::vector<Slot*> models;
    ScalingDecision decision;
    SwitchDecision why;
    double solve_us = 0;
    double budget_bytes = 0;
  };
  // One model's part of applying a plan.
  struct Applied {
    size_t index;  // in the plan
    SwitchReport report;
  };

  void resolve(const std::string& why);
  Plan solve(const std::string& why);
  bool apply(const Plan& p, std::vector<Applied>& done);
  bool open_model(Slot& s, const std::vector<int>& choice, SwitchReport& r);
  void start_serving(const std::vector<Slot*>& slots);
  Clock::time_point first_request(const Slot& s) const;
  void share_cache(const Plan& p);
  void record_switch(const Plan& p, const Applied& a, const std::string& why);
  void apply_event(const ScenarioEvent& e);
  void record_step();
  void close_phase();
  std::string resolve_reason();
  void refresh_tails();
  void stop_model(Slot& s);
  void stop_all();
  RunSummary summarize();

  Slot& slot_named(const std::string& name);
  RunRecord record(const char* kind, const std::string& model, const std::string& event) const;
  void write(const RunRecord& r) { csv_ << csv_line(r); }
  std::vector<double> sparsities(const Slot& s) const;
  double now_s() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  double budget_bytes() const {
    return std::isfinite(memory_mb_) ? memory_mb_ * 1e6 : std::numeric_limits<double>::infinity();
  }

  const Scenario& sc_;
  // The test images a model serves: its own (RunOptions::model_tests) or the run's.
  const Split& test_for(const std::string& model) const {
    auto it = o_.model_tests.find(model);
    return it == o_.model_tests.end() ? test_ : *it->second;
  }

  const Split& test_;
  const RunOptions o_;
  const std::string system_;
  std::map<std::string, std::vector<int64_t>> labels_;  // per model, of test_for(model)
  std::vector<std::unique_ptr<Slot>> slots_;
  double memory_mb_;
  CpuLoad cpu_;
  std::mt19937_64 rng_;
  std::ostringstream csv_;
  RunSummary run_;
  std::vector<double> solve_us_;
  std::vector<PhaseSummary> phases_;
  Clock::time_point start_;
};

ScenarioRunner::ScenarioRunner(const Scenario& sc, const Split& test, const RunOptions& o)
    : sc_(sc), test_(test), o_(o), system_(system_name(o.system)), memory_mb_(sc.memory_mb), rng_(o.seed) {
  if (test.size() == 0) throw OptionError("run_scenario: no test images");
  if (!(o.recalibrate > 0 && std::isfinite(o.recalibrate)))
    throw OptionError("run_scenario: recalibrate must be a positive number, got " + std::to_string(o.recalibrate));
  validate_policy(o.switching);
  ServingState::check_warm_up(o.warm_up);
  for (const auto& m : sc.models) {
    const Split& t = test_for(m.name);
    if (t.size() == 0) throw OptionError("run_scenario: no test images for model '" + m.name + "'");
    labels_[m.name].assign(t.labels.data_ptr<int64_t>(), t.labels.data_ptr<int64_t>() + t.size());
  }
  for (const auto& m : sc.models) {
    auto s = std::make_unique<Slot>();
    s->cfg = m;
    if (o.system == SystemKind::LegoDnn) {
      s->sys = legodnn_system(m.repo, o.warm_up);
    } else {
      if (m.baseline.empty()) throw OptionError("scenario model '" + m.name + "' has no \"baseline\" folder for the model-grained run");
      s->sys = model_grained_system(m.baseline, o.warm_up);
    }
    s->sys.spec.name = m.name;
    // Single forwards are noisy: smooth over about twenty of them.
    s->estimator = LatencyEstimator(s->sys.spec, 0.05);
    s->miss = MissRateController(o.miss);
    s->deadline_ms = m.deadline_ms;
    s->active = m.active;
    s->summary.name = m.name;
    s->tracing = !o.inferences_csv.empty();
    slots_.push_back(std::move(s));
  }
  run_.system = system_;
  csv_ << csv_header();
}

RunSummary ScenarioRunner::run() {
  start_ = Clock::now();
  for (auto& s : slots_) s->run_start = start_;
  phases_.push_back(PhaseSummary{"start"});
  resolve("start");
  size_t next_event = 0;
  int step = 1, check = 1;
  // Between steps, a check every 0.1 s: the latency tail is refreshed from the inferences so far
  // and a deadline at risk is re-planned then, not up to a step later (a load that grows makes
  // every inference of the old selection miss until the re-plan).
  const double check_s = std::min(sc_.step_s, 0.1);
  const double inf = std::numeric_limits<double>::infinity();
  while (true) {
    const double t_step = step * sc_.step_s;
    const double t_event = next_event < sc_.events.size() ? sc_.events[next_event].at_s : inf;
    const double t_check = check * check_s;
    const double t_next = std::min({t_step, t_event, t_check, sc_.duration_s});
    std::this_thread::sleep_until(start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(t_next)));
    if (t_event <= t_next && t_event <= sc_.duration_s) {
      // Every event due now, then one solve for all of them.
      close_phase();
      std::string why;
      while (next_event < sc_.events.size() && sc_.events[next_event].at_s <= t_event) {
        apply_event(sc_.events[next_event]);
        why += (why.empty() ? "" : "; ") + sc_.events[next_event].describe();
        ++next_event;
      }
      phases_.back().began_with = why;
      resolve(why);
      continue;
    }
    if (t_check <= t_next && t_check < t_step && t_check < sc_.duration_s) {
      ++check;
      refresh_tails();
      const std::string why = resolve_reason();
      if (!why.empty()) resolve(why);
      continue;
    }
    if (t_step > sc_.duration_s + 1e-9) break;
    record_step();
    const std::string why = resolve_reason();
    if (!why.empty()) resolve(why);
    ++step;
    while (check * check_s <= t_step + 1e-9) ++check;
  }
  stop_all();
  close_phase();
  phases_.pop_back();  // the empty phase close_phase opened
  cpu_.set(0);
  RunSummary out = summarize();
  if (!o_.csv.empty()) atomic_write_file(o_.csv, csv_.str());
  if (!o_.inferences_csv.empty()) {
    std::string rows = "model,t_s,latency_ms,deadline_ms,missed,state_version,forwards_in_state\n";
    for (const auto& s : slots_) rows += s->trace.str();
    atomic_write_file(o_.inferences_csv, rows);
  }
  return out;
}

// Solve and apply. A model that cannot be opened stays out, and the others are solved again
// without it, until every model of the plan serves.
void ScenarioRunner::resolve(const std::string& why) {
  for (std::string reason = why;; reason = "a model failed to open") {
    Plan p = solve(reason);
    if (p.models.empty()) return;
    std::vector<Applied> done;
    const bool all_serve = apply(p, done);
    if (all_serve) share_cache(p);
    for (const Applied& a : done) record_switch(p, a, reason);
    if (all_serve) return;
  }
}

ScenarioRunner::Plan ScenarioRunner::solve(const std::string& why) {
  Plan p;
  for (auto& s : slots_)
    if (s->active) p.models.push_back(s.get());
  if (p.models.empty()) return p;
  std::vector<ModelChoiceSpec> specs;
  std::vector<std::vector<int>> current;
  CachedOptions cached;
  for (Slot* s : p.models) {
    cached.push_back(s->served ? s->served->cached() : std::vector<std::vector<bool>>{});
    std::lock_guard<std::mutex> lock(s->mu);
    // Planned against the real deadline with the latency tail under the current load.
    ModelChoiceSpec spec = with_latency_scale(s->estimator.profiled(), s->miss.planning_ratio());
    spec.deadline_ms = s->deadline_ms;
    spec.weight = s->cfg.weight;
    spec.rate_hz = s->cfg.rate_hz;
    specs.push_back(spec);
    s->ratio_at_solve = s->estimator.ratio();
    s->planning_at_solve = s->miss.planning_ratio();
    current.push_back(s->served ? s->selection : std::vector<int>{});
  }
  SharedBudget budget;
  budget.memory_bytes = p.budget_bytes = budget_bytes();
  budget.processor_share = sc_.processor_share;
  const auto t0 = Clock::now();
  p.why = decide_switch(specs, budget, sc_.objective, current, o_.switching, cached);
  p.decision = p.why.decision;
  p.solve_us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
  LEGODNN_INTERNAL_ASSERT(p.decision.choice.size() == p.models.size() && p.decision.accuracy.size() == p.models.size() &&
                 p.decision.latency_ms.size() == p.models.size());
  solve_us_.push_back(p.solve_us);
  ++run_.solves;
  run_.infeasible_solves += !p.decision.feasible;
  if (o_.progress)
    spdlog::info("[{}] t={:.2f}s {}: {}, {} (est. objective {:.4f}, solved in {:.0f} us)", system_, now_s(), why,
                 p.decision.feasible ? "feasible" : "INFEASIBLE, serving the least-violating selection",
                 p.why.stays ? "stays" : "switches", p.decision.objective, p.solve_us);
  return p;
}

// Switches the serving models and opens the arriving ones, in the plan's order. Stops at the
// first model that cannot be opened (recorded, made inactive) and returns false. The models
// opened here start serving once all of them are open: opening is CPU work (files read,
// checksums, folding), and a model that served while the next one opened paid for it in its
// first inferences (at the start of the default scenario LegoDNN, whose opening reads and folds
// block by block, missed a deadline in the first half second of every run, the baseline in none).
bool ScenarioRunner::apply(const Plan& p, std::vector<Applied>& done) {
  std::vector<Slot*> opened;
  auto start_opened = [&] {
    start_serving(opened);
  };
  for (size_t i = 0; i < p.models.size(); ++i) {
    Slot& s = *p.models[i];
    const std::vector<int>& choice = p.decision.choice[i];
    SwitchReport r;
    if (!s.served) {
      if (!open_model(s, choice, r)) {
        start_opened();
        return false;
      }
      opened.push_back(&s);
    } else if (choice == s.selection) {
      r.ok = true;  // nothing to move
      r.selection = choice;
    } else {
      r = s.served->switch_to(choice);
      if (!r.ok) {
        ++s.summary.failed_switches;
        spdlog::warn("[{}] {}: switch failed, still serving the old selection: {}", system_, s.cfg.name, r.error);
      }
    }
    s.deadline_now = s.deadline_ms;
    if (r.ok) {
      if (s.selection != choice || r.bytes_from_disk + r.bytes_from_cache > 0) {
        ++s.summary.switches;
        ++phases_.back().switches;
      }
      phases_.back().bytes_moved += r.bytes_from_disk + r.bytes_from_cache;
      s.selection = choice;
      s.summary.bytes_moved += r.bytes_from_disk + r.bytes_from_cache;
      s.summary.bytes_from_disk += r.bytes_from_disk;
      s.summary.switch_ms += r.total_ms;
      s.configs.insert(choice);
      s.est_accuracy = reported_accuracy(p.decision, i);
      s.est_latency_ms = p.decision.latency_ms[i];
    }
    done.push_back({i, std::move(r)});
  }
  start_opened();
  return true;
}

// The first request time of a model that starts serving now: the next point of its schedule,
// start + phase + k periods, where the phase staggers the models over the period unless the
// scenario aligns them (scenario.h).
Clock::time_point ScenarioRunner::first_request(const Slot& s) const {
  const auto now = Clock::now();
  if (!(s.cfg.rate_hz > 0)) return now;
  const double period_s = 1.0 / s.cfg.rate_hz;
  size_t index = 0;
  while (index < slots_.size() && slots_[index].get() != &s) ++index;
  const double phase_s = sc_.aligned_arrivals ? 0.0 : period_s * static_cast<double>(index) / slots_.size();
  const double since_s = std::chrono::duration<double>(now - start_).count();
  const double k = std::max(0.0, std::ceil((since_s - phase_s) / period_s));
  return start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(phase_s + k * period_s));
}

// Opens an arriving model at `choice` (start_serving starts its thread); on failure records it
// and makes the model inactive.
bool ScenarioRunner::open_model(Slot& s, const std::vector<int>& choice, SwitchReport& r) {
  const auto t0 = Clock::now();
  std::string error;
  if (!expected_errors([&] { s.served = s.sys.open(choice); }, error)) {
    spdlog::error("[{}] {} cannot be opened and stays inactive: {}", system_, s.cfg.name, error);
    RunRecord rec = record("event", s.cfg.name, "open failed: " + error);
    rec.switch_ok = false;
    rec.switch_error = error;
    rec.planned_selection = choice;
    write(rec);
    s.active = false;
    return false;
  }
  r.ok = true;
  r.selection = choice;
  r.bytes_from_disk = s.served->memory().total();
  r.total_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  s.deadline_now = s.deadline_ms;
  return true;
}

// Starts the serving threads of the models open_model opened: one at a time, each running its
// warm-up forwards (serve_loop) before the next starts; then each at its next request time.
void ScenarioRunner::start_serving(const std::vector<Slot*>& slots) {
  std::vector<std::promise<Clock::time_point>> first(slots.size());
  for (size_t i = 0; i < slots.size(); ++i) {
    Slot& s = *slots[i];
    const Split& test = test_for(s.cfg.name);
    const int64_t offset = static_cast<int64_t>(rng_() % static_cast<uint64_t>(test.size()));
    std::promise<void> warmed;
    std::future<void> warm_done = warmed.get_future();
    s.thread = std::thread(serve_loop, std::ref(s), std::cref(test), std::cref(labels_.at(s.cfg.name)), offset,
                           sc_.window, o_.warm_up, std::move(warmed), first[i].get_future().share());
    warm_done.wait();
  }
  for (size_t i = 0; i < slots.size(); ++i) first[i].set_value(first_request(*slots[i]));
}

// The cache of each model gets an equal share of what the active blocks leave of the budget.
void ScenarioRunner::share_cache(const Plan& p) {
  double used = 0;
  for (Slot* s : p.models) {
    MemoryUse m = s->served->memory();
    used += static_cast<double>(m.frame_bytes + m.active_bytes);
  }
  const double n = static_cast<double>(p.models.size());
  const double left = std::isfinite(p.budget_bytes) ? std::max(0.0, p.budget_bytes - used) : 64e6 * n;
  for (Slot* s : p.models) s->served->set_cache_limit(static_cast<int64_t>(left / n));
}

void ScenarioRunner::record_switch(const Plan& p, const Applied& a, const std::string& why) {
  const Slot& s = *p.models[a.index];
  RunRecord r = record("switch", s.cfg.name, why);
  r.feasible = p.decision.feasible;
  r.solve_us = p.solve_us;
  r.selection = s.selection;
  r.sparsities = sparsities(s);
  r.est_accuracy = reported_accuracy(p.decision, a.index);
  r.est_latency_ms = p.decision.latency_ms[a.index];
  r.deadline_ms = s.deadline_ms;
  r.memory_bytes = s.served->memory().total();
  r.memory_budget_bytes = p.budget_bytes;
  r.switch_bytes = a.report.bytes_from_disk + a.report.bytes_from_cache;
  r.switch_ms = a.report.total_ms;
  r.latency_ratio = s.ratio_at_solve;
  r.switch_ok = a.report.ok;
  r.switch_error = a.report.error;
  r.planned_selection = p.decision.choice[a.index];
  r.planning_ratio = s.planning_at_solve;
  r.decision = p.why.why;
  {
    std::lock_guard<std::mutex> lock(p.models[a.index]->mu);
    r.miss_feedback = s.miss.feedback();
  }
  write(r);
}

void ScenarioRunner::apply_event(const ScenarioEvent& e) {
  switch (e.kind) {
    case ScenarioEvent::Kind::Memory: memory_mb_ = e.value; break;
    case ScenarioEvent::Kind::Deadline: slot_named(e.model).deadline_ms = e.value; break;
    case ScenarioEvent::Kind::Arrive: slot_named(e.model).active = true; break;
    case ScenarioEvent::Kind::Leave: {
      Slot& s = slot_named(e.model);
      s.active = false;
      stop_model(s);
      break;
    }
    case ScenarioEvent::Kind::CpuLoad: cpu_.set(static_cast<int>(e.value)); break;
  }
  write(record("event", e.model, e.describe()));
}

void ScenarioRunner::record_step() {
  double total_memory = 0;
  const double t = now_s();
  for (auto& slot : slots_) {
    Slot& s = *slot;
    if (!s.served) continue;
    double acc, lat, ratio, planning, feedback;
    int64_t inf, miss;
    {
      std::lock_guard<std::mutex> lock(s.mu);
      s.miss.update();  // one control period per step
      planning = s.miss.planning_ratio();
      feedback = s.miss.feedback();
      acc = s.window.empty() ? std::nan("") : static_cast<double>(s.window_correct) / s.window.size();
      lat = median(s.step_latency);
      inf = s.step_inferences;
      miss = s.step_misses;
      ratio = s.estimator.ratio();
      s.step_latency.clear();
      s.step_inferences = s.step_misses = 0;
    }
    const int64_t mem = s.served->memory().total();
    total_memory += static_cast<double>(mem);
    if (std::isfinite(acc)) {
      s.measured_sum += acc;
      s.estimated_sum += s.est_accuracy;
      ++s.steps;
    }
    RunRecord r = record("step", s.cfg.name, "");
    r.t_s = t;
    r.selection = s.selection;
    r.sparsities = sparsities(s);
    r.est_accuracy = s.est_accuracy;
    r.measured_accuracy = acc;
    r.est_latency_ms = s.est_latency_ms;
    r.measured_latency_ms = lat;
    r.deadline_ms = s.deadline_ms;
    r.inferences = inf;
    r.misses = miss;
    r.memory_bytes = mem;
    r.memory_budget_bytes = budget_bytes();
    r.latency_ratio = ratio;
    r.planning_ratio = planning;
    r.miss_feedback = feedback;
    write(r);
  }
  ++run_.steps;
  if (total_memory > budget_bytes() * (1 + 1e-9)) ++run_.memory_violations;
}

// Why to solve again between events: a serving selection whose planned latency now breaks its
// deadline (it must move), or a load that eased (a better selection may clear the hysteresis).
// Empty: no reason.
std::string ScenarioRunner::resolve_reason() {
  for (auto& s : slots_) {
    if (!s->served) continue;
    std::lock_guard<std::mutex> lock(s->mu);
    switch (replan_reason(s->estimator.profiled_ms(s->selection), s->deadline_ms, s->miss.planning_ratio(),
                          s->planning_at_solve, o_.recalibrate)) {
      case Replan::DeadlineAtRisk: return s->cfg.name + ": deadline at risk";
      case Replan::LoadEased: return s->cfg.name + ": load eased";
      case Replan::None: break;
    }
  }
  return "";
}

// Every serving model's planning ratio from the tail of its inferences so far (the feedback moves
// only at steps).
void ScenarioRunner::refresh_tails() {
  for (auto& s : slots_) {
    if (!s->served) continue;
    std::lock_guard<std::mutex> lock(s->mu);
    s->miss.refresh();
  }
}

// Ends the current phase now (its counts harvested from every model, also those that left: their
// threads have stopped and their counters hold what they served) and begins the next.
void ScenarioRunner::close_phase() {
  PhaseSummary& ph = phases_.back();
  ph.end_s = now_s();
  for (auto& slot : slots_) {
    Slot& s = *slot;
    std::lock_guard<std::mutex> lock(s.mu);
    ph.inferences += s.phase_inferences;
    ph.correct += s.phase_correct;
    ph.misses += s.phase_misses;
    s.summary.inferences += s.phase_inferences;
    s.summary.correct += s.phase_correct;
    s.summary.misses += s.phase_misses;
    s.phase_inferences = s.phase_correct = s.phase_misses = 0;
  }
  PhaseSummary next;
  next.start_s = ph.end_s;
  phases_.push_back(next);
}

void ScenarioRunner::stop_model(Slot& s) {
  if (!s.served) return;
  s.stop = true;
  if (s.thread.joinable()) s.thread.join();  // not yet started when an exception left apply()
  s.served.reset();  // its memory is freed here, before the next solve
  s.stop = false;
}

void ScenarioRunner::stop_all() {
  for (auto& s : slots_) stop_model(*s);
}

RunSummary ScenarioRunner::summarize() {
  RunSummary run = run_;
  double msum = 0, esum = 0;
  int n = 0;
  for (auto& s : slots_) {
    ModelSummary ms = s->summary;
    ms.configurations = static_cast<int>(s->configs.size());
    ms.mean_measured_accuracy = s->steps ? s->measured_sum / s->steps : std::nan("");
    ms.mean_estimated_accuracy = s->steps ? s->estimated_sum / s->steps : std::nan("");
    msum += s->measured_sum;
    esum += s->estimated_sum;
    n += s->steps;
    run.inferences += ms.inferences;
    run.misses += ms.misses;
    run.correct += ms.correct;
    run.switches += ms.switches;
    run.bytes_moved += ms.bytes_moved;
    run.bytes_from_disk += ms.bytes_from_disk;
    run.switch_ms += ms.switch_ms;
    run.configurations += ms.configurations;
    run.models.push_back(ms);
  }
  run.mean_measured_accuracy = n ? msum / n : std::nan("");
  run.mean_estimated_accuracy = n ? esum / n : std::nan("");
  run.median_solve_us = median(solve_us_);
  run.phases = phases_;
  return run;
}

Slot& ScenarioRunner::slot_named(const std::string& name) {
  Slot* found = nullptr;
  for (auto& s : slots_)
    if (s->cfg.name == name) found = s.get();
  // parse_scenario checks that every event names a model of the scenario.
  LEGODNN_INTERNAL_ASSERT(found, "an event names the unknown model '" + name + "'");
  return *found;
}

RunRecord ScenarioRunner::record(const char* kind, const std::string& model, const std::string& event) const {
  RunRecord r;
  r.system = system_;
  r.t_s = now_s();
  r.kind = kind;
  r.model = model;
  r.event = event;
  return r;
}

std::vector<double> ScenarioRunner::sparsities(const Slot& s) const {
  std::vector<double> sp;
  for (size_t b = 0; b < s.selection.size(); ++b) sp.push_back(s.sys.sparsity[b][s.selection[b]]);
  return sp;
}

}  // namespace

const std::vector<std::string>& run_record_columns() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const Column& c : kColumns) n.push_back(c.name);
    return n;
  }();
  return names;
}

RunSummary run_scenario(const Scenario& sc, const Split& test, const RunOptions& o) {
  return ScenarioRunner(sc, test, o).run();
}

void warm_up_process(const Scenario& sc, const Split& test, const std::vector<SystemKind>& systems,
                     const RunOptions& o, double seconds) {
  LEGODNN_CHECK(seconds >= 0 && std::isfinite(seconds), OptionError,
                "process warm-up: seconds must be a finite number >= 0, got ", seconds);
  if (seconds == 0) return;
  Scenario warm = sc;
  warm.name += " (warm-up)";
  warm.duration_s = seconds;
  warm.step_s = std::min(sc.step_s, seconds);
  warm.memory_mb = std::numeric_limits<double>::infinity();
  warm.events.clear();
  for (auto& m : warm.models) m.active = true;
  for (SystemKind k : systems) {
    RunOptions w = o;
    w.system = k;
    w.csv.clear();
    w.inferences_csv.clear();
    w.progress = false;
    run_scenario(warm, test, w);
  }
}

void write_summary_json(const std::vector<RunSummary>& runs, const std::string& path) {
  nlohmann::json j = nlohmann::json::array();
  auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  for (const auto& r : runs) {
    nlohmann::json models = nlohmann::json::array();
    for (const auto& m : r.models)
      models.push_back({{"name", m.name}, {"inferences", m.inferences}, {"misses", m.misses}, {"correct", m.correct},
                        {"mean_measured_accuracy", num(m.mean_measured_accuracy)},
                        {"mean_estimated_accuracy", num(m.mean_estimated_accuracy)}, {"switches", m.switches},
                        {"failed_switches", m.failed_switches}, {"bytes_moved", m.bytes_moved},
                        {"bytes_from_disk", m.bytes_from_disk},
                        {"switch_ms", m.switch_ms}, {"configurations", m.configurations}});
    nlohmann::json phases = nlohmann::json::array();
    for (const auto& p : r.phases)
      phases.push_back({{"began_with", p.began_with}, {"start_s", p.start_s}, {"end_s", p.end_s},
                        {"inferences", p.inferences}, {"correct", p.correct}, {"misses", p.misses},
                        {"switches", p.switches}, {"bytes_moved", p.bytes_moved}});
    const AccuracyInterval ci = accuracy_interval(r.correct, r.inferences);
    j.push_back({{"system", r.system}, {"solves", r.solves}, {"infeasible_solves", r.infeasible_solves},
                 {"served_accuracy", num(ci.accuracy)}, {"served_accuracy_ci95", {num(ci.low), num(ci.high)}},
                 {"correct", r.correct}, {"switches", r.switches}, {"phases", phases},
                 {"median_solve_us", num(r.median_solve_us)}, {"steps", r.steps},
                 {"memory_violations", r.memory_violations}, {"mean_measured_accuracy", num(r.mean_measured_accuracy)},
                 {"mean_estimated_accuracy", num(r.mean_estimated_accuracy)}, {"inferences", r.inferences},
                 {"misses", r.misses}, {"bytes_moved", r.bytes_moved}, {"bytes_from_disk", r.bytes_from_disk}, {"switch_ms", r.switch_ms},
                 {"configurations", r.configurations}, {"models", models}});
  }
  atomic_write_file(path, j.dump(2) + "\n");
}

}  // namespace legodnn
