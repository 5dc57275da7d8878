#pragma once
// What the runtime serves (DESIGN.md section 9): a model served at one selection at a time and
// switchable while serving. Both the scalable model (blocks, runtime/scalable_model.h) and the
// model-grained baseline's whole-model server (baseline/model_grained.h) implement Servable.
//
// Each committed selection is one immutable ServingState, published by a pointer swap. A switch
// first stages the next state (load, verify, fold, compile: everything that may fail, touching
// nothing that serves), then commits it (the swap, which cannot fail). A forward runs through one
// snapshot (a held state), so it knows which selection computed it, even across a switch.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

namespace legodnn {

/// What one switch did. A failed switch (ok false) changed nothing that serves.
struct SwitchReport {
  bool ok = false;
  std::string error;              ///< why the switch failed (the IoError's message naming file and field)
  std::vector<int> selection;     ///< the selection serving when the call returns
  std::vector<int> changed;       ///< blocks whose descendant was replaced (none when the switch failed)
  int from_disk = 0;              ///< changed blocks loaded from the repository
  int from_cache = 0;             ///< changed blocks taken from the cache
  int64_t bytes_from_disk = 0;    ///< sizes of the tensor files read
  int64_t bytes_from_cache = 0;   ///< bytes of the (folded) tensors taken from the cache
  double load_ms = 0;             ///< loading, verifying and folding the changed blocks
  double build_ms = 0;            ///< assembling and compiling the new block table (no tensor work)
  double warm_ms = 0;             ///< warm-up forwards of the staged state before it commits
  double total_ms = 0;            ///< the whole call: stage, commit and cache update
};

/// Memory held by a served model (bytes of folded tensors).
struct MemoryUse {
  int64_t frame_bytes = 0;
  int64_t active_bytes = 0;       ///< the active descendants
  int64_t cache_bytes = 0;        ///< inactive descendants kept for later switches
  int64_t cache_limit = 0;
  int cached = 0;                 ///< descendants in the cache
  int64_t total() const { return frame_bytes + active_bytes + cache_bytes; }
};

/// One committed serving state: a compiled model and the selection it is. Immutable once made.
class ServingState {
 public:
  virtual ~ServingState() = default;
  ServingState(const ServingState&) = delete;
  ServingState& operator=(const ServingState&) = delete;
  /// Runs this state's model (folded, inference mode) on a batch [N,C,H,W].
  virtual at::Tensor forward(const at::Tensor& x) const = 0;
  /// The selection (descendant index per block; for a whole-model server, {variant}).
  const std::vector<int>& selection() const { return selection_; }
  /// 0 for the state a model opened with, one more for each committed switch.
  uint64_t version() const { return version_; }
  /// Runs `forwards` forwards of a zero batch of one sample of `input_shape` ([C,H,W]) and returns
  /// the time they took (ms). A switch calls it on the staged state before committing it: the
  /// first forwards of a new state are slow (allocations, cold caches), and otherwise the serving
  /// thread pays for them, often over its deadline. Throws what forward throws.
  double warm_up(const std::vector<int64_t>& input_shape, int forwards) const;
  /// Throws OptionError unless `forwards` (a warm-up count, as servers and the runner take it) is
  /// within 0..100.
  static void check_warm_up(int forwards);

 protected:
  ServingState(std::vector<int> selection, uint64_t version) : selection_(std::move(selection)), version_(version) {}

 private:
  const std::vector<int> selection_;
  const uint64_t version_;
};

/// A held serving state. Holding it keeps its model alive: forwards through one snapshot all use
/// the same selection while the model switches on. Cheap to copy; thread-safe.
class ServingSnapshot {
 public:
  /// Made by Servable::snapshot.
  explicit ServingSnapshot(std::shared_ptr<const ServingState> s) : s_(std::move(s)) {}
  /// Runs the snapshot's model (folded, inference mode) on a batch [N,C,H,W].
  at::Tensor forward(const at::Tensor& x) const { return s_->forward(x); }
  /// The selection that every forward through this snapshot runs.
  const std::vector<int>& selection() const { return s_->selection(); }
  /// 0 for the state the model opened with, one more for each committed switch.
  uint64_t version() const { return s_->version(); }

 private:
  std::shared_ptr<const ServingState> s_;
};

/// The published serving state of one model: readers copy the pointer (a reference count
/// increment under a lock held only for that copy), a commit swaps it.
template <class State>
class Published {
 public:
  /// The serving state.
  std::shared_ptr<const State> load() const {
    std::lock_guard<std::mutex> lock(mu_);
    return p_;
  }
  /// Makes `next` the serving state: a pointer swap, which cannot fail.
  void commit(std::shared_ptr<const State> next) noexcept {
    {
      std::lock_guard<std::mutex> lock(mu_);
      p_.swap(next);
    }
    // `next` now holds the old state; it is released here, outside the lock (or later, by the
    // last forward still running on it).
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const State> p_;
};

/// A model served at one selection at a time, switchable while serving. Every member may be
/// called from any thread: snapshot, forward and selection never wait for a switch beyond the
/// commit's swap; switch_to calls are serialized.
class Servable {
 public:
  virtual ~Servable() = default;
  /// The serving state; forward through it to know which selection ran.
  virtual ServingSnapshot snapshot() const = 0;
  /// Stages `selection` and commits it. A part that fails to load (missing or damaged file, bad
  /// tensors) fails the whole switch: ok is false, `error` names the file and field, and the
  /// model keeps serving exactly as before. Throws OptionError only for a selection that does
  /// not fit the model (a caller's bug).
  virtual SwitchReport switch_to(const std::vector<int>& selection) = 0;
  /// Bytes held: frame, active parts and cache.
  virtual MemoryUse memory() const = 0;
  /// Sets the byte limit of the cache of inactive parts (a server without a cache ignores it).
  /// Throws OptionError for a negative limit.
  virtual void set_cache_limit(int64_t bytes) = 0;
  /// Which inactive parts a switch could take from the cache now: [block][option], true when
  /// cached. Empty for a server without a cache (the default).
  virtual std::vector<std::vector<bool>> cached() const { return {}; }

  /// Runs the serving selection on a batch (snapshot().forward(x)).
  at::Tensor forward(const at::Tensor& x) const { return snapshot().forward(x); }
  /// The serving selection.
  std::vector<int> selection() const { return snapshot().selection(); }

 protected:
  Servable() = default;
  Servable(const Servable&) = default;
  Servable(Servable&&) = default;
  Servable& operator=(const Servable&) = default;
  Servable& operator=(Servable&&) = default;
};

}  // namespace legodnn
