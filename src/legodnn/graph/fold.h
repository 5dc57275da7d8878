#pragma once
// Serving-time rewrite: conv2d followed by batch_norm2d becomes one conv2d with a bias.
#include "legodnn/graph/weights.h"

namespace legodnn {

/// Folds every batch_norm2d whose only input is a conv2d read by nothing else into that conv.
/// The fused conv takes the batch norm's name (so readers and taps of it are unchanged). Exact
/// up to float rounding, in inference (running statistics). The input model is not changed.
Model fold_batch_norm(const Model& m);

}  // namespace legodnn
