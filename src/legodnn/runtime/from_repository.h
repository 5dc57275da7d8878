#pragma once
// The optimizer's view of a block repository: per block and descendant, drop, latency and bytes.
#include "legodnn/repository/manifest.h"
#include "legodnn/runtime/optimizer.h"

namespace legodnn {

/// Costs of every descendant of a profiled repository (accuracy from the teacher's test accuracy,
/// frame latency and bytes from the profile). Throws OptionError when the repository was not profiled.
ModelChoiceSpec choice_spec(const Manifest& m, const std::string& source);

}  // namespace legodnn
