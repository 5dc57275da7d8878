// Benchmark: serving a block repository (issue 5). Three sections, each printing medians and ratios
// measured in this process:
//   1. switch time and bytes for typical selection changes, with a cold descendant cache (blocks
//      loaded from the repository files) and a warm one, next to loading the whole composed model;
//   2. batch-1 latency of compositions next to the teacher, with their MACs ratio;
//   3. the latency estimator's error on 20 random compositions, uncalibrated (profiled table) and
//      calibrated online from the measured forwards of 5 other compositions.
//   build/bench_serving [--repo DIR] [--threads N] [--reps R] [--seed S]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "legodnn/graph/executor.h"
#include "legodnn/graph/graph.h"
#include "legodnn/repository/repository.h"
#include "legodnn/repository/selection.h"
#include "legodnn/runtime/from_repository.h"
#include "legodnn/runtime/latency_estimator.h"
#include "legodnn/runtime/scalable_model.h"
#include "legodnn/util/allocator.h"
#include "legodnn/util/error.h"

using namespace legodnn;

namespace {

constexpr int kEstimateCompositions = 20;
constexpr int kCalibrationCompositions = 5;
constexpr int kRandomLatencyCompositions = 5;

struct Args {
  std::string repo = "out/repos/resnet20";
  int threads = 1;
  int reps = 101;
  uint64_t seed = 1;
};

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "bench_serving: %s\nusage: bench_serving [--repo DIR] [--threads N] [--reps R] [--seed S]\n",
               msg.c_str());
  std::exit(2);
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "-h" || k == "--help") {
      std::printf("usage: bench_serving [--repo DIR] [--threads N] [--reps R] [--seed S]\n"
                  "  --repo DIR    profiled block repository (default out/repos/resnet20)\n"
                  "  --threads N   torch intra-op threads (default 1)\n"
                  "  --reps R      timed repetitions per measurement (default 101)\n"
                  "  --seed S      seed of the random compositions and inputs (default 1)\n");
      std::exit(0);
    }
    if (i + 1 >= argc) usage_error("option " + k + " needs a value");
    std::string v = argv[++i];
    try {
      if (k == "--repo") a.repo = v;
      else if (k == "--threads") a.threads = std::stoi(v);
      else if (k == "--reps") a.reps = std::stoi(v);
      else if (k == "--seed") a.seed = std::stoull(v);
      else usage_error("unknown option " + k);
    } catch (const std::logic_error&) {
      usage_error("option " + k + " needs a number, got '" + v + "'");
    }
  }
  if (a.threads < 1) usage_error("--threads must be at least 1, got " + std::to_string(a.threads));
  if (a.reps < 3) usage_error("--reps must be at least 3, got " + std::to_string(a.reps));
  return a;
}

std::string command_line(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    bool quote = a.empty() || a.find_first_of(" \t'\"$\\") != std::string::npos;
    s += (i ? " " : "") + (quote ? "'" + a + "'" : a);
  }
  return s;
}

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double ms_of(const std::function<void()>& f) {
  auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

using Selection = std::vector<int>;

// rng() % n rather than std::uniform_int_distribution: the same seed gives the same compositions
// with every standard library.
Selection random_selection(const Manifest& m, std::mt19937_64& rng) {
  Selection sel;
  for (const auto& b : m.blocks) sel.push_back(static_cast<int>(rng() % b.descendants.size()));
  return sel;
}

// Sparsity of each block's descendant, e.g. "0.4 0.0 0.8 ...".
std::string describe(const Manifest& m, const Selection& sel) {
  std::string s;
  char buf[16];
  for (size_t b = 0; b < sel.size(); ++b) {
    std::snprintf(buf, sizeof buf, "%s%.1f", b ? " " : "", m.blocks[b].descendants[sel[b]].sparsity);
    s += buf;
  }
  return s;
}

// MACs per sample as the manifest profiles them: frame (teacher minus its original blocks) plus
// the chosen descendants.
struct MacsModel {
  int64_t frame = 0;
  int64_t of(const Manifest& m, const Selection& sel) const {
    int64_t t = frame;
    for (size_t b = 0; b < sel.size(); ++b) t += m.blocks[b].descendants[sel[b]].profile.macs;
    return t;
  }
};

MacsModel macs_model(const Manifest& m) {
  MacsModel mm;
  mm.frame = graph_stats(m.teacher).macs;
  for (const auto& b : m.blocks) mm.frame -= b.descendants.at(0).profile.macs;
  return mm;
}

// Median batch-1 forward latency of each snapshot. The snapshots are visited round-robin (the
// starting one rotating each round), so a slow phase of a shared machine hits all of them alike.
// Each visit runs one untimed forward first so the timed one finds that model's weights in the
// CPU caches, as in steady serving.
std::vector<double> interleaved_latency_ms(const std::vector<ServingSnapshot>& snaps, const at::Tensor& x,
                                           int reps) {
  const size_t n = snaps.size();
  for (const auto& s : snaps)
    for (int i = 0; i < 3; ++i) s.forward(x);
  std::vector<std::vector<double>> t(n);
  for (int r = 0; r < reps; ++r)
    for (size_t k = 0; k < n; ++k) {
      const size_t i = (k + static_cast<size_t>(r)) % n;
      snaps[i].forward(x);
      t[i].push_back(ms_of([&] { snaps[i].forward(x); }));
    }
  std::vector<double> med;
  for (auto& v : t) med.push_back(median(v));
  return med;
}

// Snapshots of `model` switched to each selection (a snapshot keeps its blocks alive).
std::vector<ServingSnapshot> snapshots_of(ScalableModel& model, const std::vector<Selection>& sels) {
  std::vector<ServingSnapshot> out;
  for (const auto& s : sels) {
    SwitchReport r = model.switch_to(s);
    if (!r.ok) throw IoError("switch failed: " + r.error);
    out.push_back(model.snapshot());
  }
  return out;
}

// ---- 1. switching vs whole-model loading --------------------------------------------------------

struct SwitchCase {
  std::string name;
  Selection target;
};

void bench_switching(const Args& a, const Repository& repo, const at::Tensor& x, std::mt19937_64& rng) {
  const Manifest& m = repo.manifest();
  const int nb = static_cast<int>(m.blocks.size());
  const Selection base(nb, 0);
  const int mid = nearest_descendant(m, 0, 0.4);
  const double s_mid = m.blocks[0].descendants[mid].sparsity;
  char buf[64];

  std::vector<SwitchCase> cases;
  {
    Selection one = base;
    one[nb / 2] = nearest_descendant(m, nb / 2, s_mid);
    std::snprintf(buf, sizeof buf, "1 block (%d)", nb / 2);
    cases.push_back({buf, one});
  }
  if (nb > 3) {
    std::vector<int> ids(nb);
    for (int i = 0; i < nb; ++i) ids[i] = i;
    for (int i = 0; i < 3; ++i) std::swap(ids[i], ids[i + static_cast<int>(rng() % (nb - i))]);
    std::sort(ids.begin(), ids.begin() + 3);
    Selection three = base;
    for (int i = 0; i < 3; ++i) three[ids[i]] = nearest_descendant(m, ids[i], s_mid);
    std::snprintf(buf, sizeof buf, "3 blocks (%d,%d,%d)", ids[0], ids[1], ids[2]);
    cases.push_back({buf, three});
  }
  std::snprintf(buf, sizeof buf, "all %d blocks", nb);
  cases.push_back({buf, uniform_selection(m, s_mid)});

  std::printf("\n== 1. Switching blocks vs loading the whole composed model ==\n");
  std::printf("Each change goes from the teacher (all 0.0) to sparsity %.1f in the named blocks; median of %d.\n",
              s_mid, a.reps);
  std::printf("cold: cache limit 0, the changed descendants are read from the repository files (load, verify,\n"
              "      fold; the OS page cache is warm); warm: they come from the in-memory cache of folded\n"
              "      descendants. whole: load_whole_model of the same target (every file read and verified,\n"
              "      composed, folded, compiled), as a model-grained system does at each switch.\n"
              "The three are interleaved rep by rep. Bytes: files read (cold, whole) or folded tensors reused (warm).\n\n");

  ScalableOptions cold_o;
  cold_o.cache_bytes = 0;
  double open_ms = 0;
  ScalableModel cold = [&] {
    auto t0 = std::chrono::steady_clock::now();
    auto mdl = ScalableModel::open(repo.dir(), cold_o);
    open_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return mdl;
  }();
  ScalableOptions warm_o;
  warm_o.cache_bytes = int64_t{1} << 30;
  ScalableModel warm = ScalableModel::open(repo.dir(), warm_o);
  std::printf("(ScalableModel::open: manifest, checksums of every file, frame and teacher blocks folded: %.2f ms, once)\n\n",
              open_ms);

  std::printf("%-22s %6s | %9s %9s %9s %9s | %9s %9s | %9s %9s | %10s %10s\n", "change", "blocks", "cold ms",
              "(load", "+build)", "bytes", "warm ms", "bytes", "whole ms", "bytes", "whole/cold", "whole/warm");
  bool all_ok = true;
  for (const auto& c : cases) {
    auto must = [&](const SwitchReport& r, const char* what) {
      if (!r.ok) throw IoError(std::string(what) + " switch failed: " + r.error);
      return r;
    };
    // Warm-up; also fills the warm model's cache with both the target's and the teacher's blocks.
    for (int i = 0; i < 2; ++i) {
      must(cold.switch_to(c.target), "cold");
      must(cold.switch_to(base), "cold");
      must(warm.switch_to(c.target), "warm");
      must(warm.switch_to(base), "warm");
      load_whole_model(repo, c.target);
    }
    std::vector<double> cold_ms, cold_load, cold_build, warm_ms, whole_ms;
    int64_t cold_bytes = -1, warm_bytes = -1, whole_bytes = -1;
    int changed = 0;
    for (int r = 0; r < a.reps; ++r)
      for (int k = 0; k < 3; ++k) switch ((k + r) % 3) {
          case 0: {
            SwitchReport s = must(cold.switch_to(c.target), "cold");
            must(cold.switch_to(base), "cold");
            cold_ms.push_back(s.total_ms);
            cold_load.push_back(s.load_ms);
            cold_build.push_back(s.build_ms);
            if (s.from_disk != static_cast<int>(s.changed.size()) || (cold_bytes >= 0 && cold_bytes != s.bytes_from_disk))
              all_ok = false;
            cold_bytes = s.bytes_from_disk;
            changed = static_cast<int>(s.changed.size());
            break;
          }
          case 1: {
            SwitchReport s = must(warm.switch_to(c.target), "warm");
            must(warm.switch_to(base), "warm");
            warm_ms.push_back(s.total_ms);
            if (s.from_cache != static_cast<int>(s.changed.size())) all_ok = false;
            warm_bytes = s.bytes_from_cache;
            break;
          }
          default: {
            WholeModelLoad w = load_whole_model(repo, c.target);
            whole_ms.push_back(w.ms);
            whole_bytes = w.bytes_from_disk;
            break;
          }
        }
    // The switched model and the whole-loaded one must compute the same function.
    {
      must(cold.switch_to(c.target), "cold");
      WholeModelLoad w = load_whole_model(repo, c.target);
      at::InferenceMode g;
      double diff = (cold.forward(x) - w.executor->forward(x)).abs().max().item<double>();
      if (diff > 1e-4) {
        std::printf("  MISMATCH: switched and whole-loaded outputs differ by %.2e\n", diff);
        all_ok = false;
      }
      must(cold.switch_to(base), "cold");
    }
    double cm = median(cold_ms), wm = median(warm_ms), hm = median(whole_ms);
    std::printf("%-22s %6d | %9.3f %9.3f %9.3f %9lld | %9.3f %9lld | %9.3f %9lld | %9.1fx %9.1fx\n", c.name.c_str(),
                changed, cm, median(cold_load), median(cold_build), static_cast<long long>(cold_bytes), wm,
                static_cast<long long>(warm_bytes), hm, static_cast<long long>(whole_bytes), hm / cm, hm / wm);
  }
  if (!all_ok)
    std::printf("WARNING: a cold switch did not load every changed block from disk, a warm one missed the cache,\n"
                "         or outputs differed: the rows above do not measure what they say.\n");
}

// ---- 2. batch-1 latency of compositions vs the teacher -----------------------------------------

void bench_latency(const Args& a, ScalableModel& model, const at::Tensor& x, std::mt19937_64& rng) {
  const Manifest& m = model.repository().manifest();
  const MacsModel macs = macs_model(m);
  const Selection teacher(m.blocks.size(), 0);

  std::vector<std::string> names;
  std::vector<Selection> sels;
  // Uniform selections: every sparsity block 0 offers (other blocks take their nearest).
  for (const auto& d : m.blocks[0].descendants) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "uniform %.1f", d.sparsity);
    names.push_back(buf);
    sels.push_back(uniform_selection(m, d.sparsity));
  }
  for (int i = 0; i < kRandomLatencyCompositions; ++i) {
    names.push_back("random " + std::to_string(i + 1));
    sels.push_back(random_selection(m, rng));
  }

  // The manifest's MACs must be what the composed graphs compute.
  int macs_mismatch = 0;
  for (const auto& s : sels)
    if (graph_stats(model.repository().compose(s).graph).macs != macs.of(m, s)) ++macs_mismatch;

  const ServingSnapshot teacher_snap = snapshots_of(model, {teacher})[0];
  const std::vector<ServingSnapshot> snaps = snapshots_of(model, sels);
  std::vector<double> ms, t_ms;
  for (const auto& s : snaps) {
    auto pair = interleaved_latency_ms({teacher_snap, s}, x, a.reps);
    t_ms.push_back(pair[0]);
    ms.push_back(pair[1]);
  }
  const double t_macs = static_cast<double>(macs.of(m, teacher));

  std::printf("\n== 2. Batch-1 latency of compositions vs the teacher ==\n");
  std::printf("ScalableModel serving (conv+bn folded, inference mode); the teacher and every composition are\n"
              "measured alternately in one process (teacher, composition, composition, teacher, ...),\n"
              "median of %d forwards each; the teacher's median is taken over the forwards paired with that\n"
              "row. MACs per sample from the manifest (frame = teacher minus its original blocks, plus the\n"
              "chosen descendants). The 'uniform 0.0' row is the teacher itself: its ratio shows the noise.\n",
              a.reps);
  std::printf("teacher: %.2f MMACs\n\n", t_macs / 1e6);
  std::printf("%-12s %-*s %8s %10s %11s %10s %10s %15s\n", "selection", static_cast<int>(describe(m, teacher).size()),
              "sparsity per block", "MMACs", "MACs ratio", "latency ms", "teacher ms", "lat. ratio", "lat./MACs ratio");
  for (size_t i = 0; i < sels.size(); ++i) {
    double mr = macs.of(m, sels[i]) / t_macs, lr = ms[i] / t_ms[i];
    std::printf("%-12s %s %8.2f %10.3f %11.3f %10.3f %10.3f %15.2f\n", names[i].c_str(), describe(m, sels[i]).c_str(),
                macs.of(m, sels[i]) / 1e6, mr, ms[i], t_ms[i], lr, lr / mr);
  }
  if (macs_mismatch)
    std::printf("WARNING: for %d selection(s) the manifest's MACs differ from graph_stats of the composed graph\n",
                macs_mismatch);
  std::printf("(lat./MACs ratio > 1: the composition saves less time than MACs; frame and per-op costs do not shrink)\n");
}

// ---- 3. latency estimator error -----------------------------------------------------------------

void bench_estimator(const Args& a, ScalableModel& model, const at::Tensor& x, std::mt19937_64& rng) {
  const Manifest& m = model.repository().manifest();
  LatencyEstimator est(choice_spec(m, model.repository().dir()));

  std::vector<Selection> evals;
  while (static_cast<int>(evals.size()) < kEstimateCompositions) {
    Selection s = random_selection(m, rng);
    if (std::find(evals.begin(), evals.end(), s) == evals.end()) evals.push_back(s);
  }
  // The calibration compositions are others than the evaluated ones.
  std::vector<Selection> calib;
  while (static_cast<int>(calib.size()) < kCalibrationCompositions) {
    Selection s = random_selection(m, rng);
    if (std::find(evals.begin(), evals.end(), s) == evals.end() && std::find(calib.begin(), calib.end(), s) == calib.end())
      calib.push_back(s);
  }

  std::printf("\n== 3. Latency estimator on %d random compositions (seed %llu) ==\n", kEstimateCompositions,
              static_cast<unsigned long long>(a.seed));
  const auto& machine = m.profile.value("machine", nlohmann::json::object());
  std::printf("profiled: frame + chosen blocks from the manifest (measured with %d torch thread(s) on '%s'); this run: %d\n",
              machine.value("torch_threads", 0), machine.value("cpu", std::string("?")).c_str(), a.threads);
  std::printf("calibrated: the same after observe() of the median measured latency of %d other random\n"
              "compositions (exponentially weighted ratio, alpha 0.3). Measured: median of %d forwards,\n"
              "compositions measured round-robin.\n",
              kCalibrationCompositions, a.reps);

  auto calib_ms = interleaved_latency_ms(snapshots_of(model, calib), x, a.reps);
  for (size_t i = 0; i < calib.size(); ++i) est.observe(calib[i], calib_ms[i]);
  std::printf("calibration ratio measured/profiled: %.3f (from %lld observations)\n\n", est.ratio(),
              static_cast<long long>(est.observations()));

  auto meas = interleaved_latency_ms(snapshots_of(model, evals), x, a.reps);
  std::printf("%3s %-*s %11s %12s %8s %13s %8s\n", "#", static_cast<int>(describe(m, evals[0]).size()),
              "sparsity per block", "measured ms", "profiled ms", "error", "calibrated ms", "error");
  std::vector<double> e_prof, e_cal;
  for (size_t i = 0; i < evals.size(); ++i) {
    double p = est.profiled_ms(evals[i]), c = est.estimate_ms(evals[i]);
    double ep = 100 * (p - meas[i]) / meas[i], ec = 100 * (c - meas[i]) / meas[i];
    e_prof.push_back(std::abs(ep));
    e_cal.push_back(std::abs(ec));
    std::printf("%3zu %s %11.3f %12.3f %7.1f%% %13.3f %7.1f%%\n", i + 1, describe(m, evals[i]).c_str(), meas[i], p, ep,
                c, ec);
  }
  double mp = median(e_prof), mc = median(e_cal);
  std::printf("median |error|: profiled %.1f%% (%s), calibrated %.1f%% (%s)   [target: under 10%%]\n", mp,
              mp < 10 ? "met" : "missed", mc, mc < 10 ? "met" : "missed");
  std::printf("max    |error|: profiled %.1f%%, calibrated %.1f%%\n", *std::max_element(e_prof.begin(), e_prof.end()),
              *std::max_element(e_cal.begin(), e_cal.end()));
}

}  // namespace

int main(int argc, char** argv) {
  legodnn::tune_allocator();  // as the program runs
  const Args a = parse_args(argc, argv);
  // Inter-op threads must be set before any parallel work starts.
  at::set_num_interop_threads(1);
  at::set_num_threads(a.threads);
  at::manual_seed(static_cast<uint64_t>(a.seed));

  std::printf("command: %s\n", command_line(argc, argv).c_str());
  std::printf("repository %s, %d torch thread(s) (interop 1), reps %d, seed %llu\n", a.repo.c_str(),
              at::get_num_threads(), a.reps, static_cast<unsigned long long>(a.seed));

  {
    // Timings from a busy machine mislead (two 2-thread processes on 2 cores slow each other
    // 10-100x): record how busy it was.
    std::FILE* f = std::fopen("/proc/loadavg", "r");
    char buf[128] = {0};
    if (f && std::fgets(buf, sizeof buf, f)) std::printf("load average at start: %s", buf);
    if (f) std::fclose(f);
  }

  namespace fs = std::filesystem;
  if (!fs::exists(fs::path(a.repo) / "manifest.json")) {
    std::fflush(stdout);
    std::fprintf(stderr,
                 "bench_serving: no block repository at '%s' (no manifest.json). Make one first:\n"
                 "  ./run.sh demo                                              (writes out/repos/resnet20), or\n"
                 "  build/legodnn build --checkpoint MODEL_DIR --out %s  (retrains and profiles),\n"
                 "or point --repo at an existing profiled repository.\n",
                 a.repo.c_str(), a.repo.c_str());
    return 2;
  }
  try {
    ScalableOptions o;
    o.cache_bytes = int64_t{1} << 30;
    ScalableModel model = ScalableModel::open(a.repo, o);
    const Manifest& m = model.repository().manifest();
    if (!m.stages.contains("profile"))
      throw OptionError("repository '" + a.repo + "' has not been profiled yet: rerun legodnn build on it (or ./run.sh demo)");
    std::printf("model %s: %zu blocks x %zu descendants, input [%s]\n", m.model.c_str(), m.blocks.size(),
                m.blocks.empty() ? size_t{0} : m.blocks[0].descendants.size(), [&] {
                  std::string s;
                  for (size_t i = 0; i < m.input_shape.size(); ++i) s += (i ? "," : "") + std::to_string(m.input_shape[i]);
                  return s;
                }().c_str());

    std::vector<int64_t> shape{1};
    shape.insert(shape.end(), m.input_shape.begin(), m.input_shape.end());
    const at::Tensor x = at::randn(shape);
    {
      // Warm-up of the whole process (allocator, BLAS threads, first-call paths).
      at::InferenceMode g;
      for (int i = 0; i < 20; ++i) model.forward(x);
    }

    // One generator per section, so changing one section never changes another's compositions.
    std::mt19937_64 rng1(a.seed), rng2(a.seed + 1), rng3(a.seed + 2);
    bench_switching(a, model.repository(), x, rng1);
    bench_latency(a, model, x, rng2);
    bench_estimator(a, model, x, rng3);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "bench_serving: %s\n", e.what());
    return 1;
  }
  return 0;
}
