#pragma once
// Second backend of the scaling optimizer (DESIGN.md section 9): the same problem as optimize(),
// written as a mixed-integer linear program and solved by CBC in-process. Slower than the built-in
// solver; it exists to cross-check it. Torch-free and CBC-free: the CBC headers stay in the .cpp.
#include <vector>

#include "legodnn/runtime/optimizer.h"

namespace legodnn {

/// Solves exactly with CBC: one binary per model, block and option, one option per block, the
/// deadline, shared-memory and processor-share rows, and the sum or max-min objective (max-min then
/// maximizes the sum of accuracies at the best minimum, as optimize() does). Same errors as
/// optimize(). When nothing fits, the least summed relative excess, ties broken by the objective:
/// the best selection within the budgets raised to their least possible values when there is one,
/// else the least excess plus 1e-6 times the weighted accuracy loss (both as optimize()). Every
/// figure comes from evaluate_choice() of the selection CBC returned; `states` counts
/// branch-and-bound nodes.
ScalingDecision optimize_cbc(const std::vector<ModelChoiceSpec>& models, const SharedBudget& budget,
                             Objective objective = Objective::Sum);

}  // namespace legodnn
