#include "legodnn/profile/profile.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include "legodnn/graph/executor.h"
#include "legodnn/graph/fold.h"

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

Correctness correctness(const Model& m, const Split& data, int64_t batch_size) {
  Model f = fold_batch_norm(m);
  Executor ex(f.graph, f.weights);
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

DropTable measure_drops(const Model& teacher, const std::vector<BlockFamily>& fams, const Split& data,
                        const std::vector<int>& contexts) {
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
  const double n = static_cast<double>(data.size());
  for (int ctx : contexts) {
    std::vector<int> base(nb, 0);
    for (size_t i = 0; i < nb; ++i) base[i] = std::min<int>(ctx, fams[i].descendants.size() - 1);
    auto ctx_acc = correctness(compose(teacher, fams, base), data);
    t.context_accuracy.push_back(ctx_acc.accuracy);
    for (size_t i = 0; i < nb; ++i) {
      // Each descendant of block i inside the context; index 0 (the original) is the reference.
      std::vector<Correctness> c(fams[i].descendants.size());
      for (size_t j = 0; j < c.size(); ++j) {
        if (static_cast<int>(j) == base[i]) {
          c[j] = ctx_acc;
          continue;
        }
        auto choice = base;
        choice[i] = static_cast<int>(j);
        c[j] = correctness(compose(teacher, fams, choice), data);
      }
      for (size_t j = 1; j < c.size(); ++j) {
        // Paired difference per image: its mean is the drop, its spread gives the standard error.
        double sum = 0, sq = 0;
        for (size_t k = 0; k < c[0].correct.size(); ++k) {
          double d = static_cast<double>(c[0].correct[k]) - c[j].correct[k];
          sum += d;
          sq += d * d;
        }
        double mean = sum / n;
        t.raw[i][j] += mean / contexts.size();
        var[i][j] += (sq / n - mean * mean) / n;
      }
    }
    spdlog::info("profile: context {} (accuracy {:.2f}%) measured", ctx, 100 * ctx_acc.accuracy);
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
