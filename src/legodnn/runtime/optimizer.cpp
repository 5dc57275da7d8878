#include "legodnn/runtime/optimizer.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "legodnn/util/error.h"

namespace legodnn {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kEps = 1e-9;

// A partial selection: two resources and a cost, all to minimize, with a back-pointer.
struct State {
  double a, b, c;
  int parent;  // index in the previous stage
  int option;  // option (block level) or frontier point (model level) taken at this stage
};

// Keeps the states no other state beats in all of (a, b, c). Exact: sorting by c first means every
// earlier state has a cost no higher, so only (a, b) need checking, against a staircase.
void pareto(std::vector<State>& s) {
  std::sort(s.begin(), s.end(), [](const State& x, const State& y) {
    if (x.c != y.c) return x.c < y.c;
    if (x.a != y.a) return x.a < y.a;
    return x.b < y.b;
  });
  std::map<double, double> stair;  // a -> smallest b seen with that a or less; b falls as a grows
  size_t kept = 0;
  for (const State& x : s) {
    auto it = stair.upper_bound(x.a);
    if (it != stair.begin() && std::prev(it)->second <= x.b) continue;  // dominated
    auto lo = stair.lower_bound(x.a);
    auto hi = lo;
    while (hi != stair.end() && hi->second >= x.b) ++hi;
    stair.erase(lo, hi);
    stair[x.a] = x.b;
    s[kept++] = x;
  }
  s.resize(kept);
}

struct Frontier {
  std::vector<std::vector<State>> stages;  // stage k: states after k blocks (stage 0: the frame)
  const std::vector<State>& last() const { return stages.back(); }
  std::vector<int> choice(int index) const {
    std::vector<int> c(stages.size() - 1);
    for (size_t k = stages.size() - 1; k > 0; --k) {
      c[k - 1] = stages[k][index].option;
      index = stages[k][index].parent;
    }
    return c;
  }
};

// All Pareto-optimal (latency, bytes, drop) compositions of one model that can still meet
// `deadline` and `memory_cap`: a partial selection is dropped as soon as even the fastest
// (smallest) options for the remaining blocks cannot bring it within them, which keeps the search
// exact and much smaller.
Frontier model_frontier(const ModelChoiceSpec& m, double deadline, double memory_cap, int64_t& states) {
  const size_t nb = m.blocks.size();
  std::vector<double> rest_ms(nb + 1, 0.0), rest_bytes(nb + 1, 0.0);
  for (size_t k = nb; k-- > 0;) {
    double ms = kInf, by = kInf;
    for (const auto& o : m.blocks[k]) {
      ms = std::min(ms, o.latency_ms);
      by = std::min(by, o.bytes);
    }
    rest_ms[k] = rest_ms[k + 1] + ms;
    rest_bytes[k] = rest_bytes[k + 1] + by;
  }
  Frontier f;
  f.stages.push_back({{m.frame_ms, m.frame_bytes, 0.0, -1, -1}});
  for (size_t k = 0; k < nb; ++k) {
    const auto& opts = m.blocks[k];
    const auto& prev = f.stages.back();
    std::vector<State> next;
    next.reserve(prev.size() * opts.size());
    for (size_t p = 0; p < prev.size(); ++p)
      for (size_t o = 0; o < opts.size(); ++o) {
        double lat = prev[p].a + opts[o].latency_ms, by = prev[p].b + opts[o].bytes;
        if (lat + rest_ms[k + 1] > deadline * (1 + kEps)) continue;
        if (by + rest_bytes[k + 1] > memory_cap * (1 + kEps)) continue;
        next.push_back({lat, by, prev[p].c + opts[o].drop, static_cast<int>(p), static_cast<int>(o)});
      }
    pareto(next);
    states += static_cast<int64_t>(next.size());
    f.stages.push_back(std::move(next));
  }
  return f;
}

// The least memory a model can take (frame plus the smallest option of every block).
double min_bytes(const ModelChoiceSpec& m) {
  double b = m.frame_bytes;
  for (const auto& opts : m.blocks) {
    double lo = kInf;
    for (const auto& o : opts) lo = std::min(lo, o.bytes);
    b += lo;
  }
  return b;
}

// One candidate per frontier point of a model, as the cross-model search sees it.
struct Item {
  double bytes, share, cost;
  int point;  // index into the model frontier's last stage
};

// Chooses one item per model minimizing the summed cost with sum(bytes) <= mem and sum(share) <=
// share_cap; returns the chosen item index per model, or empty when nothing fits.
std::vector<int> cross_models(const std::vector<std::vector<Item>>& items, double mem, double share_cap,
                              int64_t& states) {
  std::vector<std::vector<State>> stages{{{0.0, 0.0, 0.0, -1, -1}}};
  for (const auto& its : items) {
    const auto& prev = stages.back();
    std::vector<State> next;
    for (size_t p = 0; p < prev.size(); ++p)
      for (size_t i = 0; i < its.size(); ++i) {
        double b = prev[p].a + its[i].bytes, s = prev[p].b + its[i].share;
        if (b > mem * (1 + kEps) || s > share_cap * (1 + kEps)) continue;
        next.push_back({b, s, prev[p].c + its[i].cost, static_cast<int>(p), static_cast<int>(i)});
      }
    pareto(next);
    states += static_cast<int64_t>(next.size());
    if (next.empty()) return {};
    stages.push_back(std::move(next));
  }
  int best = 0;
  const auto& last = stages.back();
  for (size_t k = 1; k < last.size(); ++k)
    if (last[k].c < last[best].c) best = static_cast<int>(k);
  std::vector<int> pick(items.size());
  for (size_t k = stages.size() - 1; k > 0; --k) {
    pick[k - 1] = stages[k][best].option;
    best = stages[k][best].parent;
  }
  return pick;
}

void check_finite_nonneg(double v, const std::string& what) {
  if (std::isnan(v) || v < 0) throw OptionError(what + " must be a non-negative number, got " + std::to_string(v));
}

void validate(const std::vector<ModelChoiceSpec>& models, const SharedBudget& budget) {
  if (models.empty()) throw OptionError("the optimizer needs at least one model");
  if (std::isnan(budget.memory_bytes) || budget.memory_bytes < 0)
    throw OptionError("memory budget must be a non-negative number of bytes, got " + std::to_string(budget.memory_bytes));
  for (const auto& m : models) {
    const std::string who = "model '" + m.name + "'";
    if (m.blocks.empty()) throw OptionError(who + " has no blocks (empty repository?)");
    if (std::isnan(m.deadline_ms) || m.deadline_ms < 0)
      throw OptionError(who + ": deadline must be a non-negative number of ms, got " + std::to_string(m.deadline_ms));
    if (std::isnan(m.accuracy)) throw OptionError(who + ": accuracy is NaN");
    check_finite_nonneg(m.weight, who + ": weight");
    check_finite_nonneg(m.rate_hz, who + ": rate");
    check_finite_nonneg(m.frame_ms, who + ": frame latency");
    check_finite_nonneg(m.frame_bytes, who + ": frame bytes");
    for (size_t i = 0; i < m.blocks.size(); ++i) {
      if (m.blocks[i].empty()) throw OptionError(who + ": block " + std::to_string(i) + " has no options");
      for (size_t j = 0; j < m.blocks[i].size(); ++j) {
        const auto& o = m.blocks[i][j];
        std::string at = who + " block " + std::to_string(i) + " option " + std::to_string(j);
        if (std::isnan(o.drop)) throw OptionError(at + ": drop is NaN");
        check_finite_nonneg(o.latency_ms, at + ": latency");
        check_finite_nonneg(o.bytes, at + ": bytes");
      }
    }
  }
}

double relative_excess(double value, double limit) {
  if (value <= limit * (1 + kEps)) return 0.0;
  return (value - limit) / std::max(limit, 1e-9);
}

}  // namespace

ScalingDecision evaluate_choice(const std::vector<ModelChoiceSpec>& models, const SharedBudget& budget,
                                const std::vector<std::vector<int>>& choice, Objective objective) {
  ScalingDecision d;
  d.choice = choice;
  double sum = 0, mn = kInf;
  for (size_t m = 0; m < models.size(); ++m) {
    double acc = models[m].accuracy, lat = models[m].frame_ms;
    d.memory_bytes += models[m].frame_bytes;
    for (size_t i = 0; i < models[m].blocks.size(); ++i) {
      const auto& o = models[m].blocks[i].at(choice.at(m).at(i));
      acc -= o.drop;
      lat += o.latency_ms;
      d.memory_bytes += o.bytes;
    }
    d.accuracy.push_back(acc);
    d.latency_ms.push_back(lat);
    d.deadline_excess_ms.push_back(lat > models[m].deadline_ms * (1 + kEps) ? lat - models[m].deadline_ms : 0.0);
    d.share += models[m].rate_hz * lat / 1000.0;
    sum += models[m].weight * acc;
    mn = std::min(mn, acc);
  }
  d.memory_excess_bytes = d.memory_bytes > budget.memory_bytes * (1 + kEps) ? d.memory_bytes - budget.memory_bytes : 0.0;
  d.share_excess = budget.processor_share && d.share > 1 + kEps ? d.share - 1 : 0.0;
  d.objective = objective == Objective::Sum ? sum : mn;
  d.feasible = d.memory_excess_bytes == 0 && d.share_excess == 0;
  for (double e : d.deadline_excess_ms) d.feasible = d.feasible && e == 0;
  return d;
}

ScalingDecision optimize(const std::vector<ModelChoiceSpec>& models, const SharedBudget& budget, Objective objective) {
  validate(models, budget);
  const size_t M = models.size();
  const double share_cap = budget.processor_share ? 1.0 : kInf;
  int64_t states = 0;

  // Feasible search: per-model frontiers within the deadlines, then one point per model.
  std::vector<Frontier> fr;
  bool each_fits = true;
  // Memory left for one model when every other model takes its least.
  double all_min = 0;
  for (const auto& m : models) all_min += min_bytes(m);
  for (const auto& m : models) {
    double cap = budget.memory_bytes - (all_min - min_bytes(m));
    fr.push_back(model_frontier(m, m.deadline_ms, cap, states));
    each_fits = each_fits && !fr.back().last().empty();
  }
  auto items_for = [&](double min_acc, bool with_cost) {
    std::vector<std::vector<Item>> items(M);
    for (size_t m = 0; m < M; ++m) {
      for (size_t k = 0; k < fr[m].last().size(); ++k) {
        const State& s = fr[m].last()[k];
        double acc = models[m].accuracy - s.c;
        if (acc < min_acc - kEps) continue;
        double cost = with_cost ? (objective == Objective::Sum ? -models[m].weight * acc : -acc) : 0.0;
        items[m].push_back({s.b, budget.processor_share ? models[m].rate_hz * s.a / 1000.0 : 0.0, cost, static_cast<int>(k)});
      }
      // Latency matters across models only through the processor share.
      std::vector<State> proj;
      for (size_t k = 0; k < items[m].size(); ++k)
        proj.push_back({items[m][k].bytes, items[m][k].share, items[m][k].cost, -1, static_cast<int>(k)});
      pareto(proj);
      std::vector<Item> kept;
      for (const auto& p : proj) kept.push_back(items[m][p.option]);
      items[m] = std::move(kept);
    }
    return items;
  };
  auto decide = [&](const std::vector<std::vector<Item>>& items, const std::vector<int>& pick) {
    std::vector<std::vector<int>> choice(M);
    for (size_t m = 0; m < M; ++m) choice[m] = fr[m].choice(items[m][pick[m]].point);
    ScalingDecision d = evaluate_choice(models, budget, choice, objective);
    d.states = states;
    return d;
  };

  if (each_fits) {
    if (objective == Objective::Sum) {
      auto items = items_for(-kInf, true);
      auto pick = cross_models(items, budget.memory_bytes, share_cap, states);
      if (!pick.empty()) return decide(items, pick);
    } else {
      // Max-min: the best minimum is one of the accuracies on the frontiers; binary-search the
      // largest one for which every model can stay at or above it within the shared budgets,
      // then maximize the sum of accuracies among those selections.
      std::vector<double> levels;
      for (size_t m = 0; m < M; ++m)
        for (const auto& s : fr[m].last()) levels.push_back(models[m].accuracy - s.c);
      std::sort(levels.begin(), levels.end());
      levels.erase(std::unique(levels.begin(), levels.end()), levels.end());
      auto fits = [&](double t) {
        auto items = items_for(t, false);
        for (const auto& it : items)
          if (it.empty()) return false;
        return !cross_models(items, budget.memory_bytes, share_cap, states).empty();
      };
      if (fits(levels.front())) {
        size_t lo = 0, hi = levels.size() - 1;  // fits(levels[lo]) holds
        while (lo < hi) {
          size_t mid = (lo + hi + 1) / 2;
          if (fits(levels[mid])) lo = mid;
          else hi = mid - 1;
        }
        auto items = items_for(levels[lo], true);
        auto pick = cross_models(items, budget.memory_bytes, share_cap, states);
        if (!pick.empty()) return decide(items, pick);
      }
    }
  }

  // Infeasible: minimize the summed relative excess over all compositions, then the accuracy loss.
  fr.clear();
  for (const auto& m : models) fr.push_back(model_frontier(m, kInf, kInf, states));
  std::vector<std::vector<Item>> items(M);
  for (size_t m = 0; m < M; ++m)
    for (size_t k = 0; k < fr[m].last().size(); ++k) {
      const State& s = fr[m].last()[k];
      double cost = relative_excess(s.a, models[m].deadline_ms) + 1e-6 * models[m].weight * s.c;
      items[m].push_back({s.b, budget.processor_share ? models[m].rate_hz * s.a / 1000.0 : 0.0, cost, static_cast<int>(k)});
    }
  // The memory and share excesses depend on the totals: try every Pareto end state.
  std::vector<std::vector<State>> stages{{{0.0, 0.0, 0.0, -1, -1}}};
  for (const auto& its : items) {
    const auto& prev = stages.back();
    std::vector<State> next;
    for (size_t p = 0; p < prev.size(); ++p)
      for (size_t i = 0; i < its.size(); ++i)
        next.push_back({prev[p].a + its[i].bytes, prev[p].b + its[i].share, prev[p].c + its[i].cost,
                        static_cast<int>(p), static_cast<int>(i)});
    pareto(next);
    states += static_cast<int64_t>(next.size());
    stages.push_back(std::move(next));
  }
  const auto& last = stages.back();
  int best = -1;
  double best_total = kInf;
  for (size_t k = 0; k < last.size(); ++k) {
    double total = last[k].c + relative_excess(last[k].a, budget.memory_bytes) +
                   (budget.processor_share ? std::max(0.0, last[k].b - 1.0) : 0.0);
    if (total < best_total) {
      best_total = total;
      best = static_cast<int>(k);
    }
  }
  std::vector<int> pick(M);
  for (size_t k = stages.size() - 1; k > 0; --k) {
    pick[k - 1] = stages[k][best].option;
    best = stages[k][best].parent;
  }
  ScalingDecision d = decide(items, pick);
  d.feasible = false;
  return d;
}

}  // namespace legodnn
