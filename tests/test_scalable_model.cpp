// Scalable model: outputs equal the plain composed model's, a switch replaces only the blocks that
// differ and reports its bytes, the cache keeps to its byte limit, a damaged descendant fails the
// switch while serving goes on unchanged, and forwards running during thousands of switches each
// see one whole selection. Also built with ThreadSanitizer (legodnn_tsan_tests).
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include "legodnn/graph/executor.h"
#include "legodnn/graph/fold.h"
#include "legodnn/repository/repository.h"
#include "legodnn/runtime/scalable_model.h"
#include "legodnn/util/error.h"
#include "legodnn/util/fs.h"
#include "test_util.h"
#include "tiny_repository.h"

using namespace legodnn;
using legodnn::testing::TempDir;
using legodnn::testing::write_tiny_repository;
namespace fs = std::filesystem;

namespace {

const std::vector<double> kSparsities = {0.0, 0.4, 0.8};

at::Tensor input(int64_t batch, uint64_t seed) {
  at::manual_seed(static_cast<int64_t>(seed));
  return at::randn({batch, 1, 32, 32});
}

// The plain composed model (no folding) from the repository.
at::Tensor composed_output(const Repository& repo, const std::vector<int>& sel, const at::Tensor& x) {
  Model m = repo.compose(sel);
  at::InferenceMode guard;
  return Executor(m.graph, m.weights).forward(x);
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

int64_t file_size(const Repository& repo, int block, int index) {
  return static_cast<int64_t>(fs::file_size(repo.dir() + "/" + repo.manifest().blocks[block].descendants[index].file));
}

// Flips bytes in the middle of a file (its size stays).
void damage(const std::string& path) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(fs::file_size(path) / 2));
  f.write("\x55\xAA\x55\xAA", 4);
}

std::vector<int> uniform(int blocks, int index) { return std::vector<int>(blocks, index); }

}  // namespace

TEST(ScalableModel, OutputsEqualTheComposedModelsForSeveralSelections) {
  TempDir tmp;
  write_tiny_repository(tmp.path, kSparsities);
  ScalableModel model = ScalableModel::open(tmp.path);
  const Repository& repo = model.repository();
  const int n = model.blocks();
  ASSERT_EQ(n, 9);
  EXPECT_EQ(model.selection(), uniform(n, 0));
  EXPECT_EQ(model.snapshot().version(), 0u);

  std::mt19937 rng(7);
  std::vector<std::vector<int>> selections = {uniform(n, 0), uniform(n, 2), uniform(n, 1)};
  std::vector<int> alternating(n);
  for (int i = 0; i < n; ++i) alternating[i] = i % 3;
  selections.push_back(alternating);
  for (int r = 0; r < 3; ++r) {
    std::vector<int> s(n);
    for (int& j : s) j = static_cast<int>(rng() % kSparsities.size());
    selections.push_back(s);
  }
  const at::Tensor x = input(4, 1);
  for (const auto& sel : selections) {
    SwitchReport r = model.switch_to(sel);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.selection, sel);
    ServingSnapshot snap = model.snapshot();
    EXPECT_EQ(snap.selection(), sel);
    at::Tensor got = snap.forward(x);
    at::Tensor want = composed_output(repo, sel, x);
    ASSERT_EQ(got.sizes(), want.sizes());
    // Folding changes the rounding only.
    EXPECT_TRUE(at::allclose(got, want, 1e-4, 1e-5)) << "max abs diff " << max_abs_diff(got, want);
    // Folding block by block gives exactly what folding the whole composed model gives.
    WholeModelLoad whole = load_whole_model(repo, sel);
    at::Tensor folded;
    {
      at::InferenceMode guard;
      folded = whole.executor->forward(x);
    }
    EXPECT_TRUE(at::equal(got, folded)) << "max abs diff " << max_abs_diff(got, folded);
    int64_t bytes = fs::file_size(repo.dir() + "/" + repo.manifest().frame_file);
    for (int i = 0; i < n; ++i) bytes += file_size(repo, i, sel[i]);
    EXPECT_EQ(whole.bytes_from_disk, bytes);
    EXPECT_GT(whole.ms, 0);
  }
  EXPECT_THROWS_WITH(model.switch_to({0, 1}), OptionError, "one descendant per block: got 2 for 9 blocks");
  EXPECT_THROWS_WITH(model.switch_to(uniform(n, 3)), OptionError, "block 0: descendant 3 is out of range 0..2");
  EXPECT_THROWS_WITH(ScalableModel::open(tmp.path, ScalableOptions{0, {1}}), OptionError, "one descendant per block");
}

TEST(ScalableModel, SwitchReplacesOnlyTheBlocksThatDifferAndReportsBytes) {
  TempDir tmp;
  write_tiny_repository(tmp.path, kSparsities);
  ScalableModel model = ScalableModel::open(tmp.path);
  const Repository& repo = model.repository();
  const int n = model.blocks();
  const MemoryUse before = model.memory();
  EXPECT_GT(before.frame_bytes, 0);
  EXPECT_GT(before.active_bytes, 0);
  EXPECT_EQ(before.cache_bytes, 0);

  std::vector<int> sel = uniform(n, 0);
  sel[1] = 2;
  sel[4] = 1;
  SwitchReport r = model.switch_to(sel);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.changed, (std::vector<int>{1, 4}));
  EXPECT_EQ(r.from_disk, 2);
  EXPECT_EQ(r.from_cache, 0);
  EXPECT_EQ(r.bytes_from_disk, file_size(repo, 1, 2) + file_size(repo, 4, 1));
  EXPECT_EQ(r.bytes_from_cache, 0);
  EXPECT_GT(r.total_ms, 0);
  EXPECT_GE(r.total_ms, r.load_ms + r.build_ms);
  EXPECT_EQ(model.snapshot().version(), 1u);

  // Pruned blocks hold fewer bytes; the replaced originals wait in the cache.
  const MemoryUse after = model.memory();
  EXPECT_EQ(after.frame_bytes, before.frame_bytes);
  EXPECT_LT(after.active_bytes, before.active_bytes);
  EXPECT_EQ(after.cached, 2);
  EXPECT_GT(after.cache_bytes, 0);

  // The same selection again: nothing to do, nothing published.
  r = model.switch_to(sel);
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(r.changed.empty());
  EXPECT_EQ(r.bytes_from_disk + r.bytes_from_cache, 0);
  EXPECT_EQ(model.snapshot().version(), 1u);

  // One more block changes; the two switched before stay as they are.
  sel[8] = 2;
  r = model.switch_to(sel);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.changed, (std::vector<int>{8}));
  EXPECT_EQ(r.bytes_from_disk, file_size(repo, 8, 2));
}

TEST(ScalableModel, WarmUpRunsEachStagedTableBeforeItCommits) {
  TempDir tmp;
  write_tiny_repository(tmp.path, kSparsities);
  ScalableOptions o;
  o.warm_up_forwards = 2;
  ScalableModel warm = ScalableModel::open(tmp.path, o);
  ScalableModel cold = ScalableModel::open(tmp.path);
  const int n = warm.blocks();
  std::vector<int> sel = uniform(n, 1);
  sel[0] = 2;
  const SwitchReport w = warm.switch_to(sel), c = cold.switch_to(sel);
  ASSERT_TRUE(w.ok) << w.error;
  ASSERT_TRUE(c.ok) << c.error;
  EXPECT_GT(w.warm_ms, 0.0);
  EXPECT_GE(w.total_ms, w.load_ms + w.build_ms + w.warm_ms);
  EXPECT_EQ(c.warm_ms, 0.0);
  // Warming leaves nothing behind: both serve the same outputs, those of the composed model.
  const at::Tensor x = input(3, 5);
  EXPECT_TRUE(at::equal(warm.forward(x), cold.forward(x)));
  EXPECT_LT(max_abs_diff(warm.forward(x), composed_output(warm.repository(), sel, x)), 1e-4);
  // Nothing staged, nothing warmed.
  EXPECT_EQ(warm.switch_to(sel).warm_ms, 0.0);
  o.warm_up_forwards = -1;
  EXPECT_THROWS_WITH(ScalableModel::open(tmp.path, o), OptionError, "warm-up forwards must be within 0..100, got -1");
  o.warm_up_forwards = 101;
  EXPECT_THROWS_WITH(ScalableModel::open(tmp.path, o), OptionError, "got 101");
}

TEST(ScalableModel, CacheHitsReadNoFileAndTheCacheKeepsToItsLimit) {
  TempDir tmp;
  write_tiny_repository(tmp.path, kSparsities);
  ScalableModel model = ScalableModel::open(tmp.path);
  const int n = model.blocks();
  const std::vector<int> a = uniform(n, 0), b = uniform(n, 2);

  SwitchReport r = model.switch_to(b);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.from_disk, n);
  r = model.switch_to(a);  // every original block is in the cache
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.from_cache, n);
  EXPECT_EQ(r.from_disk, 0);
  EXPECT_EQ(r.bytes_from_disk, 0);
  EXPECT_EQ(r.bytes_from_cache, model.memory().active_bytes);
  const MemoryUse m = model.memory();
  EXPECT_EQ(m.cached, n);  // now the sparsity-0.8 blocks
  EXPECT_LE(m.cache_bytes, m.cache_limit);
  // What the switch decisions are told is cheap to switch to: exactly those.
  const auto mask = model.cached();
  ASSERT_EQ(mask.size(), static_cast<size_t>(n));
  for (int k = 0; k < n; ++k)
    for (size_t o = 0; o < mask[k].size(); ++o) EXPECT_EQ(mask[k][o], o == 2u) << "block " << k << " option " << o;

  // A limit that holds only some blocks: the least recently replaced ones go first.
  model.set_cache_limit(m.cache_bytes / 2);
  MemoryUse half = model.memory();
  EXPECT_LE(half.cache_bytes, half.cache_limit);
  EXPECT_LT(half.cached, n);
  EXPECT_GT(half.cached, 0);
  r = model.switch_to(b);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.from_cache, half.cached);
  EXPECT_EQ(r.from_disk, n - half.cached);
  r = model.switch_to(a);
  ASSERT_TRUE(r.ok);
  EXPECT_LE(model.memory().cache_bytes, half.cache_limit);

  // No cache: every switch reads its files.
  model.set_cache_limit(0);
  EXPECT_EQ(model.memory().cache_bytes, 0);
  EXPECT_EQ(model.memory().cached, 0);
  for (const auto& blk : model.cached())
    for (bool c : blk) EXPECT_FALSE(c);
  r = model.switch_to(b);
  EXPECT_EQ(r.from_disk, n);
  r = model.switch_to(a);
  EXPECT_EQ(r.from_disk, n);
  EXPECT_EQ(r.from_cache, 0);
  EXPECT_THROWS_WITH(model.set_cache_limit(-1), OptionError, "must not be negative, got -1");
}

TEST(ScalableModel, DamagedDescendantFailsTheSwitchAndServingGoesOnUnchanged) {
  TempDir tmp;
  write_tiny_repository(tmp.path, kSparsities);
  ScalableModel model = ScalableModel::open(tmp.path);
  const int n = model.blocks();
  std::vector<int> start = uniform(n, 0);
  start[0] = 1;
  ASSERT_TRUE(model.switch_to(start).ok);
  const at::Tensor x = input(2, 2);
  const at::Tensor before = model.forward(x);
  const MemoryUse mem = model.memory();

  // Damaged after the repository was opened: the checksum catches it when the switch loads it.
  const std::string path = tmp.path + "/blocks/b2_s1.pt";
  damage(path);
  std::vector<int> next = start;
  next[1] = 2;  // loads fine
  next[2] = 1;  // damaged
  SwitchReport r = model.switch_to(next);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("blocks[2].descendants[1].checksum: checksum mismatch for " + path), std::string::npos)
      << r.error;
  EXPECT_EQ(r.selection, start);
  EXPECT_TRUE(r.changed.empty());
  EXPECT_EQ(model.selection(), start);
  EXPECT_EQ(model.snapshot().version(), 1u);
  EXPECT_TRUE(at::equal(model.forward(x), before));
  EXPECT_EQ(model.memory().active_bytes, mem.active_bytes);
  EXPECT_EQ(model.memory().cache_bytes, mem.cache_bytes);

  // Other switches still work, and going back serves what it served before.
  next[2] = 2;
  r = model.switch_to(next);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(model.selection(), next);
  ASSERT_TRUE(model.switch_to(start).ok);
  EXPECT_TRUE(at::equal(model.forward(x), before));
}

TEST(ScalableModel, DescendantWithBadTensorsFailsTheSwitchNamingTheFile) {
  TempDir tmp;
  write_tiny_repository(tmp.path, kSparsities);
  // Truncated, with a manifest checksum that matches the damage: only reading the tensors tells.
  const std::string path = tmp.path + "/blocks/b3_s2.pt";
  fs::resize_file(path, fs::file_size(path) / 2);
  auto j = nlohmann::json::parse(read_text_file(tmp.path + "/manifest.json"));
  j["blocks"][3]["descendants"][2]["checksum"] = file_checksum(path);
  atomic_write_file(tmp.path + "/manifest.json", j.dump(1));

  ScalableModel model = ScalableModel::open(tmp.path);
  const at::Tensor x = input(2, 3);
  const at::Tensor before = model.forward(x);
  SwitchReport r = model.switch_to(uniform(model.blocks(), 2));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("blocks[3].descendants[2].file"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find(path + ": damaged tensor file"), std::string::npos) << r.error;
  EXPECT_EQ(model.selection(), uniform(model.blocks(), 0));
  EXPECT_TRUE(at::equal(model.forward(x), before));

  // Opening at the damaged selection fails with the same message.
  EXPECT_THROWS_WITH(ScalableModel::open(tmp.path, ScalableOptions{0, uniform(model.blocks(), 2)}), IoError,
                     path + ": damaged tensor file");
}

// One thread serves in a loop while another switches among a few selections (and now and then
// tries one with a damaged file). Every output must equal the precomputed output of one whole
// selection: a forward that mixed blocks of two tables would match none of them.
TEST(ScalableModel, ForwardsDuringThousandsOfSwitchesEachSeeOneWholeSelection) {
  TempDir tmp;
  write_tiny_repository(tmp.path, kSparsities);
  ScalableModel model = ScalableModel::open(tmp.path);
  const int n = model.blocks();
  std::vector<std::vector<int>> selections = {uniform(n, 0), uniform(n, 2), {0, 1, 2, 0, 1, 2, 0, 1, 2},
                                              {2, 2, 1, 1, 0, 0, 2, 2, 1}};
  const at::Tensor x = input(1, 4);
  std::vector<at::Tensor> expected;
  for (const auto& s : selections) {
    ASSERT_TRUE(model.switch_to(s).ok);
    expected.push_back(model.forward(x));
  }
  for (size_t a = 0; a < expected.size(); ++a)
    for (size_t b = a + 1; b < expected.size(); ++b) ASSERT_GT(max_abs_diff(expected[a], expected[b]), 1e-3);
  std::vector<int> damaged_sel = selections[1];
  damaged_sel[5] = 1;
  damage(tmp.path + "/blocks/b5_s1.pt");

  // Which precomputed output `y` equals, or -1.
  auto match = [&](const at::Tensor& y) {
    for (size_t k = 0; k < expected.size(); ++k)
      if (at::equal(y, expected[k]) || max_abs_diff(y, expected[k]) <= 1e-6) return static_cast<int>(k);
    return -1;
  };
  auto index_of = [&](const std::vector<int>& s) {
    return static_cast<int>(std::find(selections.begin(), selections.end(), s) - selections.begin());
  };

  constexpr int kSwitches = 3000;
  std::atomic<bool> done{false};
  std::atomic<int> failed_switches{0};
  std::thread switcher([&] {
    at::init_num_threads();
    std::mt19937 rng(5);
    for (int k = 0; k < kSwitches; ++k) {
      if (k % 100 == 99) {
        if (!model.switch_to(damaged_sel).ok) ++failed_switches;
        continue;
      }
      if (!model.switch_to(selections[rng() % selections.size()]).ok) ++failed_switches;
    }
    done = true;
  });
  int forwards = 0, mismatches = 0, wrong_snapshot = 0;
  std::vector<int> seen(selections.size(), 0);
  while (!done) {
    // Plain forward: must be one of the selections.
    int k = match(model.forward(x));
    if (k < 0) ++mismatches;
    // Through a snapshot: must be the snapshot's own selection.
    ServingSnapshot snap = model.snapshot();
    int want = index_of(snap.selection());
    int got = match(snap.forward(x));
    if (got != want) ++wrong_snapshot;
    if (got >= 0) ++seen[got];
    forwards += 2;
  }
  switcher.join();
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(wrong_snapshot, 0);
  EXPECT_EQ(failed_switches.load(), kSwitches / 100);
  EXPECT_GT(forwards, 20);
  EXPECT_GE(std::count_if(seen.begin(), seen.end(), [](int c) { return c > 0; }), 2);
  // The cache held every block of every selection: only the first round and the damaged file hit the disk.
  EXPECT_LE(model.memory().cache_bytes, model.memory().cache_limit);
  EXPECT_NE(model.selection(), damaged_sel);
}
