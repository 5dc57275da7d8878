#pragma once
// Selections of a block repository named by sparsity: one descendant per block, looked up on the
// manifest. Shared by the CLI (eval --select), the benchmarks and the reports.
#include <string>
#include <vector>

#include "legodnn/repository/manifest.h"

namespace legodnn {

/// The descendant of every block whose sparsity equals sparsities[i] (one value: every block).
/// Throws OptionError naming `option` and the block when a count or a sparsity does not match.
std::vector<int> selection_for_sparsities(const Manifest& m, std::vector<double> sparsities,
                                          const std::string& option);
/// The descendant of block `block` whose sparsity is nearest `sparsity` (the lower index on ties).
int nearest_descendant(const Manifest& m, size_t block, double sparsity);
/// Every block at the descendant nearest `sparsity`.
std::vector<int> uniform_selection(const Manifest& m, double sparsity);
/// The sparsity of each block's chosen descendant.
std::vector<double> selection_sparsities(const Manifest& m, const std::vector<int>& selection);
/// The additive estimate of a composition's test accuracy: the teacher's, less the profiled drops
/// (never below 0).
/// Throws OptionError naming `source` (the manifest) when the repository was not profiled.
double additive_estimate(const Manifest& m, const std::vector<int>& selection, const std::string& source);

}  // namespace legodnn
