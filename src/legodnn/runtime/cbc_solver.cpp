// The scaling optimizer as a MILP solved by CBC (DESIGN.md section 9). Each budget row is divided
// by its budget so that CBC's absolute tolerances act as relative ones. CBC may still accept a
// selection that breaks a budget by less than its tolerance; every answer is therefore re-checked
// with evaluate_choice(), and such a selection is cut off and the program solved again.
#include "legodnn/runtime/cbc_solver.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include <CbcCompareDepth.hpp>
#include <CbcCompareObjective.hpp>
#include <CbcHeuristic.hpp>
#include <CbcModel.hpp>
#include <CoinPackedMatrix.hpp>
#include <OsiClpSolverInterface.hpp>

#include "legodnn/util/error.h"

namespace legodnn {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kEps = 1e-9;       // evaluate_choice()'s relative slack on every budget
constexpr double kTieBreak = 1e-6;  // optimize()'s weight of the accuracy loss when nothing fits
constexpr size_t kMaxCuts = 100;    // selections cut off for breaking a budget within CBC's tolerance

using Choice = std::vector<std::vector<int>>;
using Terms = std::vector<std::pair<int, double>>;

// A minimization program: columns with bounds and costs, rows with ranges.
class Milp {
 public:
  int add_col(double lb, double ub, double cost, bool integer) {
    lb_.push_back(lb);
    ub_.push_back(ub);
    cost_.push_back(cost);
    if (integer) integers_.push_back(static_cast<int>(cost_.size()) - 1);
    return static_cast<int>(cost_.size()) - 1;
  }
  int columns() const { return static_cast<int>(cost_.size()); }
  void add_row(const Terms& terms, double lo, double hi) {
    start_.push_back(static_cast<CoinBigIndex>(elem_.size()));
    int n = 0;
    for (const auto& [col, val] : terms)
      if (val != 0) {
        ind_.push_back(col);
        elem_.push_back(val);
        ++n;
      }
    len_.push_back(n);
    row_lb_.push_back(lo);
    row_ub_.push_back(hi);
  }

  // The optimal value of every column, or nothing when CBC proves the program infeasible. `start`,
  // when not empty, is a feasible point to begin from.
  std::optional<std::vector<double>> solve(int64_t& nodes, const std::vector<double>& start = {}) const {
    const int ncols = static_cast<int>(cost_.size()), nrows = static_cast<int>(row_lb_.size());
    CoinPackedMatrix matrix(false, ncols, nrows, static_cast<CoinBigIndex>(elem_.size()), elem_.data(), ind_.data(),
                            start_.data(), len_.data());
    auto bound = [](double v) { return std::isinf(v) ? (v > 0 ? COIN_DBL_MAX : -COIN_DBL_MAX) : v; };
    std::vector<double> lb(lb_.size()), ub(ub_.size()), rlb(row_lb_.size()), rub(row_ub_.size());
    std::transform(lb_.begin(), lb_.end(), lb.begin(), bound);
    std::transform(ub_.begin(), ub_.end(), ub.begin(), bound);
    std::transform(row_lb_.begin(), row_lb_.end(), rlb.begin(), bound);
    std::transform(row_ub_.begin(), row_ub_.end(), rub.begin(), bound);

    OsiClpSolverInterface lp;
    lp.messageHandler()->setLogLevel(0);
    lp.setHintParam(OsiDoReducePrint, true, OsiHintTry);
    lp.loadProblem(matrix, lb.data(), ub.data(), cost_.data(), rlb.data(), rub.data());
    for (int c : integers_) lp.setInteger(c);
    // Tighter than CBC's defaults (1e-7 primal, 1e-6 integrality, 1e-5 cutoff step): the answer
    // must be optimal to about 1e-9, and rows are scaled to budgets of about 1.
    lp.setDblParam(OsiPrimalTolerance, 1e-9);
    lp.setDblParam(OsiDualTolerance, 1e-9);

    CbcModel model(lp);
    model.setLogLevel(0);
    model.messageHandler()->setLogLevel(0);
    model.solver()->messageHandler()->setLogLevel(0);
    model.setIntegerTolerance(1e-9);
    model.setAllowableGap(1e-12);
    model.setAllowableFractionGap(0);
    model.setCutoffIncrement(1e-12);
    // Plain branch and bound plus rounding (which finds good selections early). No cut generators:
    // Gomory and MIR cuts speed up the hardest five-model instances but slow the small ones, and
    // knapsack-cover cuts were seen to cut off the true optimum under these tolerances.
    CbcRounding rounding(model);
    model.addHeuristic(&rounding);
    // Depth first finds a selection soonest; once one is known (`start`), best bound first proves
    // optimality in fewer nodes. Both measured on the tests' random instances.
    CbcCompareObjective best_first;
    CbcCompareDepth depth_first;
    if (start.empty()) model.setNodeComparison(depth_first);
    else model.setNodeComparison(best_first);
    if (!start.empty()) model.setBestSolution(start.data(), ncols, COIN_DBL_MAX, true);
    model.initialSolve();
    model.branchAndBound();
    nodes += model.getNodeCount();
    if (model.isProvenOptimal() && model.bestSolution())
      return std::vector<double>(model.bestSolution(), model.bestSolution() + ncols);
    if (model.isProvenInfeasible()) return std::nullopt;
    throw Error("CBC stopped without a verdict (status " + std::to_string(model.status()) + ", secondary status " +
                std::to_string(model.secondaryStatus()) + ")");
  }

 private:
  std::vector<double> lb_, ub_, cost_;
  std::vector<int> integers_;
  std::vector<double> elem_;  // the rows, compressed
  std::vector<int> ind_;
  std::vector<CoinBigIndex> start_;
  std::vector<int> len_;
  std::vector<double> row_lb_, row_ub_;
};

// The binaries: first[m][i] is the column of option 0 of block i of model m; one option per block.
struct Choices {
  std::vector<std::vector<int>> first;

  Choices(Milp& p, const std::vector<ModelChoiceSpec>& models, double (*cost)(const ModelChoiceSpec&, const OptionCost&)) {
    for (const auto& m : models) {
      first.emplace_back();
      for (const auto& opts : m.blocks) {
        first.back().push_back(-1);
        Terms one;
        for (const auto& o : opts) {
          int c = p.add_col(0, 1, cost(m, o), true);
          if (first.back().back() < 0) first.back().back() = c;
          one.push_back({c, 1.0});
        }
        p.add_row(one, 1, 1);
      }
    }
  }

  // sum over the blocks of model m of f(option) * x, times `scale`, appended to `t`.
  void terms(Terms& t, const ModelChoiceSpec& m, size_t mi, double (*f)(const OptionCost&), double scale) const {
    for (size_t i = 0; i < m.blocks.size(); ++i)
      for (size_t j = 0; j < m.blocks[i].size(); ++j) t.push_back({first[mi][i] + static_cast<int>(j), scale * f(m.blocks[i][j])});
  }

  // The columns of a selection: 1 for the options taken, 0 elsewhere.
  std::vector<double> encode(const Choice& c, int ncols) const {
    std::vector<double> x(static_cast<size_t>(ncols), 0.0);
    for (size_t m = 0; m < c.size(); ++m)
      for (size_t i = 0; i < c[m].size(); ++i) x[static_cast<size_t>(first[m][i] + c[m][i])] = 1;
    return x;
  }

  // The option taken in every block: the binary closest to 1.
  Choice decode(const std::vector<ModelChoiceSpec>& models, const std::vector<double>& x) const {
    Choice c(models.size());
    for (size_t m = 0; m < models.size(); ++m)
      for (size_t i = 0; i < models[m].blocks.size(); ++i) {
        const double* v = x.data() + first[m][i];
        c[m].push_back(static_cast<int>(std::max_element(v, v + models[m].blocks[i].size()) - v));
      }
    return c;
  }
};

double latency(const OptionCost& o) { return o.latency_ms; }
double bytes(const OptionCost& o) { return o.bytes; }
double drop(const OptionCost& o) { return o.drop; }
double no_cost(const ModelChoiceSpec&, const OptionCost&) { return 0; }
double unweighted_drop(const ModelChoiceSpec&, const OptionCost& o) { return o.drop; }
double weighted_drop(const ModelChoiceSpec& m, const OptionCost& o) { return m.weight * o.drop; }

// Rows are divided by their budget; a zero budget is left unscaled.
double row_scale(double budget) { return budget > 0 ? budget : 1.0; }

// The best selection within the budgets, or nothing when none exists. With `level` (max-min
// second pass, starting from the first pass's selection `start`) every model keeps at least that
// accuracy and the sum of accuracies is maximized. `cuts` lists selections to exclude.
std::optional<Choice> within_budgets(const std::vector<ModelChoiceSpec>& models, const SharedBudget& budget,
                                     Objective objective, std::optional<double> level, const Choice& start,
                                     const std::vector<Choice>& cuts, int64_t& nodes) {
  Milp p;
  const bool maxmin = objective == Objective::MaxMin;
  Choices x(p, models, !maxmin ? weighted_drop : level ? unweighted_drop : no_cost);
  const int t = maxmin && !level ? p.add_col(-kInf, kInf, -1, false) : -1;  // the minimum accuracy
  for (size_t m = 0; m < models.size(); ++m) {
    const auto& mod = models[m];
    if (std::isfinite(mod.deadline_ms)) {
      const double s = row_scale(mod.deadline_ms);
      Terms r;
      x.terms(r, mod, m, latency, 1 / s);
      p.add_row(r, -kInf, (mod.deadline_ms * (1 + kEps) - mod.frame_ms) / s);
    }
    if (maxmin) {  // accuracy - sum of drops >= t (or >= level)
      Terms r;
      x.terms(r, mod, m, drop, 1);
      if (t >= 0) r.push_back({t, 1});
      p.add_row(r, -kInf, level ? mod.accuracy - *level + 1e-12 : mod.accuracy);
    }
  }
  if (std::isfinite(budget.memory_bytes)) {
    const double s = row_scale(budget.memory_bytes);
    Terms r;
    double frames = 0;
    for (size_t m = 0; m < models.size(); ++m) {
      x.terms(r, models[m], m, bytes, 1 / s);
      frames += models[m].frame_bytes;
    }
    p.add_row(r, -kInf, (budget.memory_bytes * (1 + kEps) - frames) / s);
  }
  if (budget.processor_share) {
    Terms r;
    double frames = 0;
    for (size_t m = 0; m < models.size(); ++m) {
      x.terms(r, models[m], m, latency, models[m].rate_hz / 1000);
      frames += models[m].rate_hz * models[m].frame_ms / 1000;
    }
    p.add_row(r, -kInf, 1 + kEps - frames);
  }
  for (const Choice& c : cuts) {  // not all of this selection's options at once
    Terms r;
    for (size_t m = 0; m < c.size(); ++m)
      for (size_t i = 0; i < c[m].size(); ++i) r.push_back({x.first[m][i] + c[m][i], 1});
    p.add_row(r, -kInf, static_cast<double>(r.size()) - 1);
  }
  std::vector<double> x0;
  if (!start.empty()) {
    x0 = x.encode(start, p.columns());
    if (t >= 0) x0[static_cast<size_t>(t)] = evaluate_choice(models, budget, start, Objective::MaxMin).objective;
  }
  auto sol = p.solve(nodes, x0);
  if (!sol) return std::nullopt;
  return x.decode(models, *sol);
}

// optimize()'s least-violation selection: minimizes the summed relative excess over the budgets
// plus kTieBreak times the weighted accuracy loss.
Choice least_violation(const std::vector<ModelChoiceSpec>& models, const SharedBudget& budget, int64_t& nodes) {
  Milp p;
  // The whole objective is divided by kTieBreak: at its own scale the tie-break's costs (~1e-8)
  // fell below CBC's optimality tolerance and were ignored.
  Choices x(p, models, weighted_drop);
  const double excess_cost = 1 / kTieBreak;
  // A relative excess r >= 0 per budget: (value - limit) / max(limit, 1e-9) <= r.
  for (size_t m = 0; m < models.size(); ++m) {
    const auto& mod = models[m];
    if (!std::isfinite(mod.deadline_ms)) continue;
    const double s = row_scale(mod.deadline_ms);
    Terms r;
    x.terms(r, mod, m, latency, 1 / s);
    r.push_back({p.add_col(0, kInf, excess_cost, false), -std::max(mod.deadline_ms, 1e-9) / s});
    p.add_row(r, -kInf, (mod.deadline_ms - mod.frame_ms) / s);
  }
  if (std::isfinite(budget.memory_bytes)) {
    const double s = row_scale(budget.memory_bytes);
    Terms r;
    double frames = 0;
    for (size_t m = 0; m < models.size(); ++m) {
      x.terms(r, models[m], m, bytes, 1 / s);
      frames += models[m].frame_bytes;
    }
    r.push_back({p.add_col(0, kInf, excess_cost, false), -std::max(budget.memory_bytes, 1e-9) / s});
    p.add_row(r, -kInf, (budget.memory_bytes - frames) / s);
  }
  if (budget.processor_share) {
    Terms r;
    double frames = 0;
    for (size_t m = 0; m < models.size(); ++m) {
      x.terms(r, models[m], m, latency, models[m].rate_hz / 1000);
      frames += models[m].rate_hz * models[m].frame_ms / 1000;
    }
    r.push_back({p.add_col(0, kInf, excess_cost, false), -1});
    p.add_row(r, -kInf, 1 - frames);
  }
  auto sol = p.solve(nodes);
  // Every selection is admissible here, so CBC always has one.
  if (!sol) throw Error("CBC found no selection at all in the least-violation program");
  return x.decode(models, *sol);
}

// The best selection within the budgets, re-checked with evaluate_choice(), or nothing.
std::optional<Choice> best_within(const std::vector<ModelChoiceSpec>& models, const SharedBudget& budget,
                                  Objective objective, int64_t& nodes) {
  std::vector<Choice> cuts;
  for (;;) {
    // The best weighted sum first, even for max-min: it settles feasibility quickly and gives the
    // max-min search a good selection to start from (which it needs: it has weak bounds).
    auto best = within_budgets(models, budget, Objective::Sum, std::nullopt, {}, cuts, nodes);
    if (!best) return std::nullopt;
    ScalingDecision d = evaluate_choice(models, budget, *best, objective);
    if (d.feasible && objective == Objective::MaxMin) {
      if (auto better = within_budgets(models, budget, objective, std::nullopt, *best, cuts, nodes)) {
        best = std::move(better);
        d = evaluate_choice(models, budget, *best, objective);
      }
    }
    if (!d.feasible) {  // met the budgets only within CBC's tolerance: exclude it, solve again
      if (cuts.size() == kMaxCuts)
        throw Error("CBC kept returning selections that break a budget by less than its tolerance (" +
                    std::to_string(kMaxCuts) + " excluded)");
      cuts.push_back(*best);
      continue;
    }
    if (objective == Objective::MaxMin) {
      // As optimize(): among the selections with the best minimum, the best sum of accuracies.
      if (auto more = within_budgets(models, budget, objective, d.objective, *best, cuts, nodes)) {
        ScalingDecision e = evaluate_choice(models, budget, *more, objective);
        if (e.feasible && e.objective >= d.objective - 1e-12) best = std::move(more);
      }
    }
    return best;
  }
}

}  // namespace

ScalingDecision optimize_cbc(const std::vector<ModelChoiceSpec>& models, const SharedBudget& budget,
                             Objective objective) {
  validate_problem(models, budget);
  int64_t nodes = 0;
  auto finish = [&](const Choice& choice, bool feasible) {
    ScalingDecision d = evaluate_choice(models, budget, choice, objective);
    d.feasible = d.feasible && feasible;
    d.states = nodes;
    return d;
  };
  if (auto best = best_within(models, budget, objective, nodes)) return finish(*best, true);

  // Nothing fits: the best selection within the budgets raised to their least excess (as optimize()).
  const RaisedProblem raised = raise_to_least_excess(models, budget);
  if (auto best = best_within(raised.models, raised.budget, objective, nodes)) return finish(*best, false);
  return finish(least_violation(models, budget, nodes), false);
}

}  // namespace legodnn
