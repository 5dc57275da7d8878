#include "legodnn/runtime/optimizer.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <iterator>

#include "legodnn/util/error.h"

// How the exact search stays fast (DESIGN.md section 9):
//  1. A Lagrangian relaxation of the budgets (memory, each deadline, processor share) gives a lower
//     bound on the weighted accuracy loss; a subgradient search tunes its multipliers, and the
//     relaxed selections, repaired and improved by local moves, give a feasible incumbent.
//  2. When the bound meets the incumbent, the incumbent is proved optimal and returned.
//  3. Otherwise a dynamic program over Pareto sets of partial selections (per model, then across
//     models) finds the optimum, dropping every partial selection whose bound cannot beat the
//     incumbent. Dropping by a valid bound keeps the search exact. The bound keeps the memory and
//     the share priced by the multipliers but meets each model's own deadline exactly: per model,
//     the Pareto sets of (latency, priced cost) of its last blocks (Tails) give the least cost the
//     remaining blocks can add within the time left, and the least of its whole compositions.
// The max-min objective and the infeasible case (least violation) use the same dynamic program
// with bounds of their own.
namespace legodnn {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kEps = 1e-9;
// A partial selection is dropped when its bound is within this of the incumbent: it could at best
// tie, and ties are settled by the incumbent.
constexpr double kPruneTol = 1e-12;

// A partial selection: two resources and a cost, all to minimize, with a back-pointer.
struct State {
  double a, b, c;
  int parent;  // index in the previous stage
  int option;  // option (block level) or frontier point (model level) taken at this stage
};

// Keeps the states no other state beats in all of (a, b, c), of states in order of
// non-decreasing c. Exact: every earlier state has a cost no higher, so only (a, b) need checking,
// against a staircase (sorted by a, b falling as a grows; a flat vector, as staircases stay short).
// A later state with the same c that beats an earlier one only leaves that one in (never wrong).
void pareto_in_cost_order(std::vector<State>& s) {
  struct Step {
    double a, b;
  };
  thread_local std::vector<Step> stair;
  stair.clear();
  size_t kept = 0;
  for (const State& x : s) {
    // The last step with a <= x.a has the least b of those: x is dominated when it is no larger.
    auto lo = std::lower_bound(stair.begin(), stair.end(), x.a, [](const Step& t, double a) { return t.a < a; });
    if (lo != stair.end() && lo->a == x.a) {
      if (lo->b <= x.b) continue;
    } else if (lo != stair.begin() && std::prev(lo)->b <= x.b) {
      continue;
    }
    // x replaces the steps it dominates: from the first with a >= x.a, while b >= x.b.
    auto hi = lo;
    while (hi != stair.end() && hi->b >= x.b) ++hi;
    if (hi != lo) {
      *lo = {x.a, x.b};
      stair.erase(lo + 1, hi);
    } else {
      stair.insert(lo, {x.a, x.b});
    }
    s[kept++] = x;
  }
  s.resize(kept);
}

bool cost_order(const State& x, const State& y) {
  if (x.c != y.c) return x.c < y.c;
  if (x.a != y.a) return x.a < y.a;
  return x.b < y.b;
}

// Any states.
void pareto(std::vector<State>& s) {
  std::sort(s.begin(), s.end(), cost_order);
  pareto_in_cost_order(s);
}

// States made of runs s[runs[i]] .. s[runs[i + 1]] - 1, each in order of non-decreasing c (a
// stage in cost order, plus one option's constant cost per run): merged, then filtered. Merging
// the few runs costs less than sorting.
void pareto_of_runs(std::vector<State>& s, std::vector<size_t>& runs) {
  thread_local std::vector<State> tmp;
  while (runs.size() > 2) {
    tmp.resize(s.size());
    thread_local std::vector<size_t> merged;
    merged.assign(1, 0);
    size_t i = 0;
    for (; i + 2 < runs.size(); i += 2) {
      std::merge(s.begin() + runs[i], s.begin() + runs[i + 1], s.begin() + runs[i + 1], s.begin() + runs[i + 2],
                 tmp.begin() + runs[i], cost_order);
      merged.push_back(runs[i + 2]);
    }
    if (i + 1 < runs.size()) {  // an odd run left over
      std::copy(s.begin() + runs[i], s.begin() + runs[i + 1], tmp.begin() + runs[i]);
      merged.push_back(runs[i + 1]);
    }
    s.swap(tmp);
    runs.swap(merged);
  }
  pareto_in_cost_order(s);
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

// Per model: the least latency and memory the blocks from k on can take.
struct Rest {
  std::vector<double> ms, bytes;
};
Rest rest_minima(const ModelChoiceSpec& m) {
  const size_t nb = m.blocks.size();
  Rest r{std::vector<double>(nb + 1, 0.0), std::vector<double>(nb + 1, 0.0)};
  for (size_t k = nb; k-- > 0;) {
    double ms = kInf, by = kInf;
    for (const auto& o : m.blocks[k]) {
      ms = std::min(ms, o.latency_ms);
      by = std::min(by, o.bytes);
    }
    r.ms[k] = r.ms[k + 1] + ms;
    r.bytes[k] = r.bytes[k + 1] + by;
  }
  return r;
}

// All Pareto-optimal (latency, bytes, weight * drop) compositions of one model within `deadline`
// and `memory_cap` that `drop_state(k, latency, bytes, cost)` keeps (k = blocks chosen so far). A
// partial selection is also dropped as soon as even the fastest (smallest) options for the
// remaining blocks cannot bring it within the caps.
template <class Drop>
Frontier model_frontier(const ModelChoiceSpec& m, double weight, double deadline, double memory_cap,
                        const Drop& drop_state, int64_t& states) {
  const size_t nb = m.blocks.size();
  const Rest rest = rest_minima(m);
  thread_local std::vector<size_t> runs;
  Frontier f;
  f.stages.push_back({});
  if (m.frame_ms + rest.ms[0] <= deadline * (1 + kEps) && m.frame_bytes + rest.bytes[0] <= memory_cap * (1 + kEps) &&
      !drop_state(0, m.frame_ms, m.frame_bytes, 0.0))
    f.stages.back().push_back({m.frame_ms, m.frame_bytes, 0.0, -1, -1});
  for (size_t k = 0; k < nb; ++k) {
    const auto& opts = m.blocks[k];
    const auto& prev = f.stages.back();
    std::vector<State> next;
    next.reserve(prev.size() * opts.size());
    runs.assign(1, 0);
    for (size_t o = 0; o < opts.size(); ++o) {
      for (size_t p = 0; p < prev.size(); ++p) {
        double lat = prev[p].a + opts[o].latency_ms, by = prev[p].b + opts[o].bytes;
        double c = prev[p].c + weight * opts[o].drop;
        if (lat + rest.ms[k + 1] > deadline * (1 + kEps)) continue;
        if (by + rest.bytes[k + 1] > memory_cap * (1 + kEps)) continue;
        if (drop_state(k + 1, lat, by, c)) continue;
        next.push_back({lat, by, c, static_cast<int>(p), static_cast<int>(o)});
      }
      runs.push_back(next.size());
    }
    pareto_of_runs(next, runs);
    states += static_cast<int64_t>(next.size());
    f.stages.push_back(std::move(next));
  }
  return f;
}

// The least reduced cost (weight * drop + bp * bytes + sp * latency) that model m's blocks from k on
// can add within a latency allowance. Stage k holds the selections of blocks k.. as a Pareto set
// of (latency, reduced cost) sorted by latency, so reduced cost falls along it. A partial selection
// of the first k blocks at latency L can add at least `least(k, deadline - L)`: a bound exact for
// the model's own deadline, where the Lagrangian one only prices it.
struct Tails {
  struct Point {
    double ms, rc;
  };
  std::vector<Point> points;  // stage k: points[first[k]] .. points[first[k] + count[k] - 1]
  std::vector<size_t> first, count;
  double least(size_t k, double allowance) const {
    const Point* b = points.data() + first[k];
    const Point* e = b + count[k];
    const Point* it = std::upper_bound(b, e, allowance, [](double a, const Point& p) { return a < p.ms; });
    return it == b ? kInf : (it - 1)->rc;
  }
};

// Builds the tails backwards. A suffix is left out when even the least the first k blocks can
// add (`head`) and `outside` (a lower bound on everything but this model's blocks, the Lagrangian
// constant included) bring its total to the incumbent U, or when the fastest first k blocks with it
// miss the deadline: leaving such suffixes out only raises `least` for partial selections that
// could not win anyway (a pruned suffix is either beaten by a kept one or cannot beat U itself).
Tails exact_tails(const ModelChoiceSpec& m, double bp, double sp, double deadline, double outside, double U) {
  const size_t nb = m.blocks.size();
  std::vector<double> head_rc(nb + 1), head_ms(nb + 1);
  head_rc[0] = bp * m.frame_bytes + sp * m.frame_ms;
  head_ms[0] = m.frame_ms;
  for (size_t k = 0; k < nb; ++k) {
    double rc = kInf, ms = kInf;
    for (const auto& o : m.blocks[k]) {
      rc = std::min(rc, m.weight * o.drop + bp * o.bytes + sp * o.latency_ms);
      ms = std::min(ms, o.latency_ms);
    }
    head_rc[k + 1] = head_rc[k] + rc;
    head_ms[k + 1] = head_ms[k] + ms;
  }
  const double cap = deadline * (1 + kEps);
  Tails t;
  t.first.assign(nb + 1, 0);
  t.count.assign(nb + 1, 0);
  t.points.reserve(64 * (nb + 1));
  t.points.push_back({0.0, 0.0});
  t.count[nb] = 1;

  // Each option's candidates come in latency order (as `next` is): merged two runs at a time,
  // then filtered in one pass.
  thread_local std::vector<Tails::Point> cand, tmp;
  thread_local std::vector<size_t> runs, merged;
  auto by_ms = [](const Tails::Point& x, const Tails::Point& y) { return x.ms != y.ms ? x.ms < y.ms : x.rc < y.rc; };
  for (size_t k = nb; k-- > 0;) {
    const size_t next_first = t.first[k + 1], next_count = t.count[k + 1];
    cand.clear();
    runs.assign(1, 0);
    const double room = cap - head_ms[k], budget = U - kPruneTol - head_rc[k] - outside;
    for (const auto& o : m.blocks[k]) {
      const double rc_o = m.weight * o.drop + bp * o.bytes + sp * o.latency_ms;
      for (size_t i = next_first; i < next_first + next_count; ++i) {
        const Tails::Point& p = t.points[i];
        const double ms = p.ms + o.latency_ms, rc = p.rc + rc_o;
        if (ms > room) break;  // `next` is in latency order
        if (rc >= budget) continue;
        cand.push_back({ms, rc});
      }
      if (cand.size() > runs.back()) runs.push_back(cand.size());
    }
    while (runs.size() > 2) {
      tmp.resize(cand.size());
      merged.assign(1, 0);
      size_t i = 0;
      for (; i + 2 < runs.size(); i += 2) {
        std::merge(cand.begin() + runs[i], cand.begin() + runs[i + 1], cand.begin() + runs[i + 1],
                   cand.begin() + runs[i + 2], tmp.begin() + runs[i], by_ms);
        merged.push_back(runs[i + 2]);
      }
      if (i + 1 < runs.size()) {
        std::copy(cand.begin() + runs[i], cand.begin() + runs[i + 1], tmp.begin() + runs[i]);
        merged.push_back(runs[i + 1]);
      }
      cand.swap(tmp);
      runs.swap(merged);
    }
    t.first[k] = t.points.size();
    for (const auto& c : cand)
      if (t.points.size() == t.first[k] || c.rc < t.points.back().rc) t.points.push_back(c);
    t.count[k] = t.points.size() - t.first[k];
  }
  return t;
}

// The least memory a model can take (frame plus the smallest option of every block).
double min_bytes(const ModelChoiceSpec& m) { return m.frame_bytes + rest_minima(m).bytes[0]; }

// One candidate per frontier point of a model, as the cross-model search sees it.
struct Item {
  double bytes, share, cost;
  int point;  // index into the model frontier's last stage
};

// Keeps the items no other item beats in (bytes, share, cost). Items that all cost the same (the
// max-min search's feasibility tests) need no sort: any order is in cost order.
void prune_items(std::vector<Item>& items, bool same_cost = false) {
  thread_local std::vector<State> proj;
  proj.clear();
  for (size_t k = 0; k < items.size(); ++k)
    proj.push_back({items[k].bytes, items[k].share, items[k].cost, -1, static_cast<int>(k)});
  if (same_cost) pareto_in_cost_order(proj);
  else pareto(proj);
  std::vector<Item> kept;
  kept.reserve(proj.size());
  for (const auto& p : proj) kept.push_back(items[p.option]);
  items = std::move(kept);
}

// Chooses one item per model minimizing `total(bytes, share, cost)` of the sums, where `total` is
// the summed cost plus whatever the totals add (nothing when feasible, excesses when not), with
// sum(bytes) <= mem and sum(share) <= share_cap. `drop_state(j, bytes, share, cost)` drops a
// partial choice of the first j models that cannot win. Returns the item index per model, or empty.
template <class Drop, class Total>
std::vector<int> cross_models(const std::vector<std::vector<Item>>& items, double mem, double share_cap,
                              const Drop& drop_state, const Total& total, int64_t& states) {
  std::vector<std::vector<State>> stages{{{0.0, 0.0, 0.0, -1, -1}}};
  thread_local std::vector<size_t> runs;
  for (size_t j = 0; j < items.size(); ++j) {
    const auto& its = items[j];
    const auto& prev = stages.back();
    std::vector<State> next;
    next.reserve(prev.size() * its.size());
    runs.assign(1, 0);
    for (size_t i = 0; i < its.size(); ++i) {
      for (size_t p = 0; p < prev.size(); ++p) {
        double b = prev[p].a + its[i].bytes, s = prev[p].b + its[i].share, c = prev[p].c + its[i].cost;
        if (b > mem * (1 + kEps) || s > share_cap * (1 + kEps)) continue;
        if (drop_state(j + 1, b, s, c)) continue;
        next.push_back({b, s, c, static_cast<int>(p), static_cast<int>(i)});
      }
      runs.push_back(next.size());
    }
    pareto_of_runs(next, runs);
    states += static_cast<int64_t>(next.size());
    if (next.empty()) return {};
    stages.push_back(std::move(next));
  }
  int best = 0;
  const auto& last = stages.back();
  double best_total = kInf;
  for (size_t k = 0; k < last.size(); ++k) {
    double t = total(last[k].a, last[k].b, last[k].c);
    if (t < best_total) {
      best_total = t;
      best = static_cast<int>(k);
    }
  }
  std::vector<int> pick(items.size());
  for (size_t k = stages.size() - 1; k > 0; --k) {
    pick[k - 1] = stages[k][best].option;
    best = stages[k][best].parent;
  }
  return pick;
}

double relative_excess(double value, double limit) {
  if (value <= limit * (1 + kEps)) return 0.0;
  return (value - limit) / std::max(limit, 1e-9);
}

using Choice = std::vector<std::vector<int>>;

// The sum objective as a cost to minimize: sum_m weight_m * (drops of model m). Holds the
// Lagrangian multipliers and the best feasible selection found by the heuristic. The options are
// kept in flat arrays (block g of the whole problem has options opt_[g] .. opt_[g + 1] - 1), as the
// subgradient loop and the repair scan them many times per solve.
class Relaxation {
 public:
  Relaxation(const std::vector<ModelChoiceSpec>& models, const SharedBudget& budget)
      : models_(models), M_(models.size()) {
    mem_on_ = std::isfinite(budget.memory_bytes) && budget.memory_bytes > 0;
    mem_ = budget.memory_bytes;
    share_on_ = budget.processor_share;
    dl_on_.resize(M_);
    for (size_t m = 0; m < M_; ++m) dl_on_[m] = std::isfinite(models[m].deadline_ms) && models[m].deadline_ms > 0;
    mu_.assign(M_, 0.0);
    block_.push_back(0);
    opt_.push_back(0);
    for (size_t m = 0; m < M_; ++m) {
      const auto& mo = models[m];
      for (const auto& opts : mo.blocks) {
        for (const auto& o : opts) {
          cost_.push_back(mo.weight * o.drop);
          lat_.push_back(o.latency_ms);
          bytes_.push_back(o.bytes);
        }
        opt_.push_back(static_cast<int>(cost_.size()));
      }
      block_.push_back(static_cast<int>(opt_.size() - 1));
    }
  }

  // Tunes the multipliers by subgradient ascent on the Lagrangian dual and collects incumbents.
  void solve(int iterations) {
    std::vector<double> mu = mu_;
    double lam = 0, nu = 0, theta = 1.0;
    int stalled = 0;
    Flat x, repaired;
    Totals t;
    std::vector<double> g_dl(M_, 0.0);
    for (int it = 0; it < iterations; ++it) {
      double L = relaxed(lam, mu, nu, x);
      // Repairs are dear (a scan of every option per change): only the selections of multipliers
      // that raised the bound are repaired, until a first incumbent is found and then in the
      // second half of the iterations, where the multipliers are better.
      const bool improved = L > bound_ + 1e-15;
      if (improved) {
        bound_ = L;
        lam_ = lam, mu_ = mu, nu_ = nu;
        stalled = 0;
      } else if (++stalled >= 3) {
        theta *= 0.5;
        stalled = 0;
      }
      totals_into(x, t);
      if (feasible(t)) offer(x, t);
      else if (improved && x != repaired && (!std::isfinite(best_cost_) || it >= iterations / 2)) {
        repaired = x;
        repair_and_offer(x, t);
      }
      if (proved()) return;
      // Subgradient, projected so that multipliers at zero do not go negative.
      double g_mem = mem_on_ ? t.bytes / mem_ - 1 : 0.0;
      if (lam <= 0 && g_mem < 0) g_mem = 0;
      double g_sh = share_on_ ? t.share - 1 : 0.0;
      if (nu <= 0 && g_sh < 0) g_sh = 0;
      std::fill(g_dl.begin(), g_dl.end(), 0.0);
      double norm2 = g_mem * g_mem + g_sh * g_sh;
      for (size_t m = 0; m < M_; ++m) {
        if (!dl_on_[m]) continue;
        g_dl[m] = t.latency[m] / models_[m].deadline_ms - 1;
        if (mu[m] <= 0 && g_dl[m] < 0) g_dl[m] = 0;
        norm2 += g_dl[m] * g_dl[m];
      }
      if (norm2 <= 1e-30 || theta < 1e-4) return;
      double target = std::isfinite(best_cost_) ? best_cost_ : L + 0.1 * std::abs(L) + 1e-3;
      double step = theta * std::max(target - L, 1e-9) / norm2;
      lam = std::max(0.0, lam + step * g_mem);
      nu = std::max(0.0, nu + step * g_sh);
      for (size_t m = 0; m < M_; ++m) mu[m] = std::max(0.0, mu[m] + step * g_dl[m]);
    }
  }

  bool proved() const { return std::isfinite(best_cost_) && bound_ >= best_cost_ - kPruneTol; }
  double bound() const { return bound_; }
  double best_cost() const { return best_cost_; }
  Choice best() const {
    if (best_.empty()) return {};
    Choice c(M_);
    for (size_t m = 0; m < M_; ++m)
      for (int g = block_[m]; g < block_[m + 1]; ++g) c[m].push_back(best_[g] - opt_[g]);
    return c;
  }

  // Per model: the reduced cost of one byte and one ms, and the least reduced cost of the blocks
  // from k on (stage k), frame included at stage 0 of `full`.
  double byte_price() const { return mem_on_ ? lam_ / mem_ : 0.0; }
  double ms_price(size_t m) const {
    return (dl_on_[m] ? mu_[m] / models_[m].deadline_ms : 0.0) + (share_on_ ? nu_ * models_[m].rate_hz / 1000.0 : 0.0);
  }
  double share_price() const { return share_on_ ? nu_ : 0.0; }
  // The part of ms_price() that prices the processor share, and model m's deadline multiplier.
  double share_ms_price(size_t m) const { return share_on_ ? nu_ * models_[m].rate_hz / 1000.0 : 0.0; }
  double deadline_multiplier(size_t m) const { return dl_on_[m] ? mu_[m] : 0.0; }
  std::vector<double> rest_reduced(size_t m) const {
    const auto& mo = models_[m];
    std::vector<double> r(mo.blocks.size() + 1, 0.0);
    for (size_t k = mo.blocks.size(); k-- > 0;) {
      double lo = kInf;
      for (const auto& o : mo.blocks[k])
        lo = std::min(lo, mo.weight * o.drop + byte_price() * o.bytes + ms_price(m) * o.latency_ms);
      r[k] = r[k + 1] + lo;
    }
    return r;
  }
  // The multipliers of the memory and the share (the constant part, deadlines left out).
  double constant_of_shared() const { return (mem_on_ ? lam_ : 0.0) + (share_on_ ? nu_ : 0.0); }
  // The constant part of the Lagrangian: minus the multipliers of the normalized budgets.
  double constant() const {
    double k = (mem_on_ ? lam_ : 0.0) + (share_on_ ? nu_ : 0.0);
    for (size_t m = 0; m < M_; ++m) k += dl_on_[m] ? mu_[m] : 0.0;
    return k;
  }

 private:
  using Flat = std::vector<int>;  // per block of the whole problem, the flat index of its option

  struct Totals {
    double bytes = 0, share = 0, cost = 0;
    std::vector<double> latency;
  };

  void totals_into(const Flat& x, Totals& t) const {
    t.bytes = t.share = t.cost = 0;
    t.latency.resize(M_);
    for (size_t m = 0; m < M_; ++m) {
      const auto& mo = models_[m];
      double lat = mo.frame_ms;
      t.bytes += mo.frame_bytes;
      for (int g = block_[m]; g < block_[m + 1]; ++g) {
        const int o = x[g];
        lat += lat_[o];
        t.bytes += bytes_[o];
        t.cost += cost_[o];
      }
      t.latency[m] = lat;
      t.share += mo.rate_hz * lat / 1000.0;
    }
  }

  bool feasible(const Totals& t) const {
    if (t.bytes > mem_ * (1 + kEps)) return false;
    if (share_on_ && t.share > 1 + kEps) return false;
    for (size_t m = 0; m < M_; ++m)
      if (t.latency[m] > models_[m].deadline_ms * (1 + kEps)) return false;
    return true;
  }

  // The Lagrangian's value at the given multipliers and its minimizing selection `x`.
  double relaxed(double lam, const std::vector<double>& mu, double nu, Flat& x) const {
    x.resize(opt_.size() - 1);
    double L = 0;
    const double bp = mem_on_ ? lam / mem_ : 0.0;
    L -= mem_on_ ? lam : 0.0;
    L -= share_on_ ? nu : 0.0;
    for (size_t m = 0; m < M_; ++m) {
      const auto& mo = models_[m];
      const double tp = (dl_on_[m] ? mu[m] / mo.deadline_ms : 0.0) + (share_on_ ? nu * mo.rate_hz / 1000.0 : 0.0);
      L -= dl_on_[m] ? mu[m] : 0.0;
      L += bp * mo.frame_bytes + tp * mo.frame_ms;
      for (int g = block_[m]; g < block_[m + 1]; ++g) {
        double lo = kInf;
        int arg = opt_[g];
        for (int o = opt_[g]; o < opt_[g + 1]; ++o) {
          double v = cost_[o] + bp * bytes_[o] + tp * lat_[o];
          if (v < lo) lo = v, arg = o;
        }
        L += lo;
        x[g] = arg;
      }
    }
    return L;
  }

  // The normalized total violation of the budgets.
  double violation(const Totals& t) const {
    double v = memory_violation(t.bytes) + share_violation(t.share);
    for (size_t m = 0; m < M_; ++m) v += latency_violation(m, t.latency[m]);
    return v;
  }

  // Greedy repair, in passes: score every block's best change (violation removed per unit of
  // cost) at the pass's totals, then apply the changes in score order while each still removes
  // violation, until the selection is feasible; a pass that changes nothing ends it. Then improve
  // it (offer). One scan per pass instead of one per change: the repair starts from relaxed
  // selections far outside the budgets. `t` holds x's totals.
  void repair_and_offer(Flat x, Totals t) {
    struct Move {
      double score;
      int g, o;
      size_t m;
    };
    thread_local std::vector<Move> moves;
    // The violation a change of block g (of model m) to option o removes at totals t.
    auto gain_of = [&](size_t m, int cur, int o, double v_m, double v_mem, double v_sh) {
      const double dl = lat_[o] - lat_[cur], db = bytes_[o] - bytes_[cur];
      if (dl >= 0 && db >= 0) return 0.0;  // no budget gets any closer (the current option too)
      return (v_m - latency_violation(m, t.latency[m] + dl)) + (v_mem - memory_violation(t.bytes + db)) +
             (v_sh - share_violation(t.share + models_[m].rate_hz / 1000.0 * dl));
    };
    for (int pass = 0; pass < 1000 && !feasible(t); ++pass) {
      // Only the memory, one model's latency and the share change with one block's option.
      const double v_mem = memory_violation(t.bytes), v_sh = share_violation(t.share);
      moves.clear();
      for (size_t m = 0; m < M_; ++m) {
        const double v_m = latency_violation(m, t.latency[m]);
        // With memory and share met, only the blocks of a model over its deadline can help.
        if (v_m == 0 && v_mem == 0 && v_sh == 0) continue;
        for (int g = block_[m]; g < block_[m + 1]; ++g) {
          const int cur = x[g];
          double best_score = -kInf;
          int bo = -1;
          for (int o = opt_[g]; o < opt_[g + 1]; ++o) {
            const double gain = gain_of(m, cur, o, v_m, v_mem, v_sh);
            if (gain <= 1e-15) continue;
            const double dc = cost_[o] - cost_[cur];
            const double score = dc <= 0 ? 1e30 + gain : gain / dc;
            if (score > best_score) best_score = score, bo = o;
          }
          if (bo >= 0) moves.push_back({best_score, g, bo, m});
        }
      }
      std::sort(moves.begin(), moves.end(), [](const Move& a, const Move& b) {
        return a.score != b.score ? a.score > b.score : a.g < b.g;
      });
      bool changed = false;
      for (const Move& mv : moves) {
        const int cur = x[mv.g];
        if (gain_of(mv.m, cur, mv.o, latency_violation(mv.m, t.latency[mv.m]), memory_violation(t.bytes),
                    share_violation(t.share)) <= 1e-15)
          continue;
        const double dl = lat_[mv.o] - lat_[cur];
        t.latency[mv.m] += dl;
        t.share += models_[mv.m].rate_hz / 1000.0 * dl;
        t.bytes += bytes_[mv.o] - bytes_[cur];
        x[mv.g] = mv.o;
        changed = true;
        if (feasible(t)) break;
      }
      if (!changed) return;
      totals_into(x, t);  // exact sums again (the updates above round)
    }
    if (feasible(t)) offer(x, t);
  }

  double memory_violation(double bytes) const {
    if (mem_on_) return std::max(0.0, bytes / mem_ - 1);
    return bytes > mem_ * (1 + kEps) ? bytes : 0.0;  // budget 0
  }
  double share_violation(double share) const { return share_on_ ? std::max(0.0, share - 1) : 0.0; }
  double latency_violation(size_t m, double latency) const {
    double d = models_[m].deadline_ms;
    if (dl_on_[m]) return std::max(0.0, latency / d - 1);
    return latency > d * (1 + kEps) ? latency : 0.0;  // deadline 0
  }

  // Best-improvement local search (single-block changes that keep the budgets), then record.
  // `t` holds x's totals.
  void offer(Flat x, Totals t) {
    for (int guard = 0; guard < 10000; ++guard) {
      double best_dc = -1e-15;
      int bg = -1, bo = -1;
      for (size_t m = 0; m < M_; ++m) {
        const double deadline = models_[m].deadline_ms * (1 + kEps), rate = models_[m].rate_hz / 1000.0;
        for (int g = block_[m]; g < block_[m + 1]; ++g) {
          const int cur = x[g];
          for (int o = opt_[g]; o < opt_[g + 1]; ++o) {
            const double dc = cost_[o] - cost_[cur];
            if (dc >= best_dc) continue;
            const double dl = lat_[o] - lat_[cur];
            if (t.bytes + bytes_[o] - bytes_[cur] > mem_ * (1 + kEps)) continue;
            if (t.latency[m] + dl > deadline) continue;
            if (share_on_ && t.share + rate * dl > 1 + kEps) continue;
            best_dc = dc, bg = g, bo = o;
          }
        }
      }
      if (bo < 0) break;
      x[bg] = bo;
      totals_into(x, t);
    }
    if (t.cost < best_cost_) {
      best_cost_ = t.cost;
      best_ = std::move(x);
    }
  }

  const std::vector<ModelChoiceSpec>& models_;
  size_t M_;
  bool mem_on_ = false, share_on_ = false;
  double mem_ = kInf;
  std::vector<bool> dl_on_;
  double lam_ = 0, nu_ = 0;
  std::vector<double> mu_;
  double bound_ = -kInf;
  double best_cost_ = kInf;
  Flat best_;
  std::vector<int> block_;  // model m's blocks: block_[m] .. block_[m + 1] - 1
  std::vector<int> opt_;    // block g's options: opt_[g] .. opt_[g + 1] - 1
  std::vector<double> cost_, lat_, bytes_;  // per option: weight * drop, latency, bytes
};

bool nonneg(double v) { return !std::isnan(v) && v >= 0; }
}  // namespace

// Runs on every solve: LEGODNN_CHECK builds a message only for bad input.
void validate_problem(const std::vector<ModelChoiceSpec>& models, const SharedBudget& budget) {
  LEGODNN_CHECK(!models.empty(), OptionError, "the optimizer needs at least one model");
  LEGODNN_CHECK(nonneg(budget.memory_bytes), OptionError,
                "memory budget must be a non-negative number of bytes, got ", budget.memory_bytes);
  for (const auto& m : models) {
    LEGODNN_CHECK(!m.blocks.empty(), OptionError, "model '", m.name, "' has no blocks (empty repository?)");
    LEGODNN_CHECK(nonneg(m.deadline_ms), OptionError, "model '", m.name,
                  "': deadline must be a non-negative number of ms, got ", m.deadline_ms);
    LEGODNN_CHECK(!std::isnan(m.accuracy), OptionError, "model '", m.name, "': accuracy is NaN");
    LEGODNN_CHECK(nonneg(m.weight), OptionError, "model '", m.name, "': weight must be a non-negative number, got ",
                  m.weight);
    LEGODNN_CHECK(nonneg(m.rate_hz), OptionError, "model '", m.name, "': rate must be a non-negative number, got ",
                  m.rate_hz);
    LEGODNN_CHECK(nonneg(m.frame_ms), OptionError, "model '", m.name,
                  "': frame latency must be a non-negative number, got ", m.frame_ms);
    LEGODNN_CHECK(nonneg(m.frame_bytes), OptionError, "model '", m.name,
                  "': frame bytes must be a non-negative number, got ", m.frame_bytes);
    for (size_t i = 0; i < m.blocks.size(); ++i) {
      LEGODNN_CHECK(!m.blocks[i].empty(), OptionError, "model '", m.name, "': block ", i, " has no options");
      for (size_t j = 0; j < m.blocks[i].size(); ++j) {
        const auto& o = m.blocks[i][j];
        LEGODNN_CHECK(std::isfinite(o.drop), OptionError, "model '", m.name, "' block ", i, " option ", j,
                      ": drop must be finite");
        LEGODNN_CHECK(nonneg(o.latency_ms), OptionError, "model '", m.name, "' block ", i, " option ", j,
                      ": latency must be a non-negative number, got ", o.latency_ms);
        LEGODNN_CHECK(nonneg(o.bytes), OptionError, "model '", m.name, "' block ", i, " option ", j,
                      ": bytes must be a non-negative number, got ", o.bytes);
        LEGODNN_CHECK(std::isfinite(o.latency_ms) && std::isfinite(o.bytes), OptionError, "model '", m.name,
                      "' block ", i, " option ", j, ": latency and bytes must be finite");
      }
    }
  }
}

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

// The best selection within the budgets, or an empty one when nothing fits.
namespace {

// Drops a partial choice of the first j models that no choice of the others can bring within
// the memory and the share: when even their smallest items overrun one of them, or when, for a
// price p per normalized byte, every completion has share + p * bytes above 1 + p (a valid test
// for any p >= 0, tried for a few).
struct Lookahead {
  static constexpr int kPrices = 5;
  std::vector<double> bytes, share;  // least of models j.. (suffix sums)
  std::vector<std::array<double, kPrices>> priced;  // least of share + p * bytes / memory, models j..
  std::array<double, kPrices> prices{};
  double memory, share_cap;
  bool use_prices;
  Lookahead(const std::vector<std::vector<Item>>& items, double memory, double share_cap)
      : bytes(items.size() + 1, 0.0), share(items.size() + 1, 0.0), priced(items.size() + 1), memory(memory),
        share_cap(share_cap), use_prices(std::isfinite(memory) && memory > 0 && std::isfinite(share_cap)) {
    for (int p = 0; p < kPrices; ++p) prices[p] = std::pow(4.0, p - 2);
    priced.back().fill(0.0);
    for (size_t j = items.size(); j-- > 0;) {
      double b = kInf, s = kInf;
      std::array<double, kPrices> lo;
      lo.fill(kInf);
      for (const auto& it : items[j]) {
        b = std::min(b, it.bytes), s = std::min(s, it.share);
        if (use_prices)
          for (int p = 0; p < kPrices; ++p) lo[p] = std::min(lo[p], it.share + prices[p] * it.bytes / memory);
      }
      bytes[j] = bytes[j + 1] + b;
      share[j] = share[j + 1] + s;
      for (int p = 0; p < kPrices; ++p) priced[j][p] = priced[j + 1][p] + (use_prices ? lo[p] : 0.0);
    }
  }
  bool operator()(size_t j, double b, double s, double) const {
    if (b + bytes[j] > memory * (1 + kEps) || s + share[j] > share_cap * (1 + kEps)) return true;
    if (use_prices)
      for (int p = 0; p < kPrices; ++p)
        if (s + prices[p] * b / memory + priced[j][p] > share_cap + prices[p] + 1e-9) return true;
    return false;
  }
};

Choice best_feasible(const std::vector<ModelChoiceSpec>& models, const SharedBudget& budget, Objective objective,
                     int64_t& states) {
  const size_t M = models.size();
  const double share_cap = budget.processor_share ? 1.0 : kInf;
  // Budgets that even the fastest and smallest options miss.
  double least_bytes = 0, least_share = 0;
  for (const auto& m : models) {
    const Rest r = rest_minima(m);
    if (m.frame_ms + r.ms[0] > m.deadline_ms * (1 + kEps)) return {};
    least_bytes += m.frame_bytes + r.bytes[0];
    least_share += m.rate_hz * (m.frame_ms + r.ms[0]) / 1000.0;
  }
  if (least_bytes > budget.memory_bytes * (1 + kEps)) return {};
  if (budget.processor_share && least_share > 1 + kEps) return {};

  double all_min = 0;  // memory when every model takes its least
  for (const auto& m : models) all_min += min_bytes(m);
  // Memory left for one model when every other model takes its least.
  auto memory_cap = [&](size_t m) { return budget.memory_bytes - (all_min - min_bytes(models[m])); };
  auto share_of = [&](size_t m, double latency) {
    return budget.processor_share ? models[m].rate_hz * latency / 1000.0 : 0.0;
  };

  std::vector<Frontier> fr(M);
  // Turns frontier choices into the per-model option indices.
  auto decide = [&](const std::vector<std::vector<Item>>& items, const std::vector<int>& pick) {
    Choice choice(M);
    for (size_t m = 0; m < M; ++m) choice[m] = fr[m].choice(items[m][pick[m]].point);
    return choice;
  };

  if (objective == Objective::Sum) {
    Relaxation rx(models, budget);
    rx.solve(30);
    if (rx.proved()) return rx.best();
    const double U = rx.best_cost();  // infinite when the heuristic found nothing
    // Every feasible selection costs at least sum_m T_m - K, where T_m is model m's cost plus
    // its bytes and share priced by the multipliers (its deadline term, <= 0 when met, left out)
    // and K the multipliers of the memory and the share. `term[m]` bounds T_m from below: first by
    // the Lagrangian minimum, then by the least within the deadline (the tails), then by the
    // frontier's least.
    std::vector<std::vector<double>> rest(M);
    std::vector<double> term(M);
    double all_terms = 0;
    const double K = rx.constant_of_shared();
    for (size_t m = 0; m < M; ++m) {
      rest[m] = rx.rest_reduced(m);
      term[m] = rest[m][0] + rx.byte_price() * models[m].frame_bytes + rx.ms_price(m) * models[m].frame_ms -
                rx.deadline_multiplier(m);
      all_terms += term[m];
    }
    std::vector<Tails> tails(M);
    for (size_t m = 0; m < M; ++m) {
      const double bp = rx.byte_price(), sp = rx.share_ms_price(m);
      tails[m] = exact_tails(models[m], bp, sp, models[m].deadline_ms, all_terms - term[m] - K, U);
      const double t = bp * models[m].frame_bytes + sp * models[m].frame_ms +
                       tails[m].least(0, models[m].deadline_ms * (1 + kEps) - models[m].frame_ms);
      if (!std::isfinite(t)) return rx.best();  // no selection of this model can beat U
      if (t > term[m]) {
        all_terms += t - term[m];
        term[m] = t;
      }
    }
    bool each_fits = true;
    for (size_t m = 0; m < M && each_fits; ++m) {
      const double others = all_terms - term[m] - K;
      const double bp = rx.byte_price(), tp = rx.ms_price(m), sp = rx.share_ms_price(m), mu = rx.deadline_multiplier(m);
      const double cap = models[m].deadline_ms * (1 + kEps);
      const auto& rm = rest[m];
      const Tails& tm = tails[m];
      auto drop = [&](size_t k, double lat, double by, double c) {
        if (c + bp * by + tp * lat + rm[k] - mu + others >= U - kPruneTol) return true;
        return c + bp * by + sp * lat + tm.least(k, cap - lat) + others >= U - kPruneTol;
      };
      fr[m] = model_frontier(models[m], models[m].weight, models[m].deadline_ms, memory_cap(m), drop, states);
      each_fits = !fr[m].last().empty();
      // Every selection that can beat the incumbent uses one of these points: a tighter bound
      // on this model for the models still to come.
      double lo = kInf;
      for (const State& st : fr[m].last()) lo = std::min(lo, st.c + bp * st.b + sp * st.a);
      if (each_fits && lo > term[m]) {
        all_terms += lo - term[m];
        term[m] = lo;
      }
    }
    if (each_fits) {
      std::vector<std::vector<Item>> items(M);
      std::vector<double> best_reduced(M + 1, 0.0);  // least reduced cost of models j.. (suffix)
      for (size_t m = 0; m < M; ++m) {
        for (size_t k = 0; k < fr[m].last().size(); ++k) {
          const State& s = fr[m].last()[k];
          items[m].push_back({s.b, share_of(m, s.a), s.c, static_cast<int>(k)});
        }
        prune_items(items[m]);
      }
      for (size_t m = M; m-- > 0;) {
        double lo = kInf;
        for (const auto& it : items[m]) lo = std::min(lo, it.cost + rx.byte_price() * it.bytes + rx.share_price() * it.share);
        best_reduced[m] = best_reduced[m + 1] + lo;
      }
      const double k0 = (std::isfinite(budget.memory_bytes) && budget.memory_bytes > 0 ? rx.byte_price() * budget.memory_bytes : 0.0) +
                        rx.share_price();
      auto drop = [&](size_t j, double by, double sh, double c) {
        return c + rx.byte_price() * by + rx.share_price() * sh + best_reduced[j] - k0 >= U - kPruneTol;
      };
      auto total = [](double, double, double c) { return c; };
      auto pick = cross_models(items, budget.memory_bytes, share_cap, drop, total, states);
      if (!pick.empty()) {
        Choice c = decide(items, pick);
        ScalingDecision d = evaluate_choice(models, budget, c, objective);
        double cost = 0;
        for (size_t m = 0; m < M; ++m) cost += models[m].weight * (models[m].accuracy - d.accuracy[m]);
        if (d.feasible && cost < U) return c;
      }
    }
    if (std::isfinite(U)) return rx.best();
  } else {
    // Max-min: the best minimum is one of the accuracies on the frontiers; binary-search the
    // largest one for which every model can stay at or above it within the shared budgets,
    // then maximize the sum of accuracies among those selections. The best selection for the
    // unweighted sum (same budgets, so the same feasible set) gives a minimum to start from:
    // partial selections that cannot stay above it are dropped.
    std::vector<ModelChoiceSpec> unit = models;
    for (auto& m : unit) m.weight = 1;
    Choice start = best_feasible(unit, budget, Objective::Sum, states);
    if (start.empty() || M == 1) return start;  // one model: max-min is the sum
    const ScalingDecision sd = evaluate_choice(models, budget, start, Objective::MaxMin);
    const double floor = sd.objective;
    bool each_fits = true;
    for (size_t m = 0; m < M && each_fits; ++m) {
      const auto& mo = models[m];
      std::vector<double> rest_drop(mo.blocks.size() + 1, 0.0);  // least drop of blocks k..
      for (size_t k = mo.blocks.size(); k-- > 0;) {
        double lo = kInf;
        for (const auto& o : mo.blocks[k]) lo = std::min(lo, o.drop);
        rest_drop[k] = rest_drop[k + 1] + lo;
      }
      auto below_floor = [&](size_t k, double, double, double c) {
        return mo.accuracy - c - rest_drop[k] < floor - kEps;
      };
      fr[m] = model_frontier(mo, 1.0, mo.deadline_ms, memory_cap(m), below_floor, states);
      each_fits = !fr[m].last().empty();
    }
    // `start`'s own points stay above the floor, so every frontier holds one unless a budget
    // that `start` meets only within the kEps tolerance cuts a model's memory cap below it
    // (tests/test_optimizer.cpp, MaxMinKeepsASelectionThatFitsOnlyWithinTheTolerance).
    if (!each_fits) return start;
    auto items_for = [&](double min_acc, bool with_cost) {
      std::vector<std::vector<Item>> items(M);
      for (size_t m = 0; m < M; ++m) {
        for (size_t k = 0; k < fr[m].last().size(); ++k) {
          const State& s = fr[m].last()[k];
          double acc = models[m].accuracy - s.c;
          if (acc < min_acc - kEps) continue;
          items[m].push_back({s.b, share_of(m, s.a), with_cost ? models[m].weight * s.c : 0.0, static_cast<int>(k)});
        }
        prune_items(items[m], !with_cost);
      }
      return items;
    };
    auto total = [](double, double, double c) { return c; };
    std::vector<double> levels;
    for (size_t m = 0; m < M; ++m)
      for (const auto& s : fr[m].last())
        if (models[m].accuracy - s.c >= floor - kEps) levels.push_back(models[m].accuracy - s.c);
    std::sort(levels.begin(), levels.end());
    levels.erase(std::unique(levels.begin(), levels.end()), levels.end());
    auto fits = [&](double t) {
      auto items = items_for(t, false);
      for (const auto& it : items)
        if (it.empty()) return false;
      // Quick answers first: a priced choice (least share + p * bytes per model) that fits
      // proves yes; the lookahead's bounds at the start prove no.
      Lookahead la(items, budget.memory_bytes, share_cap);
      if (la(0, 0.0, 0.0, 0.0)) return false;
      for (double price : {0.0, 0.25, 1.0, 4.0, 1e6}) {
        double by = 0, sh = 0;
        for (const auto& its : items) {
          const Item* best = &its[0];
          for (const auto& it : its)
            if (it.share + price * it.bytes / std::max(budget.memory_bytes, 1e-9) <
                best->share + price * best->bytes / std::max(budget.memory_bytes, 1e-9))
              best = &it;
          by += best->bytes, sh += best->share;
        }
        if (by <= budget.memory_bytes * (1 + kEps) && sh <= share_cap * (1 + kEps)) return true;
      }
      return !cross_models(items, budget.memory_bytes, share_cap, Lookahead(items, budget.memory_bytes, share_cap),
                           total, states).empty();
    };
    if (fits(levels.front())) {
      size_t lo = 0, hi = levels.size() - 1;  // fits(levels[lo]) holds
      while (lo < hi) {
        size_t mid = (lo + hi + 1) / 2;
        if (fits(levels[mid])) lo = mid;
        else hi = mid - 1;
      }
      auto items = items_for(levels[lo], true);
      auto pick = cross_models(items, budget.memory_bytes, share_cap, Lookahead(items, budget.memory_bytes, share_cap),
                               total, states);
      if (!pick.empty()) return decide(items, pick);
    }
    // Reached only when rounding or the tolerances drop `start`'s own points: it stays a
    // feasible answer above the floor.
    return start;
  }
  return {};
}

// The selection with the least summed relative excess, ties broken by the weighted accuracy, over
// all compositions (the general case, when no relaxation of the budgets to their least possible
// excess is feasible).
Choice least_violation(const std::vector<ModelChoiceSpec>& models, const SharedBudget& budget, Objective objective,
                       int64_t& states) {
  const size_t M = models.size();
  double all_min = 0;
  for (const auto& m : models) all_min += min_bytes(m);
  auto share_of = [&](size_t m, double latency) {
    return budget.processor_share ? models[m].rate_hz * latency / 1000.0 : 0.0;
  };
  std::vector<Frontier> fr(M);
  // Minimize the summed relative excess over all compositions, then the accuracy loss.
  // Bounds: a partial selection's excess can only grow, so the excess its remaining blocks must
  // add at least (with the fastest and smallest options) plus its accuracy loss so far is a lower
  // bound; the all-fastest selection gives a first incumbent.
  auto excess_total = [&](const Choice& c) {
    ScalingDecision d = evaluate_choice(models, budget, c, objective);
    double t = relative_excess(d.memory_bytes, budget.memory_bytes) + (budget.processor_share ? d.share_excess : 0.0);
    for (size_t m = 0; m < M; ++m) {
      t += relative_excess(d.latency_ms[m], models[m].deadline_ms);
      t += 1e-6 * models[m].weight * (models[m].accuracy - d.accuracy[m]);
    }
    return t;
  };
  Choice fastest(M), smallest(M);
  for (size_t m = 0; m < M; ++m)
    for (const auto& opts : models[m].blocks) {
      size_t f = 0, s = 0;
      for (size_t o = 1; o < opts.size(); ++o) {
        if (opts[o].latency_ms < opts[f].latency_ms) f = o;
        if (opts[o].bytes < opts[s].bytes) s = o;
      }
      fastest[m].push_back(static_cast<int>(f));
      smallest[m].push_back(static_cast<int>(s));
    }
  const double U = std::min(excess_total(fastest), excess_total(smallest));
  std::vector<Rest> rests;
  std::vector<double> min_lat(M), min_by(M), min_share(M);
  for (size_t m = 0; m < M; ++m) {
    rests.push_back(rest_minima(models[m]));
    min_lat[m] = models[m].frame_ms + rests[m].ms[0];
    min_by[m] = models[m].frame_bytes + rests[m].bytes[0];
    min_share[m] = share_of(m, min_lat[m]);
  }
  double all_share = 0;
  for (size_t m = 0; m < M; ++m) all_share += min_share[m];
  auto share_excess = [&](double s) { return budget.processor_share ? std::max(0.0, s - 1.0) : 0.0; };
  double others_excess = 0;  // least deadline excess of all models
  for (size_t m = 0; m < M; ++m) others_excess += relative_excess(min_lat[m], models[m].deadline_ms);
  for (size_t m = 0; m < M; ++m) {
    const ModelChoiceSpec& mo = models[m];
    const Rest& r = rests[m];
    const double others = others_excess - relative_excess(min_lat[m], mo.deadline_ms);
    const double weight = 1e-6 * mo.weight;
    auto drop = [&](size_t k, double lat, double by, double c) {
      double lb = c + others + relative_excess(lat + r.ms[k], mo.deadline_ms) +
                  relative_excess(by + r.bytes[k] + all_min - min_by[m], budget.memory_bytes) +
                  share_excess(all_share - min_share[m] + share_of(m, lat + r.ms[k]));
      return lb > U + kPruneTol;
    };
    fr[m] = model_frontier(mo, weight, kInf, kInf, drop, states);
  }
  std::vector<std::vector<Item>> items(M);
  std::vector<double> rest_cost(M + 1, 0.0), rest_by(M + 1, 0.0), rest_sh(M + 1, 0.0);
  for (size_t m = 0; m < M; ++m) {
    for (size_t k = 0; k < fr[m].last().size(); ++k) {
      const State& s = fr[m].last()[k];
      items[m].push_back({s.b, share_of(m, s.a), relative_excess(s.a, models[m].deadline_ms) + s.c, static_cast<int>(k)});
    }
    prune_items(items[m]);
  }
  for (size_t m = M; m-- > 0;) {
    double c = kInf, b = kInf, s = kInf;
    for (const auto& it : items[m]) c = std::min(c, it.cost), b = std::min(b, it.bytes), s = std::min(s, it.share);
    rest_cost[m] = rest_cost[m + 1] + c;
    rest_by[m] = rest_by[m + 1] + b;
    rest_sh[m] = rest_sh[m + 1] + s;
  }
  bool all_items = true;
  for (const auto& it : items) all_items = all_items && !it.empty();
  if (all_items) {
    auto drop = [&](size_t j, double by, double sh, double c) {
      double lb = c + rest_cost[j] + relative_excess(by + rest_by[j], budget.memory_bytes) + share_excess(sh + rest_sh[j]);
      return lb > U + kPruneTol;
    };
    auto total = [&](double by, double sh, double c) {
      return c + relative_excess(by, budget.memory_bytes) + share_excess(sh);
    };
    auto pick = cross_models(items, kInf, kInf, drop, total, states);
    if (!pick.empty()) {
      Choice c(M);
      for (size_t m = 0; m < M; ++m) c[m] = fr[m].choice(items[m][pick[m]].point);
      if (excess_total(c) <= U) return c;
    }
  }
  return excess_total(fastest) <= excess_total(smallest) ? fastest : smallest;
}

}  // namespace

RaisedProblem raise_to_least_excess(const std::vector<ModelChoiceSpec>& models, const SharedBudget& budget) {
  RaisedProblem p{models, budget};
  double all_min = 0, share_min = 0;
  for (auto& m : p.models) {
    const Rest r = rest_minima(m);
    m.deadline_ms = std::max(m.deadline_ms, m.frame_ms + r.ms[0]);
    all_min += m.frame_bytes + r.bytes[0];
    share_min += m.rate_hz * (m.frame_ms + r.ms[0]) / 1000.0;
  }
  p.budget.memory_bytes = std::max(budget.memory_bytes, all_min);
  if (budget.processor_share && share_min > 1)
    for (auto& m : p.models) m.rate_hz /= share_min;  // the share cap raised to share_min
  return p;
}

ScalingDecision optimize(const std::vector<ModelChoiceSpec>& models, const SharedBudget& budget, Objective objective) {
  validate_problem(models, budget);
  int64_t states = 0;
  auto finish = [&](const Choice& choice, bool feasible) {
    ScalingDecision d = evaluate_choice(models, budget, choice, objective);
    d.states = states;
    if (!feasible) d.feasible = false;
    return d;
  };
  Choice best = best_feasible(models, budget, objective, states);
  if (!best.empty()) return finish(best, true);

  // Nothing fits: the best selection within the budgets raised to their least excess, if any.
  const RaisedProblem raised = raise_to_least_excess(models, budget);
  best = best_feasible(raised.models, raised.budget, objective, states);
  if (best.empty()) best = least_violation(models, budget, objective, states);
  return finish(best, false);
}

}  // namespace legodnn
