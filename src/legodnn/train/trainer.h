#pragma once
// Teacher training (SGD with momentum, warm-up + cosine schedule) and evaluation.
#include <cstdint>
#include <functional>
#include <string>

#include "legodnn/data/fashion_mnist.h"
#include "legodnn/graph/weights.h"

namespace legodnn {

/// Options of train_model; defaults are the ones the shipped teachers used unless stated.
struct TrainOptions {
  int epochs = 10;
  int64_t batch_size = 128;
  double lr = 0.1;              ///< peak learning rate
  double momentum = 0.9;
  double weight_decay = 5e-4;
  bool nesterov = true;
  double warmup_epochs = 1.0;   ///< linear warm-up, then cosine decay to zero
  uint64_t seed = 0;            ///< shuffling and augmentation
  int64_t crop_padding = 2;     ///< random-crop padding (0 = off)
  bool flip = true;             ///< random horizontal flip
  double label_smoothing = 0.0;
  std::string checkpoint_dir;   ///< when set: model + optimizer state saved after every epoch
  bool resume = false;          ///< continue from checkpoint_dir when it holds a run in progress
  int stop_after_epoch = 0;     ///< > 0: return after this epoch (the schedule still spans `epochs`)
  int64_t log_every = 100;      ///< batches between progress lines
};

/// Accuracy and mean loss of a model over a split.
struct EvalResult {
  double accuracy = 0;  ///< fraction correct, 0..1
  double loss = 0;      ///< mean cross-entropy
  int64_t n = 0;
};

/// Evaluates in inference mode (running statistics, no dropout) in batches.
EvalResult evaluate(const Model& m, const Split& data, int64_t batch_size = 500);

/// What a training run did.
struct TrainResult {
  int first_epoch = 0;   ///< > 0 when resumed
  int epochs = 0;
  double seconds = 0;    ///< wall time of this call
  double train_loss = 0; ///< mean loss of the last epoch
  EvalResult val;        ///< on the validation split after the last epoch (n = 0 if none)
};

/// Trains `m` in place on `train`; evaluates on `val` (may be empty) after each epoch. Progress
/// goes to the log; with checkpoint_dir set, the model and optimizer state are saved after every epoch.
TrainResult train_model(Model& m, const Split& train, const Split& val, const TrainOptions& o);

}  // namespace legodnn
