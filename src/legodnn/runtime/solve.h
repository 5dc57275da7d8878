#pragma once
// One entry point for the scaling optimizer's backends. Torch-free.
#include <string>
#include <vector>

#include "legodnn/runtime/cbc_solver.h"
#include "legodnn/runtime/optimizer.h"
#include "legodnn/util/error.h"

namespace legodnn {

/// Which backend solves the selection problem.
enum class Solver { Builtin, Cbc };

/// "builtin" or "cbc".
inline const char* solver_name(Solver s) { return s == Solver::Cbc ? "cbc" : "builtin"; }

/// Parses "builtin" or "cbc"; throws OptionError naming the bad value otherwise.
inline Solver parse_solver(const std::string& name) {
  if (name == "builtin") return Solver::Builtin;
  if (name == "cbc") return Solver::Cbc;
  throw OptionError("solver must be 'builtin' or 'cbc', got '" + name + "'");
}

/// optimize() or optimize_cbc(): the same problem, the same answer (up to ties), the same errors.
inline ScalingDecision solve(const std::vector<ModelChoiceSpec>& models, const SharedBudget& budget,
                             Objective objective = Objective::Sum, Solver solver = Solver::Builtin) {
  return solver == Solver::Cbc ? optimize_cbc(models, budget, objective) : optimize(models, budget, objective);
}

}  // namespace legodnn
