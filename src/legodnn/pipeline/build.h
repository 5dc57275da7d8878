#pragma once
// `legodnn build`: teacher -> blocks -> descendants -> retraining -> profiling -> latency as served ->
// accuracy sweep ->
// block repository.
// Each stage is recorded in the manifest when complete; a rerun skips completed stages and
// resumes retraining after its last completed epoch.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "legodnn/blocks/detect.h"
#include "legodnn/data/fashion_mnist.h"
#include "legodnn/profile/accuracy_sweep.h"
#include "legodnn/profile/profile.h"
#include "legodnn/retrain/retrain.h"

namespace legodnn {

/// Options of build_repository.
struct BuildOptions {
  std::string model_name;                                          ///< recorded in the manifest
  DetectOptions detect;
  std::vector<std::pair<std::string, std::string>> explicit_blocks; ///< overrides detection when set
  std::vector<double> sparsities = default_sparsities();
  RetrainOptions retrain;
  LatencyOptions latency;
  int64_t drop_images = 5000;    ///< validation images for the accuracy drops
  bool high_context = false;     ///< also measure drops inside the all-highest-sparsity context
  int calibration_compositions = 10;  ///< random compositions (validation) that fit the drop scale
  int check_compositions = 20;   ///< random compositions that check the additive estimate (test set)
  int64_t test_images = 0;       ///< test images for that check and the sweep's report (0 = all)
  int latency_compositions = 240; ///< at most this many compositions timed by stage "latency" (0: no stage)
  int latency_rounds = 31;       ///< paired teacher/composition rounds per timed composition
  bool accuracy_sweep = true;    ///< run the accuracy sweep (stage "sweep") after profiling
  SweepOptions sweep;            ///< its options (measured on the whole validation split)
  uint64_t seed = 0;
};

/// What a build call did.
struct BuildResult {
  bool complete = false;                ///< all stages done (false when stopped early)
  std::vector<std::string> skipped;     ///< stages found complete and skipped
  std::vector<std::string> ran;         ///< stages run by this call
};

/// Builds (or completes) the repository in `out_dir` for `teacher`.
BuildResult build_repository(const Model& teacher, const FashionMnist& data, const std::string& out_dir,
                             const BuildOptions& o);

}  // namespace legodnn
