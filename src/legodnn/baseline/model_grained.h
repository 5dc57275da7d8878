#pragma once
// Model-grained scaling, the baseline LegoDNN is compared with (DESIGN.md sections 1 and 9; the
// approach of NestDNN-like systems): per DNN a few whole descendant models, each the teacher with
// every block pruned to one uniform sparsity and then fine-tuned end to end. The optimizer picks
// one whole model per DNN, and a switch reloads that whole model from disk.
//
// On disk: one folder per DNN holding baseline.json (format below) and one model folder per
// variant (save_model: model.json + weights.pt). Writes are atomic; opening validates every field
// and checksum and names the file and field at fault.
//
// Training budget. Block retraining (RetrainOptions) trains every descendant block for `epochs`
// epochs over a seeded subset of `train_images` training images. The baseline gives every
// descendant model the same: `epochs` epochs end to end over the same seeded subset (same seed,
// same augmentation), so each descendant, block or model, sees the same images the same number of
// times. The defaults are taken from RetrainOptions' defaults (3 epochs, 20,000 images). The
// compute differs: LegoDNN trains all descendant blocks from one teacher pass per batch; the
// baseline runs one full forward and backward pass per variant and batch.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "legodnn/baseline/model_grained_manifest.h"
#include "legodnn/blocks/detect.h"
#include "legodnn/blocks/prune.h"
#include "legodnn/data/fashion_mnist.h"
#include "legodnn/graph/weights.h"
#include "legodnn/profile/profile.h"
#include "legodnn/retrain/retrain.h"
#include "legodnn/runtime/optimizer.h"
#include "legodnn/runtime/servable.h"

namespace legodnn {

/// Options of build_model_grained.
struct ModelGrainedOptions {
  std::string model_name;                                           ///< recorded in baseline.json
  DetectOptions detect;                                             ///< as for the block repository
  std::vector<std::pair<std::string, std::string>> explicit_blocks; ///< overrides detection when set
  std::vector<double> sparsities = default_sparsities();            ///< first must be 0 (the teacher)
  int epochs = RetrainOptions{}.epochs;                 ///< fine-tuning epochs per variant (= block retraining's)
  int64_t train_images = RetrainOptions{}.train_images; ///< seeded subset (= block retraining's); 0 = all
  int64_t batch_size = RetrainOptions{}.batch_size;
  /// Fine-tuning: SGD, Nesterov momentum 0.9, weight decay 5e-4, no warm-up, cosine decay from
  /// `lr` to 0 over the run: a tenth of the teachers' peak rate (0.1), the usual fine-tuning choice.
  double lr = 0.01;
  double weight_decay = 5e-4;
  int64_t val_images = RetrainOptions{}.val_images;     ///< validation images logged after each epoch (0 = none)
  int64_t eval_images = 0;        ///< test images for the accuracies (0 = the whole test set)
  LatencyOptions latency;         ///< batch-1 latency of each whole model, folded
  uint64_t seed = 0;              ///< training subset, shuffling and augmentation (= block retraining's)
  int stop_after_epoch = 0;       ///< > 0: return after this fine-tuning epoch (as a killed run would)
  int64_t log_every = 50;         ///< batches between progress lines (0 = none)
};

/// What a build call did.
struct ModelGrainedBuildResult {
  bool complete = false;             ///< every variant done (false when stopped early)
  std::vector<double> skipped;       ///< sparsities found done and skipped
  std::vector<double> ran;           ///< sparsities built by this call
};

/// Builds (or completes) the model-grained set of `teacher` in `out_dir`: per sparsity, the
/// uniformly pruned teacher (L1 importance, prune.h), fine-tuned end to end, profiled, saved.
/// A rerun skips the variants already recorded and resumes a fine-tuning run after its last
/// completed epoch. Throws OptionError for bad options, IoError when out_dir holds a set built from
/// another teacher or with other training settings.
ModelGrainedBuildResult build_model_grained(const Model& teacher, const FashionMnist& data,
                                            const std::string& out_dir, const ModelGrainedOptions& o);

/// A validated model-grained set on disk.
class ModelGrainedSet {
 public:
  /// Reads and validates `dir`/baseline.json and checks that every variant's files exist and
  /// have the recorded checksums. Throws IoError naming the file and the field at fault.
  static ModelGrainedSet open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const ModelGrainedManifest& manifest() const { return manifest_; }
  int variants() const { return static_cast<int>(manifest_.variants.size()); }

  /// The optimizer's view: one block whose options are the whole variants (drop = teacher
  /// accuracy - variant accuracy, latency_ms, bytes), frame latency and bytes 0.
  ModelChoiceSpec spec() const;
  /// Loads one variant (checksums verified again, tensors checked against the graph, input shape
  /// and classes checked against the set); throws IoError naming the file and field.
  Model load_variant(int index) const;
  /// Sizes of the variant's files (model.json + weights.pt): what a switch reads from disk.
  int64_t variant_file_bytes(int index) const;

 private:
  std::string dir_;
  ModelGrainedManifest manifest_;
};

/// Serves one whole variant of a model-grained set at a time, the way a model-grained system
/// scales: a switch stages the whole chosen model from disk (load, verify, fold, compile), then
/// commits it with one pointer swap. Thread-safety as ScalableModel: snapshot, forward and
/// selection never wait for a switch beyond the swap; switch_to calls are serialized. No cache:
/// only the active model is held. Do not move or destroy the server while another thread uses it.
class WholeModelServer final : public Servable {
 public:
  /// Opens `dir` (ModelGrainedSet::open) and loads the initial variant. Throws IoError for a
  /// damaged set, OptionError for a variant index out of range.
  /// `warm_up_forwards` forwards run on every loaded variant before it commits
  /// (ServingState::warm_up), as ScalableOptions::warm_up_forwards.
  static WholeModelServer open(const std::string& dir, int initial_variant = 0, int warm_up_forwards = 0);
  WholeModelServer(WholeModelServer&&) noexcept;
  WholeModelServer& operator=(WholeModelServer&&) noexcept;
  ~WholeModelServer() override;

  /// The active variant (selection {index}); forward through it to know which variant ran.
  ServingSnapshot snapshot() const override;
  /// Loads variant selection[0] and makes it the active one. A variant that fails to load
  /// (missing or damaged file, bad tensors) fails the switch: ok is false, `error` names the file
  /// and field, and serving goes on exactly as before. Selecting the active variant loads nothing.
  /// Throws OptionError only for a selection that is not one valid variant index.
  SwitchReport switch_to(const std::vector<int>& selection) override;
  /// The active model's folded tensor bytes in active_bytes; frame and cache 0.
  MemoryUse memory() const override;
  /// No cache to limit: checks the limit (OptionError when negative) and keeps nothing.
  void set_cache_limit(int64_t bytes) override;
  /// The set served (opened and validated).
  const ModelGrainedSet& set() const;

 private:
  struct State;
  explicit WholeModelServer(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

}  // namespace legodnn
