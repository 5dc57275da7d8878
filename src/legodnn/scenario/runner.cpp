#include "legodnn/scenario/runner.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <functional>
#include <mutex>
#include <numeric>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include "legodnn/data/fashion_mnist.h"
#include "legodnn/repository/repository.h"
#include "legodnn/runtime/from_repository.h"
#include "legodnn/runtime/latency_estimator.h"
#include "legodnn/util/error.h"
#include "legodnn/util/fs.h"

namespace legodnn {
namespace {

using Clock = std::chrono::steady_clock;

class ScalableServed : public ServedModel {
 public:
  explicit ScalableServed(ScalableModel m) : m_(std::move(m)) {}
  at::Tensor forward(const at::Tensor& x, std::vector<int>* ran_with) const override {
    ServingSnapshot s = m_.snapshot();
    at::Tensor y = s.forward(x);
    if (ran_with) *ran_with = s.selection();
    return y;
  }
  SwitchReport switch_to(const std::vector<int>& selection) override { return m_.switch_to(selection); }
  MemoryUse memory() const override { return m_.memory(); }
  void set_cache_limit(int64_t bytes) override { m_.set_cache_limit(bytes); }

 private:
  ScalableModel m_;
};

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

std::string join(const std::vector<double>& v) {
  std::ostringstream s;
  for (size_t i = 0; i < v.size(); ++i) s << (i ? ";" : "") << v[i];
  return s.str();
}

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

// One model of the scenario: its system, its calibration and, while active, its serving thread.
struct Slot {
  ScenarioModel cfg;
  ModelSystem sys;
  double deadline_ms = 0;
  bool active = false;
  std::unique_ptr<ServedModel> served;
  std::thread thread;
  std::atomic<bool> stop{false};
  std::atomic<double> deadline_now{0};

  // Shared with the serving thread, guarded by mu.
  std::mutex mu;
  LatencyEstimator estimator{ModelChoiceSpec{}};
  std::deque<uint8_t> window;
  int64_t window_correct = 0;
  std::vector<double> step_latency;
  int64_t step_inferences = 0, step_misses = 0;

  // The main thread's records.
  std::vector<int> selection;
  double est_accuracy = 0, est_latency_ms = 0;
  double ratio_at_solve = 1;
  ModelSummary summary;
  std::set<std::vector<int>> configs;
  double measured_sum = 0, estimated_sum = 0;
  int steps = 0;
};

void serve_loop(Slot& s, const Split& test, const std::vector<int64_t>& labels, int64_t offset, int window) {
  const int64_t n = test.size();
  const double period_s = s.cfg.rate_hz > 0 ? 1.0 / s.cfg.rate_hz : 0.0;
  auto next = Clock::now();
  std::vector<int> ran;
  for (int64_t i = offset; !s.stop.load(); ++i) {
    const int64_t k = i % n;
    at::Tensor x = test.images.narrow(0, k, 1);
    auto t0 = Clock::now();
    at::Tensor y;
    try {
      y = s.served->forward(x, &ran);
    } catch (const std::exception& e) {
      // A failing model stops serving; the others go on and the step rows show it idle.
      spdlog::error("{}: inference failed, the model stops serving: {}", s.cfg.name, e.what());
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
      s.step_misses += ms > s.deadline_now.load();
      s.estimator.observe(ran, ms);
    }
    if (period_s > 0) {
      next += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(period_s));
      auto now = Clock::now();
      if (next < now) next = now;
      else std::this_thread::sleep_until(next);
    }
  }
}

}  // namespace

ModelSystem legodnn_system(const std::string& dir) {
  Repository repo = Repository::open(dir);
  ModelSystem s;
  s.spec = choice_spec(repo.manifest(), dir);
  for (const auto& b : repo.manifest().blocks) {
    std::vector<double> sp;
    for (const auto& d : b.descendants) sp.push_back(d.sparsity);
    s.sparsity.push_back(sp);
  }
  s.open = [dir](const std::vector<int>& selection) -> std::unique_ptr<ServedModel> {
    ScalableOptions o;
    o.initial = selection;
    o.cache_bytes = 0;  // the runner hands out what the budget leaves
    return std::make_unique<ScalableServed>(ScalableModel::open(dir, o));
  };
  return s;
}

const char* system_name(SystemKind k) { return k == SystemKind::LegoDnn ? "legodnn" : "model-grained"; }

RunSummary run_scenario(const Scenario& sc, const Split& test, const RunOptions& o) {
  if (test.size() == 0) throw OptionError("run_scenario: no test images");
  if (!(o.deadline_margin >= 0 && o.deadline_margin < 1))
    throw OptionError("run_scenario: deadline margin must be in [0, 1), got " + std::to_string(o.deadline_margin));
  std::vector<int64_t> labels(test.labels.data_ptr<int64_t>(), test.labels.data_ptr<int64_t>() + test.size());
  // Open every model's system first: a bad repository fails before anything runs.
  std::vector<std::unique_ptr<Slot>> slots;
  for (const auto& m : sc.models) {
    auto s = std::make_unique<Slot>();
    s->cfg = m;
    if (o.system == SystemKind::LegoDnn) {
      s->sys = legodnn_system(m.repo);
    } else {
      if (m.baseline.empty()) throw OptionError("scenario model '" + m.name + "' has no \"baseline\" folder for the model-grained run");
      s->sys = model_grained_system(m.baseline);
    }
    s->sys.spec.name = m.name;
    // Single forwards are noisy: smooth over about twenty of them.
    s->estimator = LatencyEstimator(s->sys.spec, 0.05);
    s->deadline_ms = m.deadline_ms;
    s->active = m.active;
    s->summary.name = m.name;
    slots.push_back(std::move(s));
  }
  const std::string system = system_name(o.system);
  double memory_mb = sc.memory_mb;
  CpuLoad cpu;
  std::mt19937_64 rng(o.seed);

  std::ostringstream csv;
  csv << "system,t_s,kind,model,event,feasible,solve_us,selection,sparsities,est_accuracy,measured_accuracy,"
         "est_latency_ms,measured_latency_ms,deadline_ms,inferences,misses,memory_bytes,memory_budget_bytes,"
         "switch_bytes,switch_ms,latency_ratio\n";
  RunSummary run;
  run.system = system;
  std::vector<double> solve_us;
  const auto start = Clock::now();
  auto now_s = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  auto budget_bytes = [&] { return std::isfinite(memory_mb) ? memory_mb * 1e6 : std::numeric_limits<double>::infinity(); };
  auto fmt = [](double v) {
    if (!std::isfinite(v)) return std::string(std::isnan(v) ? "" : "inf");
    char b[64];
    std::snprintf(b, sizeof b, "%.6g", v);
    return std::string(b);
  };

  auto stop_model = [&](Slot& s) {
    if (!s.served) return;
    s.stop = true;
    s.thread.join();
    s.served.reset();  // its memory is freed here, before the next solve
    s.stop = false;
  };

  std::function<void(const std::string&)> solve = [&](const std::string& why) {
    std::vector<Slot*> act;
    for (auto& s : slots)
      if (s->active) act.push_back(s.get());
    if (act.empty()) return;
    std::vector<ModelChoiceSpec> specs;
    for (Slot* s : act) {
      std::lock_guard<std::mutex> lock(s->mu);
      ModelChoiceSpec spec = s->estimator.calibrated();
      spec.deadline_ms = s->deadline_ms * (1 - o.deadline_margin);
      spec.weight = s->cfg.weight;
      spec.rate_hz = s->cfg.rate_hz;
      specs.push_back(spec);
      s->ratio_at_solve = s->estimator.ratio();
    }
    SharedBudget budget;
    budget.memory_bytes = budget_bytes();
    budget.processor_share = sc.processor_share;
    auto t0 = Clock::now();
    ScalingDecision d = optimize(specs, budget, sc.objective);
    double us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    solve_us.push_back(us);
    ++run.solves;
    run.infeasible_solves += !d.feasible;
    if (o.progress)
      spdlog::info("[{}] t={:.2f}s {}: {} (est. objective {:.4f}, solved in {:.0f} us)", system, now_s(), why,
                   d.feasible ? "feasible" : "INFEASIBLE, serving the least-violating selection", d.objective, us);
    // Apply: switch the running models, open the arriving ones.
    std::vector<SwitchReport> reports(act.size());
    for (size_t i = 0; i < act.size(); ++i) {
      Slot& s = *act[i];
      const auto& choice = d.choice[i];
      if (!s.served) {
        auto t1 = Clock::now();
        try {
          s.served = s.sys.open(choice);
        } catch (const Error& e) {
          // A model that cannot be loaded stays out; the others are re-solved without it.
          spdlog::error("[{}] {} cannot be opened and stays inactive: {}", system, s.cfg.name, e.what());
          csv << system << ',' << fmt(now_s()) << ",event," << csv_field(s.cfg.name) << ','
              << csv_field("open failed: " + std::string(e.what())) << ",,,,,,,,,,,,,,,,\n";
          s.active = false;
          return solve("a model failed to open");
        }
        reports[i].ok = true;
        reports[i].selection = choice;
        reports[i].bytes_from_disk = s.served->memory().total();
        reports[i].total_ms = std::chrono::duration<double, std::milli>(Clock::now() - t1).count();
        s.deadline_now = s.deadline_ms;
        int64_t offset = static_cast<int64_t>(rng() % static_cast<uint64_t>(test.size()));
        s.thread = std::thread(serve_loop, std::ref(s), std::cref(test), std::cref(labels), offset, sc.window);
      } else {
        reports[i] = s.served->switch_to(choice);
        if (!reports[i].ok) {
          ++s.summary.failed_switches;
          spdlog::warn("[{}] {}: switch failed, still serving the old selection: {}", system, s.cfg.name, reports[i].error);
        }
      }
      s.deadline_now = s.deadline_ms;
      if (reports[i].ok) {
        if (s.selection != choice || reports[i].bytes_from_disk + reports[i].bytes_from_cache > 0) ++s.summary.switches;
        s.selection = choice;
        s.summary.bytes_moved += reports[i].bytes_from_disk + reports[i].bytes_from_cache;
        s.summary.switch_ms += reports[i].total_ms;
        s.configs.insert(choice);
        s.est_accuracy = d.accuracy[i];
        s.est_latency_ms = d.latency_ms[i];
      }
    }
    // The cache of each model gets an equal share of what the active blocks leave of the budget.
    double used = 0;
    for (Slot* s : act) {
      MemoryUse m = s->served->memory();
      used += static_cast<double>(m.frame_bytes + m.active_bytes);
    }
    double left = std::isfinite(budget.memory_bytes) ? std::max(0.0, budget.memory_bytes - used) : 64e6 * act.size();
    for (Slot* s : act) s->served->set_cache_limit(static_cast<int64_t>(left / act.size()));
    for (size_t i = 0; i < act.size(); ++i) {
      Slot& s = *act[i];
      std::vector<double> sp;
      for (size_t b = 0; b < s.selection.size(); ++b) sp.push_back(s.sys.sparsity[b][s.selection[b]]);
      std::vector<double> sel(s.selection.begin(), s.selection.end());
      csv << system << ',' << fmt(now_s()) << ",switch," << csv_field(s.cfg.name) << ',' << csv_field(why) << ','
          << (d.feasible ? 1 : 0) << ',' << fmt(us) << ',' << join(sel) << ',' << join(sp) << ',' << fmt(d.accuracy[i])
          << ",," << fmt(d.latency_ms[i]) << ",," << fmt(s.deadline_ms) << ",,," << s.served->memory().total() << ','
          << fmt(budget.memory_bytes) << ',' << (reports[i].bytes_from_disk + reports[i].bytes_from_cache) << ','
          << fmt(reports[i].total_ms) << ',' << fmt(s.ratio_at_solve) << '\n';
    }
  };

  auto apply_event = [&](const ScenarioEvent& e) {
    Slot* target = nullptr;
    for (auto& s : slots)
      if (s->cfg.name == e.model) target = s.get();
    switch (e.kind) {
      case ScenarioEvent::Kind::Memory: memory_mb = e.value; break;
      case ScenarioEvent::Kind::Deadline: target->deadline_ms = e.value; break;
      case ScenarioEvent::Kind::Arrive: target->active = true; break;
      case ScenarioEvent::Kind::Leave:
        target->active = false;
        stop_model(*target);
        break;
      case ScenarioEvent::Kind::CpuLoad: cpu.set(static_cast<int>(e.value)); break;
    }
    csv << system << ',' << fmt(now_s()) << ",event," << csv_field(e.model) << ',' << csv_field(e.describe())
        << ",,,,,,,,,,,,,,,,\n";
  };

  auto record_step = [&] {
    double total_memory = 0;
    const double t = now_s();
    for (auto& slot : slots) {
      Slot& s = *slot;
      if (!s.served) continue;
      double acc, lat;
      int64_t inf, miss;
      double ratio;
      {
        std::lock_guard<std::mutex> lock(s.mu);
        acc = s.window.empty() ? std::nan("") : static_cast<double>(s.window_correct) / s.window.size();
        lat = median(s.step_latency);
        inf = s.step_inferences;
        miss = s.step_misses;
        ratio = s.estimator.ratio();
        s.step_latency.clear();
        s.step_inferences = s.step_misses = 0;
      }
      int64_t mem = s.served->memory().total();
      total_memory += static_cast<double>(mem);
      s.summary.inferences += inf;
      s.summary.misses += miss;
      if (std::isfinite(acc)) {
        s.measured_sum += acc;
        s.estimated_sum += s.est_accuracy;
        ++s.steps;
      }
      std::vector<double> sp, sel(s.selection.begin(), s.selection.end());
      for (size_t b = 0; b < s.selection.size(); ++b) sp.push_back(s.sys.sparsity[b][s.selection[b]]);
      csv << system << ',' << fmt(t) << ",step," << csv_field(s.cfg.name) << ",,,," << join(sel) << ',' << join(sp) << ','
          << fmt(s.est_accuracy) << ',' << fmt(acc) << ',' << fmt(s.est_latency_ms) << ',' << fmt(lat) << ','
          << fmt(s.deadline_ms) << ',' << inf << ',' << miss << ',' << mem << ',' << fmt(budget_bytes()) << ",,,"
          << fmt(ratio) << '\n';
    }
    ++run.steps;
    if (total_memory > budget_bytes() * (1 + 1e-9)) ++run.memory_violations;
  };

  auto drifted = [&] {
    for (auto& s : slots) {
      if (!s->served) continue;
      std::lock_guard<std::mutex> lock(s->mu);
      if (std::abs(s->estimator.ratio() / s->ratio_at_solve - 1) > o.recalibrate) return true;
    }
    return false;
  };

  try {
    solve("start");
    size_t next_event = 0;
    int step = 1;
    while (true) {
      double t_step = step * sc.step_s;
      double t_event = next_event < sc.events.size() ? sc.events[next_event].at_s : std::numeric_limits<double>::infinity();
      double t_next = std::min({t_step, t_event, sc.duration_s});
      std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(t_next)));
      if (t_event <= t_step && t_event <= sc.duration_s) {
        // Every event due now, then one solve for all of them.
        std::string why;
        while (next_event < sc.events.size() && sc.events[next_event].at_s <= t_event) {
          apply_event(sc.events[next_event]);
          why += (why.empty() ? "" : "; ") + sc.events[next_event].describe();
          ++next_event;
        }
        solve(why);
        continue;
      }
      if (t_step > sc.duration_s + 1e-9) break;
      record_step();
      if (drifted()) solve("latency calibration moved");
      ++step;
    }
  } catch (...) {
    for (auto& s : slots) stop_model(*s);
    throw;
  }
  for (auto& s : slots) stop_model(*s);
  cpu.set(0);

  // Summaries.
  double msum = 0, esum = 0;
  int n = 0;
  for (auto& s : slots) {
    ModelSummary& ms = s->summary;
    ms.configurations = static_cast<int>(s->configs.size());
    ms.mean_measured_accuracy = s->steps ? s->measured_sum / s->steps : std::nan("");
    ms.mean_estimated_accuracy = s->steps ? s->estimated_sum / s->steps : std::nan("");
    msum += s->measured_sum;
    esum += s->estimated_sum;
    n += s->steps;
    run.inferences += ms.inferences;
    run.misses += ms.misses;
    run.bytes_moved += ms.bytes_moved;
    run.switch_ms += ms.switch_ms;
    run.configurations += ms.configurations;
    run.models.push_back(ms);
  }
  run.mean_measured_accuracy = n ? msum / n : std::nan("");
  run.mean_estimated_accuracy = n ? esum / n : std::nan("");
  run.median_solve_us = median(solve_us);
  if (!o.csv.empty()) atomic_write_file(o.csv, csv.str());
  return run;
}

void write_summary_json(const std::vector<RunSummary>& runs, const std::string& path) {
  nlohmann::json j = nlohmann::json::array();
  auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  for (const auto& r : runs) {
    nlohmann::json models = nlohmann::json::array();
    for (const auto& m : r.models)
      models.push_back({{"name", m.name}, {"inferences", m.inferences}, {"misses", m.misses},
                        {"mean_measured_accuracy", num(m.mean_measured_accuracy)},
                        {"mean_estimated_accuracy", num(m.mean_estimated_accuracy)}, {"switches", m.switches},
                        {"failed_switches", m.failed_switches}, {"bytes_moved", m.bytes_moved},
                        {"switch_ms", m.switch_ms}, {"configurations", m.configurations}});
    j.push_back({{"system", r.system}, {"solves", r.solves}, {"infeasible_solves", r.infeasible_solves},
                 {"median_solve_us", num(r.median_solve_us)}, {"steps", r.steps},
                 {"memory_violations", r.memory_violations}, {"mean_measured_accuracy", num(r.mean_measured_accuracy)},
                 {"mean_estimated_accuracy", num(r.mean_estimated_accuracy)}, {"inferences", r.inferences},
                 {"misses", r.misses}, {"bytes_moved", r.bytes_moved}, {"switch_ms", r.switch_ms},
                 {"configurations", r.configurations}, {"models", models}});
  }
  atomic_write_file(path, j.dump(2) + "\n");
}

}  // namespace legodnn
