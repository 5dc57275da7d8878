// Tests of the Fashion-MNIST data layer. They read the real dataset at the default root
// (Debian package dataset-fashion-mnist) and build damaged copies of it in a temp dir.
#include <stdlib.h>  // mkdtemp, setenv, unsetenv

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include "legodnn/data/fashion_mnist.h"
#include "legodnn/util/error.h"
#include "test_util.h"

namespace fs = std::filesystem;
using legodnn::BatchLoader;
using legodnn::BatchOptions;
using legodnn::FashionMnist;
using legodnn::FashionMnistOptions;
using legodnn::IoError;
using legodnn::OptionError;
using legodnn::Split;

namespace {

constexpr const char* kFiles[] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                  "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};

// Decoding the training set takes a noticeable fraction of a second, so each distinct load is
// done once and shared by the tests below.
const FashionMnist& default_data() {
  static const FashionMnist d = legodnn::load_fashion_mnist();
  return d;
}

// The whole 60k training file, unpadded and in file order (val_size = 0).
const Split& full_train() {
  static const Split s = [] {
    FashionMnistOptions o;
    o.pad_to_32 = false;
    o.val_size = 0;
    return legodnn::load_fashion_mnist(o).train;
  }();
  return s;
}

/// The 28x28 centre of 32x32 padded images, so padded and unpadded loads can be compared.
Split unpad(const Split& s) {
  return {s.images.narrow(2, 2, 28).narrow(3, 2, 28).contiguous(), s.labels};
}

/// One 64-bit FNV-style hash per (image, label), for set comparisons between splits.
std::vector<uint64_t> row_hashes(const Split& s) {
  const at::Tensor images = s.images.contiguous();
  const at::Tensor labels = s.labels.contiguous();
  const int64_t n = s.size();
  std::vector<uint64_t> out(static_cast<size_t>(n));
  if (n == 0) return out;
  const int64_t floats = images.numel() / n;
  const float* px = images.data_ptr<float>();
  const int64_t* lab = labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    uint64_t h = 1469598103934665603ULL ^ static_cast<uint64_t>(lab[i]);
    for (int64_t k = 0; k < floats; ++k) {
      uint32_t bits;
      std::memcpy(&bits, px + i * floats + k, sizeof bits);
      h = (h ^ bits) * 1099511628211ULL;
    }
    out[i] = h;
  }
  return out;
}

/// True when `part` occurs in `whole` in the same relative order.
bool is_subsequence(const std::vector<uint64_t>& part, const std::vector<uint64_t>& whole) {
  size_t j = 0;
  for (uint64_t h : part) {
    while (j < whole.size() && whole[j] != h) ++j;
    if (j == whole.size()) return false;
    ++j;
  }
  return true;
}

/// Image i is filled with the value i and labelled i, so batches reveal which images they hold.
Split indexed_split(int64_t n, int64_t side = 4) {
  return {at::arange(n, at::kFloat).view({n, 1, 1, 1}).expand({n, 1, side, side}).contiguous(),
          at::arange(n, at::kLong)};
}

std::vector<int64_t> to_vector(const at::Tensor& t) {
  const at::Tensor c = t.contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

/// All labels of one epoch, in the order the loader yields them; checks each batch on the way.
std::vector<int64_t> epoch_labels(BatchLoader& loader, int64_t epoch,
                                  std::vector<int64_t>* batch_sizes = nullptr) {
  loader.start_epoch(epoch);
  std::vector<int64_t> out;
  at::Tensor images, labels;
  while (loader.next(images, labels)) {
    EXPECT_EQ(images.size(0), labels.size(0));
    if (batch_sizes) batch_sizes->push_back(labels.size(0));
    const std::vector<int64_t> v = to_vector(labels);
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const fs::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

std::vector<uint8_t> gunzip(const fs::path& p) {
  gzFile f = gzopen(p.c_str(), "rb");
  EXPECT_NE(f, nullptr) << p;
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  int r;
  while (f && (r = gzread(f, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + r);
  if (f) gzclose(f);
  return out;
}

void gzip(const fs::path& p, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(p.c_str(), "wb1");
  ASSERT_NE(f, nullptr) << p;
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
            static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

void put_be32(std::vector<uint8_t>& bytes, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) bytes[at + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Loading

TEST(FashionMnist, DefaultRootHonoursEnvironment) {
  const char* old = std::getenv("LEGODNN_FASHION_MNIST");
  const std::optional<std::string> saved = old ? std::optional<std::string>(old) : std::nullopt;
  setenv("LEGODNN_FASHION_MNIST", "/some/where", 1);
  EXPECT_EQ(legodnn::default_fashion_mnist_root(), "/some/where");
  unsetenv("LEGODNN_FASHION_MNIST");
  EXPECT_EQ(legodnn::default_fashion_mnist_root(), "/usr/share/datasets/fashion-mnist");
  if (saved) setenv("LEGODNN_FASHION_MNIST", saved->c_str(), 1);
}

TEST(FashionMnist, ShapesDtypesAndCounts) {
  const FashionMnist& d = default_data();
  EXPECT_EQ(d.train.images.sizes(), at::IntArrayRef({55000, 1, 32, 32}));
  EXPECT_EQ(d.val.images.sizes(), at::IntArrayRef({5000, 1, 32, 32}));
  EXPECT_EQ(d.test.images.sizes(), at::IntArrayRef({10000, 1, 32, 32}));
  for (const Split* s : {&d.train, &d.val, &d.test}) {
    EXPECT_EQ(s->images.scalar_type(), at::kFloat);
    EXPECT_EQ(s->labels.scalar_type(), at::kLong);
    EXPECT_EQ(s->labels.dim(), 1);
    EXPECT_EQ(s->labels.size(0), s->size());
    EXPECT_GE(s->labels.min().item<int64_t>(), 0);
    EXPECT_LE(s->labels.max().item<int64_t>(), 9);
  }
  // Fashion-MNIST is balanced: 6000 per class in the training file, 1000 in the test file.
  const at::Tensor train_counts = at::bincount(at::cat({d.train.labels, d.val.labels}), {}, 10);
  EXPECT_TRUE(at::equal(train_counts, at::full({10}, 6000, at::kLong)));
  EXPECT_TRUE(at::equal(at::bincount(d.test.labels, {}, 10), at::full({10}, 1000, at::kLong)));
}

TEST(FashionMnist, TestOnlyLoadMatchesFullLoad) {
  const Split test = legodnn::load_fashion_mnist_test();
  EXPECT_TRUE(at::equal(test.images, default_data().test.images));
  EXPECT_TRUE(at::equal(test.labels, default_data().test.labels));
}

TEST(FashionMnist, NormalizationCentresUnpaddedTrainPixels) {
  const at::Tensor& x = full_train().images;
  EXPECT_EQ(x.sizes(), at::IntArrayRef({60000, 1, 28, 28}));
  EXPECT_NEAR(x.mean().item<double>(), 0.0, 0.05);
  EXPECT_NEAR(x.std().item<double>(), 1.0, 0.05);
  EXPECT_FLOAT_EQ(x.min().item<float>(), (0.0f - 0.2860f) / 0.3530f);
  EXPECT_FLOAT_EQ(x.max().item<float>(), (1.0f - 0.2860f) / 0.3530f);
}

TEST(FashionMnist, PaddedBorderIsNormalizedZeroAndCentreIsUnpaddedImage) {
  const float bg = (0.0f / 255.0f - 0.2860f) / 0.3530f;
  EXPECT_FLOAT_EQ(legodnn::normalize_fashion_mnist_pixel(0), bg);
  const at::Tensor& x = default_data().test.images;
  for (const at::Tensor& border : {x.narrow(2, 0, 2), x.narrow(2, 30, 2), x.narrow(3, 0, 2),
                                   x.narrow(3, 30, 2)})
    EXPECT_TRUE(at::all(border == bg).item<bool>());

  FashionMnistOptions o;
  o.pad_to_32 = false;
  const Split plain = legodnn::load_fashion_mnist_test(o);
  EXPECT_EQ(plain.images.sizes(), at::IntArrayRef({10000, 1, 28, 28}));
  EXPECT_TRUE(at::equal(unpad(default_data().test).images, plain.images));
  EXPECT_TRUE(at::equal(plain.labels, default_data().test.labels));
}

// ---------------------------------------------------------------------------------------------
// Validation split

TEST(FashionMnist, ValidationSplitPartitionsTrainingFileInFileOrder) {
  const std::vector<uint64_t> full = row_hashes(full_train());
  const std::vector<uint64_t> train = row_hashes(unpad(default_data().train));
  const std::vector<uint64_t> val = row_hashes(unpad(default_data().val));

  // Both parts keep the order of the file (documented in split_validation).
  EXPECT_TRUE(is_subsequence(train, full));
  EXPECT_TRUE(is_subsequence(val, full));

  // Together they are exactly the training file ...
  std::vector<uint64_t> both = train;
  both.insert(both.end(), val.begin(), val.end());
  std::vector<uint64_t> sorted_full = full;
  std::sort(both.begin(), both.end());
  std::sort(sorted_full.begin(), sorted_full.end());
  EXPECT_EQ(both, sorted_full);

  // ... and no image is in both, except copies of images the file itself holds twice.
  std::unordered_map<uint64_t, int> copies;
  for (uint64_t h : full) ++copies[h];
  const std::unordered_set<uint64_t> train_set(train.begin(), train.end());
  int shared_unique = 0;
  for (uint64_t h : val) shared_unique += train_set.count(h) && copies[h] == 1;
  EXPECT_EQ(shared_unique, 0);
}

TEST(FashionMnist, LoadUsesSplitValidation) {
  const legodnn::TrainValSplit tv = legodnn::split_validation(full_train(), 5000, 0);
  EXPECT_TRUE(at::equal(tv.val.labels, default_data().val.labels));
  EXPECT_TRUE(at::equal(tv.val.images, unpad(default_data().val).images));
  EXPECT_TRUE(at::equal(tv.train.labels, default_data().train.labels));
}

TEST(FashionMnist, ValidationSplitDependsOnlyOnSeed) {
  const Split& full = full_train();
  const legodnn::TrainValSplit a = legodnn::split_validation(full, 5000, 0);
  const legodnn::TrainValSplit b = legodnn::split_validation(full, 5000, 0);
  const legodnn::TrainValSplit c = legodnn::split_validation(full, 5000, 1);
  EXPECT_EQ(a.train.size(), 55000);
  EXPECT_EQ(a.val.size(), 5000);
  EXPECT_TRUE(at::equal(a.val.labels, b.val.labels));
  EXPECT_TRUE(at::equal(a.val.images, b.val.images));
  EXPECT_FALSE(at::equal(a.val.labels, c.val.labels));
  EXPECT_FALSE(at::equal(a.val.images, c.val.images));

  const legodnn::TrainValSplit none = legodnn::split_validation(full, 0, 3);
  EXPECT_EQ(none.val.size(), 0);
  EXPECT_TRUE(at::equal(none.train.images, full.images));
  EXPECT_EQ(full.size(), 60000);

  EXPECT_THROWS_WITH(legodnn::split_validation(full, -1, 0), OptionError, "val_size -1");
  EXPECT_THROWS_WITH(legodnn::split_validation(full, 60001, 0), OptionError, "val_size 60001");
}

// ---------------------------------------------------------------------------------------------
// Split::head / Split::subset

TEST(Split, HeadClipsAndSharesStorage) {
  const Split& test = default_data().test;
  const Split h = test.head(100);
  EXPECT_EQ(h.size(), 100);
  EXPECT_TRUE(at::equal(h.images, test.images.narrow(0, 0, 100)));
  EXPECT_TRUE(at::equal(h.labels, test.labels.narrow(0, 0, 100)));
  EXPECT_EQ(h.images.data_ptr(), test.images.data_ptr());
  EXPECT_EQ(test.head(1000000).size(), 10000);
  EXPECT_EQ(test.head(-3).size(), 0);
  EXPECT_EQ(Split{}.head(5).size(), 0);
}

TEST(Split, SubsetIsDeterministicAndWithoutReplacement) {
  const Split& test = default_data().test;
  const Split a = test.subset(500, 7), b = test.subset(500, 7), c = test.subset(500, 8);
  EXPECT_EQ(a.size(), 500);
  EXPECT_TRUE(at::equal(a.images, b.images));
  EXPECT_TRUE(at::equal(a.labels, b.labels));
  EXPECT_FALSE(at::equal(a.labels, c.labels));

  const Split idx = indexed_split(300);
  std::vector<int64_t> drawn = to_vector(idx.subset(200, 1).labels);
  std::sort(drawn.begin(), drawn.end());
  EXPECT_EQ(std::adjacent_find(drawn.begin(), drawn.end()), drawn.end()) << "drew an index twice";

  // n beyond the size clips to a permutation of everything.
  std::vector<int64_t> all = to_vector(idx.subset(1000, 2).labels);
  EXPECT_EQ(all.size(), 300u);
  EXPECT_NE(all, to_vector(idx.labels));
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, to_vector(idx.labels));
}

// ---------------------------------------------------------------------------------------------
// BatchLoader

TEST(BatchLoader, ShuffleCoversEveryIndexOncePerEpoch) {
  const Split s = indexed_split(1000);
  BatchOptions o;
  o.batch_size = 128;
  o.shuffle = true;
  o.seed = 42;
  BatchLoader loader(s, o);
  EXPECT_EQ(loader.size(), 1000);
  EXPECT_EQ(loader.batches_per_epoch(), 8);

  std::vector<int64_t> sizes;
  const std::vector<int64_t> e0 = epoch_labels(loader, 0, &sizes);
  EXPECT_EQ(sizes, (std::vector<int64_t>{128, 128, 128, 128, 128, 128, 128, 104}));
  const std::vector<int64_t> e1 = epoch_labels(loader, 1);
  const std::vector<int64_t> identity = to_vector(s.labels);
  EXPECT_NE(e0, identity);
  EXPECT_NE(e0, e1);
  for (std::vector<int64_t> e : {e0, e1}) {
    std::sort(e.begin(), e.end());
    EXPECT_EQ(e, identity);
  }
  EXPECT_EQ(epoch_labels(loader, 0), e0) << "epoch 0 must replay exactly";

  // Images travel with their labels.
  loader.start_epoch(3);
  at::Tensor images, labels;
  ASSERT_TRUE(loader.next(images, labels));
  EXPECT_TRUE(at::equal(images.select(1, 0).select(1, 0).select(1, 0), labels.to(at::kFloat)));
}

TEST(BatchLoader, LastPartialBatchKeptUnlessDropLast) {
  const Split s = indexed_split(1000);
  BatchOptions o;
  o.batch_size = 128;
  BatchLoader keep(s, o);
  std::vector<int64_t> sizes;
  EXPECT_EQ(epoch_labels(keep, 0, &sizes), to_vector(s.labels)) << "no shuffle keeps split order";
  EXPECT_EQ(sizes.back(), 104);
  EXPECT_EQ(static_cast<int64_t>(sizes.size()), keep.batches_per_epoch());

  o.drop_last = true;
  BatchLoader drop(s, o);
  sizes.clear();
  EXPECT_EQ(epoch_labels(drop, 0, &sizes).size(), 896u);
  EXPECT_EQ(sizes, std::vector<int64_t>(7, 128));
  EXPECT_EQ(drop.batches_per_epoch(), 7);

  BatchLoader exact(indexed_split(256), o);
  EXPECT_EQ(exact.batches_per_epoch(), 2);
  EXPECT_EQ(epoch_labels(exact, 0).size(), 256u);

  BatchLoader empty(s.head(0), BatchOptions{});
  at::Tensor images, labels;
  EXPECT_EQ(empty.batches_per_epoch(), 0);
  EXPECT_FALSE(empty.next(images, labels));
}

TEST(BatchLoader, SameSeedGivesSameStream) {
  const Split s = default_data().test.head(300);
  BatchOptions o;
  o.batch_size = 64;
  o.shuffle = true;
  o.seed = 5;
  o.crop_padding = 2;
  o.flip = true;
  BatchLoader a(s, o), b(s, o);
  o.seed = 6;
  BatchLoader c(s, o);
  for (int64_t epoch : {0, 1}) {
    a.start_epoch(epoch);
    b.start_epoch(epoch);
    c.start_epoch(epoch);
    at::Tensor ia, la, ib, lb, ic, lc;
    bool any_differs_from_c = false;
    while (a.next(ia, la)) {
      ASSERT_TRUE(b.next(ib, lb));
      ASSERT_TRUE(c.next(ic, lc));
      EXPECT_EQ(ia.sizes(), at::IntArrayRef({la.size(0), 1, 32, 32}));
      EXPECT_TRUE(at::equal(ia, ib));
      EXPECT_TRUE(at::equal(la, lb));
      any_differs_from_c |= !at::equal(la, lc);
    }
    EXPECT_FALSE(b.next(ib, lb));
    EXPECT_TRUE(any_differs_from_c);
  }
}

TEST(BatchLoader, FlipMirrorsAboutHalfTheImages) {
  const Split s = default_data().test.head(512);
  BatchOptions o;
  o.flip = true;
  BatchLoader loader(s, o);
  at::Tensor images, labels;
  int64_t seen = 0, flipped = 0;
  while (loader.next(images, labels)) {
    ASSERT_EQ(images.sizes(), at::IntArrayRef({128, 1, 32, 32}));
    const Split orig = {s.images.narrow(0, seen, 128), s.labels.narrow(0, seen, 128)};
    EXPECT_TRUE(at::equal(labels, orig.labels));
    for (int64_t i = 0; i < 128; ++i) {
      const at::Tensor out = images[i], in = orig.images[i];
      if (at::equal(out, in)) continue;
      EXPECT_TRUE(at::equal(out, in.flip({2})))
          << "image " << seen + i << " is neither kept nor mirrored";
      ++flipped;
    }
    seen += 128;
  }
  EXPECT_EQ(seen, 512);
  EXPECT_GT(flipped, 512 * 3 / 10);
  EXPECT_LT(flipped, 512 * 7 / 10);
}

TEST(BatchLoader, CropShiftsEachImageWithinThePadding) {
  const Split s = default_data().test.head(256);
  const int64_t p = 4;
  const float bg = legodnn::normalize_fashion_mnist_pixel(0);
  BatchOptions o;
  o.crop_padding = p;
  o.seed = 11;
  BatchLoader loader(s, o);
  const at::Tensor padded = at::constant_pad_nd(s.images, {p, p, p, p}, bg);
  at::Tensor images, labels;
  int64_t seen = 0, moved = 0;
  while (loader.next(images, labels)) {
    ASSERT_EQ(images.sizes(), at::IntArrayRef({128, 1, 32, 32}));
    for (int64_t i = 0; i < 128; ++i, ++seen) {
      // Find the crop offset that reproduces this output.
      bool found = false;
      for (int64_t dy = 0; dy <= 2 * p && !found; ++dy)
        for (int64_t dx = 0; dx <= 2 * p && !found; ++dx)
          found = at::equal(images[i], padded[seen].narrow(1, dy, 32).narrow(2, dx, 32));
      EXPECT_TRUE(found) << "image " << seen << " is not a crop of its padded original";
      moved += !at::equal(images[i], s.images[seen]);
    }
  }
  EXPECT_EQ(seen, 256);
  EXPECT_GT(moved, 256 / 2);  // 80 of 81 offsets move the image
}

TEST(BatchLoader, RejectsBadOptions) {
  const Split s = indexed_split(10);
  BatchOptions o;
  o.batch_size = 0;
  EXPECT_THROWS_WITH(BatchLoader(s, o), OptionError, "batch_size");
  o = BatchOptions{};
  o.crop_padding = -1;
  EXPECT_THROWS_WITH(BatchLoader(s, o), OptionError, "crop_padding");
  EXPECT_THROWS_WITH(BatchLoader(Split{s.images, s.labels.narrow(0, 0, 9)}, BatchOptions{}),
                     OptionError, "9 labels");
  o = BatchOptions{};
  o.flip = true;
  EXPECT_THROWS_WITH(BatchLoader(Split{s.images.to(at::kByte), s.labels}, o), OptionError,
                     "float32");
}

// ---------------------------------------------------------------------------------------------
// Missing and damaged files

TEST(FashionMnistErrors, MissingDirectoryNamesFileAndPackage) {
  FashionMnistOptions o;
  o.root = (fs::temp_directory_path() / "legodnn-no-such-fashion-mnist-dir").string();
  ASSERT_FALSE(fs::exists(o.root));
  EXPECT_THROWS_WITH(legodnn::load_fashion_mnist_test(o), IoError,
                     o.root + "/t10k-images-idx3-ubyte.gz");
  EXPECT_THROWS_WITH(legodnn::load_fashion_mnist_test(o), IoError, "dataset-fashion-mnist");
  EXPECT_THROWS_WITH(legodnn::load_fashion_mnist(o), IoError,
                     o.root + "/train-images-idx3-ubyte.gz");
  EXPECT_THROWS_WITH(legodnn::load_fashion_mnist(o), IoError, "--data DIR");
}

/// A temp copy of the real dataset; each test damages one file.
class DamagedDataset : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = (fs::temp_directory_path() / "legodnn-fmnist-XXXXXX").string();
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    dir_ = dir;
    for (const char* name : kFiles)
      fs::copy_file(fs::path(legodnn::default_fashion_mnist_root()) / name, dir_ / name);
    options_.root = dir_.string();
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const char* name) const { return (dir_ / name).string(); }

  fs::path dir_;
  FashionMnistOptions options_;
};

TEST_F(DamagedDataset, IntactCopyLoads) {
  EXPECT_EQ(legodnn::load_fashion_mnist_test(options_).size(), 10000);
}

TEST_F(DamagedDataset, MissingFile) {
  fs::remove(path("t10k-labels-idx1-ubyte.gz"));
  EXPECT_THROWS_WITH(legodnn::load_fashion_mnist_test(options_), IoError,
                     path("t10k-labels-idx1-ubyte.gz") +
                         " (install the Debian package dataset-fashion-mnist");
}

TEST_F(DamagedDataset, TruncatedGzipStream) {
  const std::string p = path("t10k-images-idx3-ubyte.gz");
  std::vector<uint8_t> bytes = read_bytes(p);
  bytes.resize(bytes.size() / 2);
  write_bytes(p, bytes);
  EXPECT_THROWS_WITH(legodnn::load_fashion_mnist_test(options_), IoError, p + ": truncated");
}

TEST_F(DamagedDataset, TruncatedPayload) {
  const std::string p = path("t10k-labels-idx1-ubyte.gz");
  std::vector<uint8_t> raw = gunzip(p);
  raw.resize(raw.size() - 100);
  gzip(p, raw);
  EXPECT_THROWS_WITH(legodnn::load_fashion_mnist_test(options_), IoError, p + ": truncated");
}

TEST_F(DamagedDataset, TrailingData) {
  const std::string p = path("t10k-labels-idx1-ubyte.gz");
  std::vector<uint8_t> raw = gunzip(p);
  raw.push_back(0);
  gzip(p, raw);
  EXPECT_THROWS_WITH(legodnn::load_fashion_mnist_test(options_), IoError, p + ": wrong length");
}

TEST_F(DamagedDataset, BadMagic) {
  const std::string p = path("t10k-labels-idx1-ubyte.gz");
  std::vector<uint8_t> raw = gunzip(p);
  ASSERT_EQ(raw.size(), 10008u);
  put_be32(raw, 0, 2051);  // an image magic in a label file
  gzip(p, raw);
  EXPECT_THROWS_WITH(legodnn::load_fashion_mnist_test(options_), IoError,
                     p + ": bad magic number 2051, expected 2049");
}

TEST_F(DamagedDataset, BadMagicInTrainingFile) {
  const std::string p = path("train-labels-idx1-ubyte.gz");
  std::vector<uint8_t> raw = gunzip(p);
  put_be32(raw, 0, 1234);
  gzip(p, raw);
  EXPECT_THROWS_WITH(legodnn::load_fashion_mnist(options_), IoError, p + ": bad magic number 1234");
}

TEST_F(DamagedDataset, CountMismatch) {
  const std::string p = path("t10k-labels-idx1-ubyte.gz");
  std::vector<uint8_t> raw = gunzip(p);
  put_be32(raw, 4, 9999);
  raw.pop_back();
  gzip(p, raw);
  EXPECT_THROWS_WITH(legodnn::load_fashion_mnist_test(options_), IoError, "count mismatch");
  EXPECT_THROWS_WITH(legodnn::load_fashion_mnist_test(options_), IoError, p + " holds 9999 labels");
}

TEST_F(DamagedDataset, WrongImageSize) {
  const std::string p = path("t10k-images-idx3-ubyte.gz");
  std::vector<uint8_t> raw = gunzip(p);
  put_be32(raw, 8, 27);
  gzip(p, raw);
  EXPECT_THROWS_WITH(legodnn::load_fashion_mnist_test(options_), IoError,
                     p + ": images are 27x28, expected 28x28");
}

TEST_F(DamagedDataset, LabelOutOfRange) {
  const std::string p = path("t10k-labels-idx1-ubyte.gz");
  std::vector<uint8_t> raw = gunzip(p);
  raw[8 + 17] = 10;
  gzip(p, raw);
  EXPECT_THROWS_WITH(legodnn::load_fashion_mnist_test(options_), IoError,
                     p + ": label 10 at index 17 is outside 0..9");
}

TEST_F(DamagedDataset, CorruptedCompressedByte) {
  const std::string p = path("t10k-labels-idx1-ubyte.gz");
  std::vector<uint8_t> bytes = read_bytes(p);
  bytes[bytes.size() / 2] ^= 0x55;
  write_bytes(p, bytes);
  // Depending on where the flip lands zlib sees bad codes or a CRC mismatch; either way the
  // file must be named.
  EXPECT_THROWS_WITH(legodnn::load_fashion_mnist_test(options_), IoError, p + ":");
}

TEST_F(DamagedDataset, HeaderClaimsMoreThanTheFileHolds) {
  const std::string p = path("t10k-labels-idx1-ubyte.gz");
  std::vector<uint8_t> raw = gunzip(p);
  put_be32(raw, 4, 0xffffffffu);  // must not try to allocate 4 GB up front
  gzip(p, raw);
  EXPECT_THROWS_WITH(legodnn::load_fashion_mnist_test(options_), IoError,
                     p + ": truncated: expected 4294967295 bytes of labels, only 10000");
}
