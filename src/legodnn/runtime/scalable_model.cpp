#include "legodnn/runtime/scalable_model.h"

#include <chrono>
#include <filesystem>
#include <list>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "legodnn/graph/executor.h"
#include "legodnn/graph/fold.h"
#include "legodnn/repository/repository.h"
#include "legodnn/util/error.h"

namespace legodnn {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

int64_t tensor_bytes(const Weights& w) {
  int64_t n = 0;
  for (const auto& kv : w) n += static_cast<int64_t>(kv.second.nbytes());
  return n;
}

int64_t file_bytes(const Repository& repo, const std::string& file) {
  std::error_code ec;
  auto n = std::filesystem::file_size(repo.dir() + "/" + file, ec);
  return ec ? 0 : static_cast<int64_t>(n);
}

void check_selection(const Manifest& m, const std::vector<int>& sel) {
  if (sel.size() != m.blocks.size())
    throw OptionError("a selection needs one descendant per block: got " + std::to_string(sel.size()) +
                      " for " + std::to_string(m.blocks.size()) + " blocks");
  for (size_t i = 0; i < sel.size(); ++i)
    if (sel[i] < 0 || sel[i] >= static_cast<int>(m.blocks[i].descendants.size()))
      throw OptionError("block " + std::to_string(i) + ": descendant " + std::to_string(sel[i]) +
                        " is out of range 0.." + std::to_string(m.blocks[i].descendants.size() - 1));
}

// One descendant as served: its block graph with conv+bn folded. Immutable once built, so
// tables and the cache share it freely.
struct Piece {
  int block = 0, index = 0;
  Model folded;
  int64_t bytes = 0;       // folded tensors
  int64_t file_bytes = 0;  // its tensor file
};
using PiecePtr = std::shared_ptr<const Piece>;

// Loads, verifies (checksum, tensors against the graph) and folds one descendant. Folding each
// block on its own is what lets a switch fold only the blocks that change.
PiecePtr load_piece(const Repository& repo, int block, int index) {
  auto p = std::make_shared<Piece>();
  p->block = block;
  p->index = index;
  p->folded = fold_batch_norm(repo.load_descendant(block, index));
  p->bytes = tensor_bytes(p->folded.weights);
  p->file_bytes = file_bytes(repo, repo.manifest().blocks[block].descendants[index].file);
  return p;
}

// The frame as a graph of its own: the teacher with each block collapsed into a placeholder
// (identity of the block's entry, named after its exit, at the exit's place), folded once.
// Placeholders are never conv or batch norm, so no fold reaches across a block boundary and a
// block's folded graph always plugs into its placeholder: it reads the entry and ends in a node
// named after the exit. (A conv+bn pair split by a block boundary stays unfolded; both halves
// still compute the same function.)
struct Frame {
  Model folded;
  std::vector<int> block_at;  // per node of folded.graph: the block it stands for, or -1
  int64_t bytes = 0;
};

Frame build_frame(const Repository& repo) {
  const Manifest& m = repo.manifest();
  std::unordered_map<std::string, int> block_of;
  for (const auto& b : m.blocks)
    for (const auto& n : b.nodes) block_of.emplace(n, b.id);
  Graph skeleton;
  for (const auto& n : m.teacher.nodes()) {
    auto it = block_of.find(n.name);
    if (it == block_of.end()) {
      skeleton.add(n);
      continue;
    }
    const BlockRecord& b = m.blocks[it->second];
    if (n.name != b.exit) continue;
    Node ph;
    ph.name = b.exit;
    ph.op = Op::Identity;
    ph.inputs = {b.entry};
    skeleton.add(std::move(ph));
  }
  skeleton.set_output(m.teacher.output());
  Frame f;
  f.folded = fold_batch_norm(Model{std::move(skeleton), repo.load_frame()});
  f.bytes = tensor_bytes(f.folded.weights);
  for (const auto& n : f.folded.graph.nodes()) {
    auto it = block_of.find(n.name);
    f.block_at.push_back(it == block_of.end() ? -1 : it->second);
  }
  return f;
}

// Descendants not in use, least recently deactivated evicted first, within a byte limit.
class PieceCache {
 public:
  explicit PieceCache(int64_t limit) : limit_(limit) {}
  PiecePtr find(int block, int index) const {
    auto it = index_.find({block, index});
    return it == index_.end() ? nullptr : *it->second;
  }
  void erase(int block, int index) {
    auto it = index_.find({block, index});
    if (it == index_.end()) return;
    bytes_ -= (*it->second)->bytes;
    lru_.erase(it->second);
    index_.erase(it);
  }
  void insert(PiecePtr p) {
    erase(p->block, p->index);
    if (p->bytes > limit_) return;
    bytes_ += p->bytes;
    lru_.push_front(std::move(p));
    index_[{lru_.front()->block, lru_.front()->index}] = lru_.begin();
    fit();
  }
  void set_limit(int64_t limit) {
    limit_ = limit;
    fit();
  }
  int64_t bytes() const { return bytes_; }
  int64_t limit() const { return limit_; }
  /// Calls f(block, index) for every cached descendant.
  template <class F>
  void for_each(F&& f) const {
    for (const auto& kv : index_) f(kv.first.first, kv.first.second);
  }
  int size() const { return static_cast<int>(lru_.size()); }

 private:
  void fit() {
    while (bytes_ > limit_ && !lru_.empty()) erase(lru_.back()->block, lru_.back()->index);
  }
  int64_t limit_;
  int64_t bytes_ = 0;
  std::list<PiecePtr> lru_;  // front: most recently deactivated
  std::map<std::pair<int, int>, std::list<PiecePtr>::iterator> index_;
};

// A committed block table: immutable, published whole. The executor holds handles to the frame's
// and the pieces' tensors (shared, never copied).
struct ServingTable final : ServingState {
  ServingTable(std::vector<int> sel, uint64_t version, std::vector<PiecePtr> p, Executor ex)
      : ServingState(std::move(sel), version), pieces(std::move(p)), executor(std::move(ex)) {}
  at::Tensor forward(const at::Tensor& x) const override {
    at::InferenceMode guard;
    return executor.forward(x);
  }
  const std::vector<PiecePtr> pieces;
  const Executor executor;
};

// Splices the pieces into the frame's placeholders and compiles the result: graph bookkeeping
// only, the tensors are shared.
std::shared_ptr<const ServingTable> build_table(const Frame& frame, std::vector<PiecePtr> pieces,
                                                uint64_t version) {
  Graph g;
  Weights w = frame.folded.weights;
  const auto& nodes = frame.folded.graph.nodes();
  for (size_t k = 0; k < nodes.size(); ++k) {
    int b = frame.block_at[k];
    if (b < 0) {
      g.add(nodes[k]);
      continue;
    }
    const Model& piece = pieces[b]->folded;
    for (const auto& n : piece.graph.nodes())
      if (n.op != Op::Input) g.add(n);
    w.insert(piece.weights.begin(), piece.weights.end());
  }
  g.set_output(frame.folded.graph.output());
  std::vector<int> sel;
  for (const auto& p : pieces) sel.push_back(p->index);
  return std::make_shared<const ServingTable>(std::move(sel), version, std::move(pieces), Executor(g, w));
}

}  // namespace

struct ScalableModel::State {
  Repository repo;
  Frame frame;
  int warm_up = 0;  // ScalableOptions::warm_up_forwards

  // Serializes switches and guards the cache; forwards never take it.
  mutable std::mutex switch_mutex;
  PieceCache cache{0};

  // Only switches (holding switch_mutex) and open commit; forwards only load.
  Published<ServingTable> table;

  // Stage: the table of `selection`, every changed piece taken from the cache or loaded,
  // verified and folded. Touches nothing that serves; throws what loading a damaged file throws.
  // Records in `r` and `changed`; null when nothing changes.
  std::shared_ptr<const ServingTable> stage(const ServingTable& old, const std::vector<int>& selection,
                                            SwitchReport& r, std::vector<int>& changed) const {
    std::vector<PiecePtr> next = old.pieces;
    const auto t_load = Clock::now();
    for (size_t i = 0; i < selection.size(); ++i) {
      if (selection[i] == old.selection()[i]) continue;
      const int b = static_cast<int>(i);
      changed.push_back(b);
      if (PiecePtr p = cache.find(b, selection[i])) {
        ++r.from_cache;
        r.bytes_from_cache += p->bytes;
        next[i] = std::move(p);
      } else {
        next[i] = load_piece(repo, b, selection[i]);
        ++r.from_disk;
        r.bytes_from_disk += next[i]->file_bytes;
      }
    }
    r.load_ms = ms_since(t_load);
    if (changed.empty()) return nullptr;
    const auto t_build = Clock::now();
    auto table = build_table(frame, std::move(next), old.version() + 1);
    r.build_ms = ms_since(t_build);
    return table;
  }
};

ScalableModel::ScalableModel(std::unique_ptr<State> s) : s_(std::move(s)) {}
ScalableModel::ScalableModel(ScalableModel&&) noexcept = default;
ScalableModel& ScalableModel::operator=(ScalableModel&&) noexcept = default;
ScalableModel::~ScalableModel() = default;

ScalableModel ScalableModel::open(const std::string& dir, const ScalableOptions& o) {
  if (o.cache_bytes < 0)
    throw OptionError("cache byte limit must not be negative, got " + std::to_string(o.cache_bytes));
  ServingState::check_warm_up(o.warm_up_forwards);
  auto s = std::make_unique<State>();
  s->repo = Repository::open(dir);
  const Manifest& m = s->repo.manifest();
  std::vector<int> sel = o.initial.empty() ? std::vector<int>(m.blocks.size(), 0) : o.initial;
  check_selection(m, sel);
  s->frame = build_frame(s->repo);
  s->cache.set_limit(o.cache_bytes);
  std::vector<PiecePtr> pieces;
  for (size_t i = 0; i < sel.size(); ++i) pieces.push_back(load_piece(s->repo, static_cast<int>(i), sel[i]));
  auto first = build_table(s->frame, std::move(pieces), 0);
  s->warm_up = o.warm_up_forwards;
  first->warm_up(m.input_shape, s->warm_up);
  s->table.commit(std::move(first));
  return ScalableModel(std::move(s));
}

ServingSnapshot ScalableModel::snapshot() const { return ServingSnapshot(s_->table.load()); }

const Repository& ScalableModel::repository() const { return s_->repo; }

int ScalableModel::blocks() const { return static_cast<int>(s_->repo.manifest().blocks.size()); }

MemoryUse ScalableModel::memory() const {
  std::lock_guard<std::mutex> lock(s_->switch_mutex);
  MemoryUse u;
  u.frame_bytes = s_->frame.bytes;
  for (const auto& p : s_->table.load()->pieces) u.active_bytes += p->bytes;
  u.cache_bytes = s_->cache.bytes();
  u.cache_limit = s_->cache.limit();
  u.cached = s_->cache.size();
  return u;
}

void ScalableModel::set_cache_limit(int64_t bytes) {
  if (bytes < 0) throw OptionError("cache byte limit must not be negative, got " + std::to_string(bytes));
  std::lock_guard<std::mutex> lock(s_->switch_mutex);
  s_->cache.set_limit(bytes);
}

std::vector<std::vector<bool>> ScalableModel::cached() const {
  std::lock_guard<std::mutex> lock(s_->switch_mutex);
  std::vector<std::vector<bool>> out;
  for (const auto& b : s_->repo.manifest().blocks) out.emplace_back(b.descendants.size(), false);
  s_->cache.for_each([&](int block, int index) { out.at(static_cast<size_t>(block)).at(static_cast<size_t>(index)) = true; });
  return out;
}

SwitchReport ScalableModel::switch_to(const std::vector<int>& selection) {
  const auto t0 = Clock::now();
  std::lock_guard<std::mutex> lock(s_->switch_mutex);
  check_selection(s_->repo.manifest(), selection);
  // Only switches commit, and they hold switch_mutex: this table stays the serving one.
  const std::shared_ptr<const ServingTable> old = s_->table.load();
  SwitchReport r;
  r.selection = old->selection();

  std::vector<int> changed;
  std::shared_ptr<const ServingTable> next;
  bool staged = false;
  // What a missing or damaged file raises: our errors naming it, or torch's on its tensors.
  try {
    next = s_->stage(*old, selection, r, changed);
    if (next) r.warm_ms = next->warm_up(s_->repo.manifest().input_shape, s_->warm_up);
    staged = true;
  } catch (const Error& e) {
    r.error = e.what();
  } catch (const c10::Error& e) {
    r.error = e.what_without_backtrace();
  }
  if (!staged) {
    r.total_ms = ms_since(t0);
    return r;
  }
  if (!next) {
    r.ok = true;
    r.total_ms = ms_since(t0);
    return r;
  }
  s_->table.commit(std::move(next));

  // The newly active pieces leave the cache, the replaced ones enter it.
  for (int b : changed) s_->cache.erase(b, selection[b]);
  for (int b : changed) s_->cache.insert(old->pieces[b]);
  r.ok = true;
  r.selection = selection;
  r.changed = std::move(changed);
  r.total_ms = ms_since(t0);
  return r;
}

WholeModelLoad load_whole_model(const Repository& repo, const std::vector<int>& selection) {
  WholeModelLoad out;
  const auto t0 = Clock::now();
  Model folded = fold_batch_norm(repo.compose(selection));
  out.executor = std::make_shared<const Executor>(folded.graph, folded.weights);
  out.ms = ms_since(t0);
  const Manifest& m = repo.manifest();
  out.bytes_from_disk = file_bytes(repo, m.frame_file);
  for (size_t i = 0; i < selection.size(); ++i)
    out.bytes_from_disk += file_bytes(repo, m.blocks[i].descendants[selection[i]].file);
  return out;
}

}  // namespace legodnn
