#include "legodnn/profile/profile.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <random>

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include "legodnn/graph/executor.h"
#include "legodnn/graph/fold.h"
#include "legodnn/util/allocator.h"

namespace legodnn {

double measure_latency_ms(const Model& m, const Shape& input_shape, const LatencyOptions& o) {
  Model f = fold_batch_norm(m);
  Executor ex(f.graph, f.weights);
  std::vector<int64_t> shape{o.batch};
  shape.insert(shape.end(), input_shape.begin(), input_shape.end());
  at::InferenceMode guard;
  at::Tensor x = at::randn(shape);
  for (int i = 0; i < o.warmup; ++i) ex.forward(x);
  std::vector<double> t;
  for (int i = 0; i < o.repeats; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    ex.forward(x);
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
  return t[t.size() / 2];
}

std::vector<LatencyObservation> time_savings(const Model& teacher, const std::vector<BlockFamily>& fams,
                                             const std::vector<std::vector<int>>& choices, const LatencyOptions& o,
                                             int rounds, double teacher_ms) {
  Model ft = fold_batch_norm(teacher);
  Executor te(ft.graph, ft.weights);
  auto shapes = teacher.graph.infer_shapes();
  std::vector<int64_t> shape{o.batch};
  const Shape& in = shapes[teacher.graph.index(teacher.graph.input())];
  shape.insert(shape.end(), in.begin(), in.end());
  const int repeats = std::max(3, rounds);
  at::InferenceMode guard;
  at::Tensor x = at::randn(shape);
  auto ms = [&](const Executor& e) {
    auto t0 = std::chrono::steady_clock::now();
    e.forward(x);
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  };
  auto median = [](std::vector<double> v) {
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
  };
  std::vector<LatencyObservation> out;
  for (const auto& c : choices) {
    Model fc = fold_batch_norm(compose(teacher, fams, c));
    Executor ce(fc.graph, fc.weights);
    for (int i = 0; i < o.warmup; ++i) ms(te), ms(ce);
    std::vector<double> d;
    for (int i = 0; i < repeats; ++i) {
      const double a = ms(te);
      d.push_back(1 - ms(ce) / std::max(a, 1e-9));
    }
    const double m = median(d);
    std::vector<double> dev;
    for (double v : d) dev.push_back(std::abs(v - m));
    out.push_back({c, teacher_ms * m, teacher_ms * 1.25 * 1.4826 * median(dev) / std::sqrt(static_cast<double>(repeats))});
  }
  return out;
}

Correctness correctness(const Model& m, const Split& data, int64_t batch_size) {
  Model f = fold_batch_norm(m);
  Executor ex(f.graph, f.weights);
  batch_size = batch_within(f.graph, batch_size, kHeapTensorBytes);
  at::InferenceMode guard;
  Correctness c;
  c.correct.reserve(data.size());
  int64_t right = 0;
  for (int64_t s = 0; s < data.size(); s += batch_size) {
    int64_t b = std::min(batch_size, data.size() - s);
    auto ok = ex.forward(data.images.narrow(0, s, b)).argmax(1).eq(data.labels.narrow(0, s, b)).to(at::kByte);
    auto a = ok.accessor<uint8_t, 1>();
    for (int64_t k = 0; k < b; ++k) {
      c.correct.push_back(a[k]);
      right += a[k];
    }
  }
  c.accuracy = data.size() ? static_cast<double>(right) / data.size() : 0.0;
  return c;
}

namespace {

// The part of `m` after node `from`, as a model whose input node is `from` (with its shape).
// Returns false when a later node reads a node before `from` (then `from` is no cut point).
bool suffix_model(const Model& m, const std::string& from, Model& out) {
  const Graph& g = m.graph;
  const int start = g.index(from);
  auto shapes = g.infer_shapes();
  out = Model{};
  out.graph.add({from, Op::Input, {}, {{"shape", shapes[start]}}});
  for (int k = start + 1; k < static_cast<int>(g.size()); ++k) {
    const Node& n = g.nodes()[k];
    for (const auto& in : n.inputs)
      if (g.index(in) < start) return false;
    for (const auto& p : param_specs(n)) {
      auto key = param_key(n.name, p.name);
      out.weights.emplace(key, m.weights.at(key));
    }
    out.graph.add(n);
  }
  out.graph.set_output(g.output());
  return true;
}

}  // namespace

DropTable measure_drops(const Model& teacher, const std::vector<BlockFamily>& fams, const Split& data,
                        const std::vector<int>& contexts, int64_t batch_size) {
  DropTable t;
  t.contexts = contexts;
  const size_t nb = fams.size();
  t.raw.resize(nb);
  t.se.resize(nb);
  t.drop.resize(nb);
  std::vector<std::vector<double>> var(nb);
  for (size_t i = 0; i < nb; ++i) {
    size_t nd = fams[i].descendants.size();
    t.raw[i].assign(nd, 0.0);
    var[i].assign(nd, 0.0);
  }
  const int64_t n = data.size();
  for (int ctx : contexts) {
    std::vector<int> base(nb, 0);
    for (size_t i = 0; i < nb; ++i) base[i] = std::min<int>(ctx, fams[i].descendants.size() - 1);
    // The context runs once per batch with taps at every block entry; each variant (block i at
    // descendant j) then runs only from block i's entry on, which halves the work on average.
    Model ctx_model = fold_batch_norm(compose(teacher, fams, base));
    Executor ctx_ex(ctx_model.graph, ctx_model.weights);
    std::vector<std::string> entries;
    for (const auto& f : fams) entries.push_back(f.spec.entry);
    struct Variant {
      size_t block, desc;
      std::unique_ptr<Executor> ex;
      bool from_entry;
      std::vector<uint8_t> correct;
    };
    std::vector<Variant> vars;
    for (size_t i = 0; i < nb; ++i)
      for (size_t j = 0; j < fams[i].descendants.size(); ++j) {
        auto choice = base;
        choice[i] = static_cast<int>(j);
        Model full = fold_batch_norm(compose(teacher, fams, choice));
        Model suffix;
        bool cut = suffix_model(full, fams[i].spec.entry, suffix);
        const Model& use = cut ? suffix : full;
        vars.push_back({i, j, std::make_unique<Executor>(use.graph, use.weights), cut, {}});
        vars.back().correct.reserve(n);
      }
    int64_t ctx_right = 0;
    {
      at::InferenceMode guard;
      const int64_t batch = batch_within(ctx_model.graph, batch_size, kHeapTensorBytes);
      for (int64_t s = 0; s < n; s += batch) {
        int64_t b = std::min(batch, n - s);
        auto x = data.images.narrow(0, s, b);
        auto y = data.labels.narrow(0, s, b);
        auto taps = ctx_ex.run_taps(x, entries);
        ctx_right += ctx_ex.forward(x).argmax(1).eq(y).sum().item<int64_t>();
        for (auto& v : vars) {
          auto logits = v.from_entry ? v.ex->forward(taps[v.block]) : v.ex->forward(x);
          auto ok = logits.argmax(1).eq(y).to(at::kByte);
          auto a = ok.accessor<uint8_t, 1>();
          for (int64_t k = 0; k < b; ++k) v.correct.push_back(a[k]);
        }
      }
    }
    t.context_accuracy.push_back(n ? static_cast<double>(ctx_right) / n : 0.0);
    for (size_t i = 0; i < nb; ++i) {
      // Index 0 (the original block) is the reference for every descendant of block i.
      const Variant* ref = nullptr;
      for (const auto& v : vars)
        if (v.block == i && v.desc == 0) ref = &v;
      for (const auto& v : vars) {
        if (v.block != i || v.desc == 0) continue;
        // Paired difference per image: its mean is the drop, its spread gives the standard error.
        double sum = 0, sq = 0;
        for (int64_t k = 0; k < n; ++k) {
          double d = static_cast<double>(ref->correct[k]) - v.correct[k];
          sum += d;
          sq += d * d;
        }
        double mean = sum / n;
        t.raw[i][v.desc] += mean / contexts.size();
        var[i][v.desc] += (sq / n - mean * mean) / n;
      }
    }
    spdlog::info("profile: context {} (accuracy {:.2f}%) measured", ctx, 100 * t.context_accuracy.back());
  }
  for (size_t i = 0; i < nb; ++i) {
    t.se[i].assign(t.raw[i].size(), 0.0);
    t.drop[i].assign(t.raw[i].size(), 0.0);
    for (size_t j = 1; j < t.raw[i].size(); ++j) {
      t.se[i][j] = std::sqrt(var[i][j]) / contexts.size();
      // More pruning never helps in expectation: a smaller measured drop at a higher sparsity is
      // noise, so drops are made non-decreasing (and never negative).
      t.drop[i][j] = std::max(t.drop[i][j - 1], t.raw[i][j]);
    }
  }
  return t;
}

double calibrate_drop_scale(const Model& teacher, const std::vector<BlockFamily>& fams,
                            const std::vector<std::vector<double>>& drops, double teacher_accuracy,
                            const Split& data, int count, uint64_t seed) {
  auto checks = check_additive_estimate(teacher, fams, drops, teacher_accuracy, data, count, seed);
  // Least squares through the origin: measured loss = k * summed drops.
  double num = 0, den = 0;
  for (const auto& c : checks) {
    double est = teacher_accuracy - c.estimated, meas = teacher_accuracy - c.measured;
    num += est * meas;
    den += est * est;
  }
  return den > 0 && num > 0 ? num / den : 1.0;
}

std::vector<EstimateCheck> check_additive_estimate(const Model& teacher, const std::vector<BlockFamily>& fams,
                                                   const std::vector<std::vector<double>>& drops,
                                                   double teacher_accuracy, const Split& data, int count,
                                                   uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<EstimateCheck> out;
  for (int r = 0; r < count; ++r) {
    EstimateCheck c;
    c.estimated = teacher_accuracy;
    for (size_t i = 0; i < fams.size(); ++i) {
      int j = static_cast<int>(rng() % fams[i].descendants.size());
      c.choice.push_back(j);
      c.estimated -= drops[i][j];
    }
    c.measured = correctness(compose(teacher, fams, c.choice), data).accuracy;
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace legodnn
