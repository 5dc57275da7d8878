#include "legodnn/data/fashion_mnist.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <zlib.h>

#include "legodnn/util/error.h"

namespace legodnn {
namespace {

constexpr const char* kTrainImages = "train-images-idx3-ubyte.gz";
constexpr const char* kTrainLabels = "train-labels-idx1-ubyte.gz";
constexpr const char* kTestImages = "t10k-images-idx3-ubyte.gz";
constexpr const char* kTestLabels = "t10k-labels-idx1-ubyte.gz";
constexpr const char* kInstallHint =
    "install the Debian package dataset-fashion-mnist or pass --data DIR";

constexpr uint32_t kImagesMagic = 2051;  // IDX: unsigned bytes, 3 dimensions
constexpr uint32_t kLabelsMagic = 2049;  // IDX: unsigned bytes, 1 dimension
constexpr int64_t kSide = 28;
constexpr int64_t kPad32 = 2;
constexpr int64_t kNumClasses = 10;

// ---------------------------------------------------------------------------------------------
// Deterministic sampling. std::uniform_int_distribution and std::shuffle are implementation
// defined, so splits would differ between standard libraries; these helpers only rely on the
// mt19937_64 output sequence, which the standard fixes.

/// Unbiased integer in [0, n) for n > 0 (rejects the 2^64 mod n lowest raw values).
uint64_t uniform_below(std::mt19937_64& rng, uint64_t n) {
  const uint64_t threshold = (0 - n) % n;
  uint64_t x;
  do {
    x = rng();
  } while (x < threshold);
  return x % n;
}

/// The first k entries of a forward Fisher-Yates shuffle of 0..n-1. Stopping after k swaps gives
/// a uniform draw of k distinct indices without paying for the whole permutation.
std::vector<int64_t> draw_without_replacement(int64_t n, int64_t k, std::mt19937_64& rng) {
  std::vector<int64_t> a(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) a[i] = i;
  for (int64_t i = 0; i < k && i + 1 < n; ++i) {
    const int64_t j = i + static_cast<int64_t>(uniform_below(rng, static_cast<uint64_t>(n - i)));
    std::swap(a[i], a[j]);
  }
  a.resize(static_cast<size_t>(k));
  return a;
}

at::Tensor index_tensor(const std::vector<int64_t>& v) {
  at::Tensor t = at::empty({static_cast<int64_t>(v.size())}, at::kLong);
  std::copy(v.begin(), v.end(), t.data_ptr<int64_t>());
  return t;
}

/// SplitMix64 finalizer: spreads (seed, epoch) so nearby pairs get unrelated mt19937_64 streams
/// (seed + epoch alone would make seed 0 epoch 1 replay seed 1 epoch 0).
uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

Split select(const Split& s, const at::Tensor& index) {
  return {s.images.index_select(0, index), s.labels.index_select(0, index)};
}

// ---------------------------------------------------------------------------------------------
// IDX gzip reading.

struct GzClose {
  void operator()(gzFile f) const { gzclose(f); }
};
using GzPtr = std::unique_ptr<gzFile_s, GzClose>;

std::string file_path(const std::string& root, const char* name) {
  return (std::filesystem::path(root) / name).string();
}

void require_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw IoError("Fashion-MNIST file not found: " + path + " (" + kInstallHint + ")");
}

/// Checks up front that every needed file exists, so a missing test file is reported before
/// seconds are spent decoding the training set.
void require_files(const std::string& root, std::initializer_list<const char*> names) {
  for (const char* name : names) require_file(file_path(root, name));
}

GzPtr open_gz(const std::string& path) {
  require_file(path);
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw IoError("cannot open Fashion-MNIST file " + path + ": " + std::strerror(errno));
  // A bigger input buffer cuts the read syscalls for the 26 MB image file by 32x.
  gzbuffer(f, 1 << 18);
  return GzPtr(f);
}

/// zlib's description of the last error, without the path it puts in front (our messages
/// already start with the path), or "" when there is none.
std::string zlib_error(gzFile f, const std::string& path) {
  int errnum = Z_OK;
  const char* msg = gzerror(f, &errnum);
  if (errnum == Z_OK) return {};
  std::string m(msg);
  if (m.rfind(path + ": ", 0) == 0) m.erase(0, path.size() + 2);
  return m;
}

/// Reads up to n bytes into dst and returns how many arrived. Reads in 1 MiB chunks because a
/// gzread that hits a cut-off stream reports 0 for the whole call, and small calls keep the
/// count in the "truncated" message close to the truth.
size_t read_some(gzFile f, const std::string& path, uint8_t* dst, size_t n) {
  constexpr size_t kChunk = size_t{1} << 20;
  size_t got = 0;
  while (got < n) {
    const int r = gzread(f, dst + got, static_cast<unsigned>(std::min(kChunk, n - got)));
    if (r < 0) throw IoError(path + ": damaged gzip data (" + zlib_error(f, path) + ")");
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return got;
}

[[noreturn]] void throw_truncated(gzFile f, const std::string& path, const std::string& what,
                                  size_t expected, size_t got) {
  const std::string z = zlib_error(f, path);
  throw IoError(path + ": truncated: expected " + std::to_string(expected) + " bytes of " + what +
                ", only " + std::to_string(got) + " could be read" +
                (z.empty() ? "" : " (" + z + ")"));
}

/// Requires the data to end exactly here. Reading past the end also makes zlib verify the gzip
/// CRC and length trailer, which is how bit flips inside the payload are caught.
void expect_end(gzFile f, const std::string& path, size_t expected) {
  uint8_t extra = 0;
  const int r = gzread(f, &extra, 1);
  const std::string z = zlib_error(f, path);
  if (r < 0 || (r == 0 && !z.empty())) throw IoError(path + ": damaged gzip data (" + z + ")");
  if (r > 0)
    throw IoError(path + ": wrong length: data continues after the " + std::to_string(expected) +
                  " bytes its IDX header announces");
}

uint32_t big_endian32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

template <size_t N>
std::array<uint8_t, N> read_header(gzFile f, const std::string& path, const std::string& what) {
  std::array<uint8_t, N> header{};
  const size_t got = read_some(f, path, header.data(), N);
  if (got < N) throw_truncated(f, path, what, N, got);
  return header;
}

/// Reads the n-byte payload. The buffer grows with the data actually read, so a corrupt header
/// claiming billions of items ends in a "truncated" error instead of a huge allocation.
std::vector<uint8_t> read_payload(gzFile f, const std::string& path, size_t n,
                                  const std::string& what) {
  constexpr size_t kStep = size_t{64} << 20;
  std::vector<uint8_t> buf;
  buf.reserve(std::min(n, kStep));
  while (buf.size() < n) {
    const size_t start = buf.size();
    buf.resize(std::min(n, start + kStep));
    const size_t got = read_some(f, path, buf.data() + start, buf.size() - start);
    if (start + got < buf.size()) throw_truncated(f, path, what, n, start + got);
  }
  return buf;
}

at::Tensor read_labels(const std::string& path) {
  GzPtr f = open_gz(path);
  const auto header = read_header<8>(f.get(), path, "IDX label header");
  const uint32_t magic = big_endian32(&header[0]);
  if (magic != kLabelsMagic)
    throw IoError(path + ": bad magic number " + std::to_string(magic) + ", expected " +
                  std::to_string(kLabelsMagic) + " (IDX label file)");
  const size_t count = big_endian32(&header[4]);
  const std::vector<uint8_t> raw = read_payload(f.get(), path, count, "labels");
  expect_end(f.get(), path, header.size() + count);

  at::Tensor labels = at::empty({static_cast<int64_t>(count)}, at::kLong);
  int64_t* out = labels.data_ptr<int64_t>();
  for (size_t i = 0; i < count; ++i) {
    if (raw[i] >= kNumClasses)
      throw IoError(path + ": label " + std::to_string(raw[i]) + " at index " + std::to_string(i) +
                    " is outside 0.." + std::to_string(kNumClasses - 1));
    out[i] = raw[i];
  }
  return labels;
}

/// Reads and validates an image file; returns its raw pixels, 28*28 bytes per image.
std::vector<uint8_t> read_images(const std::string& path, const std::string& labels_path,
                                 int64_t label_count) {
  GzPtr f = open_gz(path);
  const auto header = read_header<16>(f.get(), path, "IDX image header");
  const uint32_t magic = big_endian32(&header[0]);
  if (magic != kImagesMagic)
    throw IoError(path + ": bad magic number " + std::to_string(magic) + ", expected " +
                  std::to_string(kImagesMagic) + " (IDX image file)");
  const int64_t count = big_endian32(&header[4]);
  const int64_t rows = big_endian32(&header[8]);
  const int64_t cols = big_endian32(&header[12]);
  if (rows != kSide || cols != kSide)
    throw IoError(path + ": images are " + std::to_string(rows) + "x" + std::to_string(cols) +
                  ", expected " + std::to_string(kSide) + "x" + std::to_string(kSide));
  if (count != label_count)
    throw IoError(path + ": count mismatch: holds " + std::to_string(count) + " images but " +
                  labels_path + " holds " + std::to_string(label_count) + " labels");
  const size_t bytes = static_cast<size_t>(count * rows * cols);
  std::vector<uint8_t> raw = read_payload(f.get(), path, bytes, "pixels");
  expect_end(f.get(), path, header.size() + bytes);
  return raw;
}

/// Decodes the images at `rows` (in that order) straight into normalized float32
/// [rows,1,side,side]. Going from bytes to the final split in one pass through a 256-entry table
/// avoids materialising, and then copying, a float tensor of the whole 60k file.
at::Tensor decode_images(const std::vector<uint8_t>& raw, const std::vector<int64_t>& rows,
                         bool pad_to_32) {
  std::array<float, 256> lut{};
  for (int v = 0; v < 256; ++v) lut[v] = normalize_fashion_mnist_pixel(v);
  const int64_t pad = pad_to_32 ? kPad32 : 0;
  const int64_t side = kSide + 2 * pad;
  const int64_t n = static_cast<int64_t>(rows.size());
  at::Tensor images = at::empty({n, 1, side, side}, at::kFloat);
  float* out = images.data_ptr<float>();
  // Padding with the normalized 0 pixel equals padding raw pixels with 0 before normalizing.
  if (pad > 0) std::fill(out, out + n * side * side, lut[0]);
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* image = raw.data() + rows[i] * kSide * kSide;
    for (int64_t r = 0; r < kSide; ++r) {
      const uint8_t* src = image + r * kSide;
      float* dst = out + i * side * side + (r + pad) * side + pad;
      for (int64_t c = 0; c < kSide; ++c) dst[c] = lut[src[c]];
    }
  }
  return images;
}

std::vector<int64_t> all_rows(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = i;
  return v;
}

/// Raw contents of one labels/images file pair, validated against each other.
struct RawPair {
  at::Tensor labels;
  std::vector<uint8_t> pixels;
};

RawPair read_pair(const std::string& root, const char* images_name, const char* labels_name) {
  const std::string labels_path = file_path(root, labels_name);
  // Labels first: the file is tiny, and its count lets the image reader reject a mismatch
  // before decoding 47 MB.
  at::Tensor labels = read_labels(labels_path);
  std::vector<uint8_t> pixels =
      read_images(file_path(root, images_name), labels_path, labels.size(0));
  return {std::move(labels), std::move(pixels)};
}

Split decode(const RawPair& raw, const std::vector<int64_t>& rows, bool pad_to_32) {
  return {decode_images(raw.pixels, rows, pad_to_32),
          raw.labels.index_select(0, index_tensor(rows))};
}

/// Which images of an n-image training set go to train and which to val (both ascending).
struct Partition {
  std::vector<int64_t> train;
  std::vector<int64_t> val;
};

Partition partition_validation(int64_t n, int64_t val_size, uint64_t seed) {
  if (val_size < 0 || val_size > n)
    throw OptionError("val_size " + std::to_string(val_size) + " must be in 0.." +
                      std::to_string(n) + " (the training set size)");
  std::mt19937_64 rng(seed);
  std::vector<bool> is_val(static_cast<size_t>(n), false);
  for (int64_t i : draw_without_replacement(n, val_size, rng)) is_val[i] = true;
  Partition p;
  p.train.reserve(static_cast<size_t>(n - val_size));
  p.val.reserve(static_cast<size_t>(val_size));
  for (int64_t i = 0; i < n; ++i) (is_val[i] ? p.val : p.train).push_back(i);
  return p;
}

}  // namespace

std::string default_fashion_mnist_root() {
  const char* env = std::getenv("LEGODNN_FASHION_MNIST");
  return env && *env ? std::string(env) : std::string("/usr/share/datasets/fashion-mnist");
}

int64_t Split::size() const { return images.defined() ? images.size(0) : 0; }

Split Split::head(int64_t n) const {
  if (!images.defined()) return *this;
  const int64_t k = std::clamp<int64_t>(n, 0, size());
  return {images.narrow(0, 0, k), labels.narrow(0, 0, k)};
}

Split Split::subset(int64_t n, uint64_t seed) const {
  if (!images.defined()) return *this;
  const int64_t k = std::clamp<int64_t>(n, 0, size());
  std::mt19937_64 rng(seed);
  return select(*this, index_tensor(draw_without_replacement(size(), k, rng)));
}

TrainValSplit split_validation(const Split& full, int64_t val_size, uint64_t seed) {
  const Partition p = partition_validation(full.size(), val_size, seed);
  if (val_size == 0) return {full, full.head(0)};
  return {select(full, index_tensor(p.train)), select(full, index_tensor(p.val))};
}

FashionMnist load_fashion_mnist(const FashionMnistOptions& opts) {
  require_files(opts.root, {kTrainImages, kTrainLabels, kTestImages, kTestLabels});
  // The upper bound needs the file's count, but a negative size can fail before any decoding.
  if (opts.val_size < 0)
    throw OptionError("val_size must be >= 0, got " + std::to_string(opts.val_size));
  FashionMnist data;
  {
    // Scoped so the 47 MB of raw training pixels are freed before the test set is read.
    const RawPair raw = read_pair(opts.root, kTrainImages, kTrainLabels);
    const Partition p = partition_validation(raw.labels.size(0), opts.val_size, opts.split_seed);
    data.train = decode(raw, p.train, opts.pad_to_32);
    data.val = decode(raw, p.val, opts.pad_to_32);
  }
  data.test = load_fashion_mnist_test(opts);
  return data;
}

Split load_fashion_mnist_test(const FashionMnistOptions& opts) {
  require_files(opts.root, {kTestImages, kTestLabels});
  const RawPair raw = read_pair(opts.root, kTestImages, kTestLabels);
  return decode(raw, all_rows(raw.labels.size(0)), opts.pad_to_32);
}

// ---------------------------------------------------------------------------------------------
// BatchLoader

BatchLoader::BatchLoader(Split split, BatchOptions opts) : split_(std::move(split)), opts_(opts) {
  if (opts_.batch_size <= 0)
    throw OptionError("batch_size must be positive, got " + std::to_string(opts_.batch_size));
  if (opts_.crop_padding < 0)
    throw OptionError("crop_padding must be >= 0, got " + std::to_string(opts_.crop_padding));
  const int64_t n_labels = split_.labels.defined() ? split_.labels.size(0) : 0;
  if (n_labels != split_.size())
    throw OptionError("split has " + std::to_string(split_.size()) + " images but " +
                      std::to_string(n_labels) + " labels");
  const bool augmenting = opts_.crop_padding > 0 || opts_.flip;
  if (augmenting && split_.images.defined() &&
      (split_.images.dim() != 4 || split_.images.scalar_type() != at::kFloat ||
       !split_.images.device().is_cpu()))
    throw OptionError("crop/flip augmentation needs CPU float32 [N,C,H,W] images, got " +
                      std::string(split_.images.toString()) + " of dim " +
                      std::to_string(split_.images.dim()));
  start_epoch(0);
}

void BatchLoader::start_epoch(int64_t epoch) {
  rng_.seed(mix64(mix64(opts_.seed) ^ static_cast<uint64_t>(epoch)));
  const int64_t n = size();
  if (opts_.shuffle) {
    order_ = index_tensor(draw_without_replacement(n, n, rng_));
  } else {
    order_ = at::arange(n, at::kLong);
  }
  pos_ = 0;
}

bool BatchLoader::next(at::Tensor& images, at::Tensor& labels) {
  const int64_t remaining = size() - pos_;
  if (remaining <= 0 || (opts_.drop_last && remaining < opts_.batch_size)) return false;
  const int64_t b = std::min(opts_.batch_size, remaining);
  const at::Tensor index = order_.narrow(0, pos_, b);
  pos_ += b;
  images = split_.images.index_select(0, index);
  labels = split_.labels.index_select(0, index);
  if (opts_.crop_padding > 0 || opts_.flip) images = augment(images);
  return true;
}

int64_t BatchLoader::batches_per_epoch() const {
  const int64_t n = size(), b = opts_.batch_size;
  return opts_.drop_last ? n / b : (n + b - 1) / b;
}

int64_t BatchLoader::size() const { return split_.size(); }

/// Crop and flip fused into one pass over the batch: output pixel (y, x) reads source pixel
/// (y + oy, flip ? W-1-x + ox : x + ox), or crop_fill outside the image. That equals padding by
/// p, cropping at offset (oy + p, ox + p), then flipping, without materialising the padded batch.
at::Tensor BatchLoader::augment(const at::Tensor& batch) {
  const at::Tensor src = batch.contiguous();
  at::Tensor out = at::empty_like(src);
  const int64_t n = src.size(0), ch = src.size(1), h = src.size(2), w = src.size(3);
  const int64_t p = opts_.crop_padding;
  const float fill = opts_.crop_fill;
  const float* s = src.data_ptr<float>();
  float* d = out.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i) {
    // Fixed draw order per image (dy, dx, flip) keeps the stream reproducible.
    const int64_t oy = p > 0 ? static_cast<int64_t>(uniform_below(rng_, 2 * p + 1)) - p : 0;
    const int64_t ox = p > 0 ? static_cast<int64_t>(uniform_below(rng_, 2 * p + 1)) - p : 0;
    const bool flip = opts_.flip && (rng_() >> 63) != 0;
    for (int64_t c = 0; c < ch; ++c) {
      const float* plane = s + (i * ch + c) * h * w;
      for (int64_t y = 0; y < h; ++y) {
        float* row = d + ((i * ch + c) * h + y) * w;
        const int64_t sy = y + oy;
        if (sy < 0 || sy >= h) {
          std::fill(row, row + w, fill);
          continue;
        }
        const float* srow = plane + sy * w;
        for (int64_t x = 0; x < w; ++x) {
          const int64_t sx = (flip ? w - 1 - x : x) + ox;
          row[x] = (sx >= 0 && sx < w) ? srow[sx] : fill;
        }
      }
    }
  }
  return out;
}

BatchOptions training_batches(int64_t batch_size, uint64_t seed, int64_t crop_padding, bool flip,
                              int64_t split_size) {
  BatchOptions bo;
  bo.batch_size = batch_size;
  bo.shuffle = true;
  bo.seed = seed;
  bo.crop_padding = crop_padding;
  bo.flip = flip;
  bo.drop_last = split_size > batch_size;
  return bo;
}

}  // namespace legodnn
