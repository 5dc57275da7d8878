#pragma once
// Block retraining (DESIGN.md section 6): every pruned descendant learns to reproduce its
// original block's output from the original block's input, all from one teacher pass per batch.
#include <cstdint>
#include <string>
#include <vector>

#include "legodnn/blocks/prune.h"
#include "legodnn/data/fashion_mnist.h"

namespace legodnn {

/// Options of retrain_descendants.
struct RetrainOptions {
  // Defaults are the quick settings `legodnn build` and the demo use (resnet20 in minutes on 2 cores).
  int epochs = 3;
  int64_t batch_size = 128;
  double lr = 1e-3;                ///< Adam
  int64_t train_images = 20000;    ///< 0 = the whole training split, else a seeded subset
  int64_t val_images = 1000;       ///< held-out images that pick each descendant's best epoch
  uint64_t seed = 0;
  int64_t crop_padding = 2;        ///< the teacher's augmentation
  bool flip = true;
  int64_t recalibration_batches = 20;  ///< batches that re-estimate batch-norm statistics at the end
  std::string state_dir;           ///< resumable state after every epoch; empty = none
  int stop_after_epoch = 0;        ///< > 0: return after this epoch (as a killed run would)
  int64_t log_every = 50;
};

/// Per descendant: held-out MSE straight after pruning and after retraining.
struct DescendantTrainStats {
  double mse_pruned = 0;
  double mse_retrained = 0;
  int best_epoch = 0;  ///< 0 = the pruned weights were never beaten
};

/// What a retraining run did.
struct RetrainResult {
  std::vector<std::vector<DescendantTrainStats>> stats;  ///< [block][descendant]; sparsity 0 left zero
  int first_epoch = 0;                ///< > 0 when resumed
  int epochs_done = 0;
  bool finished = false;              ///< false when stopped by stop_after_epoch
  std::vector<double> epoch_seconds;  ///< wall time of each epoch run by this call
};

/// Mean squared error of every descendant's output against the teacher block's output on `data`,
/// in inference mode: [block][descendant].
std::vector<std::vector<double>> block_mse(const Model& teacher, const std::vector<BlockFamily>& fams,
                                           const Split& data, int64_t batch_size = 250);

/// Retrains every descendant with sparsity > 0 in place (weights replaced by the best epoch's, then
/// batch-norm statistics re-estimated). Progress goes to the log. With state_dir set, a rerun
/// continues after the last completed epoch.
RetrainResult retrain_descendants(const Model& teacher, std::vector<BlockFamily>& fams,
                                  const Split& train, const Split& val, const RetrainOptions& o);

}  // namespace legodnn
