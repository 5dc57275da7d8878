#pragma once
// Scalable model and block switcher (DESIGN.md section 9): a repository's frame plus one active
// descendant per block, served with conv+batch-norm folded under inference mode. A switch stages
// the blocks that change (from an in-memory cache of descendants, else from the repository: load,
// verify, fold), then commits them with one pointer swap, so a forward pass running in another
// thread sees the whole old or the whole new set of blocks, never a mix.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "legodnn/runtime/servable.h"

namespace legodnn {

class Executor;
class Repository;

/// How a scalable model is opened.
struct ScalableOptions {
  int64_t cache_bytes = int64_t{64} << 20;  ///< byte limit of the cache of inactive descendants (0: no cache)
  std::vector<int> initial;                 ///< the first selection; empty: every block's original (index 0)
  /// Forwards run on every staged table (and the first one) before it commits
  /// (ServingState::warm_up); 0: none, a switch then costs only staging and the swap.
  int warm_up_forwards = 0;
};

/// A repository served at one selection at a time, switchable while serving. Every member may
/// be called from any thread at any time: forward, snapshot and selection never wait for a switch
/// (they copy the table pointer under a lock held only for that copy or the commit's swap);
/// switch_to calls are serialized, and memory and set_cache_limit wait for a running switch.
/// Do not move or destroy the model while another thread uses it.
class ScalableModel final : public Servable {
 public:
  /// Opens `dir` (Repository::open: manifest and every checksum), then loads and folds the frame
  /// and the initial selection. Throws IoError for a damaged repository, OptionError for a bad
  /// initial selection or a negative cache limit.
  static ScalableModel open(const std::string& dir, const ScalableOptions& o = {});
  ScalableModel(ScalableModel&&) noexcept;
  ScalableModel& operator=(ScalableModel&&) noexcept;
  ~ScalableModel() override;

  /// The serving block table; forward through it to know which selection ran.
  ServingSnapshot snapshot() const override;
  /// Replaces the blocks whose descendant differs from `selection`. A descendant that fails to
  /// load (missing or damaged file, bad tensors) fails the whole switch: ok is false, `error`
  /// names the file and field, and the model keeps serving exactly as before. Throws OptionError
  /// only for a selection of the wrong length or with an index out of range (a caller's bug).
  SwitchReport switch_to(const std::vector<int>& selection) override;
  /// Bytes of the frame, the active descendants and the cache.
  MemoryUse memory() const override;
  /// Sets the cache's byte limit, evicting the least recently deactivated descendants to fit.
  void set_cache_limit(int64_t bytes) override;
  /// The descendants in the cache, [block][descendant].
  std::vector<std::vector<bool>> cached() const override;
  /// The repository served (opened and validated).
  const Repository& repository() const;
  /// Number of blocks.
  int blocks() const;

 private:
  struct State;
  explicit ScalableModel(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

/// A whole composed model loaded from the repository, for comparison with switching blocks.
struct WholeModelLoad {
  std::shared_ptr<const Executor> executor;  ///< the folded composed model; run it under at::InferenceMode
  int64_t bytes_from_disk = 0;               ///< the frame's and every chosen descendant's tensor files
  double ms = 0;                             ///< compose (load and verify every file) + fold + compile
};

/// Loads `selection` the way a model-grained system switches: the whole model, every time.
WholeModelLoad load_whole_model(const Repository& repo, const std::vector<int>& selection);

}  // namespace legodnn
