#pragma once
// Fashion-MNIST data layer: reads the four IDX gzip files, carves a validation split out of the
// training set, and iterates splits in (optionally shuffled and augmented) batches.
//
// Everything here is deterministic: the validation split, subsets, the per-epoch order and the
// augmentation all come from std::mt19937_64 (whose output sequence the standard fixes) fed to
// self-written sampling code, so results do not depend on the standard library or ATen version.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace legodnn {

/// Mean of the training pixels scaled to [0,1]; subtracted during normalization.
inline constexpr float kFashionMnistMean = 0.2860f;
/// Standard deviation of the training pixels scaled to [0,1]; divided out during normalization.
inline constexpr float kFashionMnistStd = 0.3530f;

/// Normalized value of a raw pixel byte (0..255). normalize_fashion_mnist_pixel(0) is the
/// background value, used for every padded pixel.
constexpr float normalize_fashion_mnist_pixel(int raw) {
  return (static_cast<float>(raw) / 255.0f - kFashionMnistMean) / kFashionMnistStd;
}

/// Default dataset folder: $LEGODNN_FASHION_MNIST if set (and non-empty), else
/// /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist).
std::string default_fashion_mnist_root();

/// How to load Fashion-MNIST.
struct FashionMnistOptions {
  /// Folder holding train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
  /// t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz.
  std::string root = default_fashion_mnist_root();
  /// Pad 28x28 to 32x32 (2 pixels each side, with the background value).
  bool pad_to_32 = true;
  /// Images carved out of the 60k training set as the validation split (0 allowed).
  int64_t val_size = 5000;
  /// Fixes which training images form the validation split.
  uint64_t split_seed = 0;
};

/// One split: images float32 [N,1,H,W] already normalized ((x/255 - 0.2860)/0.3530),
/// labels int64 [N] in 0..9.
struct Split {
  /// float32 [N,1,H,W], normalized.
  at::Tensor images;
  /// int64 [N].
  at::Tensor labels;

  /// Number of images (0 for a default-constructed split).
  int64_t size() const;
  /// The first n images (n clipped to 0..size()); a view sharing storage with this split.
  Split head(int64_t n) const;
  /// n images (clipped to 0..size()) drawn without replacement, in draw order; the same seed
  /// always draws the same images. Returns fresh tensors.
  Split subset(int64_t n, uint64_t seed) const;
};

/// The three Fashion-MNIST splits.
/// The three splits of a data set (Fashion-MNIST's, or an image folder's: data/image_folder.h).
struct FashionMnist {
  Split train;  ///< 55k by default: the training file minus the validation images.
  Split val;    ///< 5k by default: val_size images of the training file.
  Split test;   ///< The 10k test file.
  std::vector<std::string> classes;  ///< label k is classes[k] (an image folder's subfolders; empty for Fashion-MNIST)
};

/// A training set divided in two by split_validation().
struct TrainValSplit {
  Split train;  ///< Images not chosen for validation.
  Split val;    ///< The val_size chosen images.
};

/// Carves val_size images out of `full` for validation: the first val_size entries of a
/// Fisher-Yates permutation of 0..N-1 driven by std::mt19937_64(seed). Both parts keep the
/// order the images have in `full` (so val_size = 0 gives `full` back unchanged, and the result
/// never depends on how the permutation orders the chosen images).
/// Throws OptionError unless 0 <= val_size <= full.size().
TrainValSplit split_validation(const Split& full, int64_t val_size, uint64_t seed);

/// Loads all three splits; the training file is divided by split_validation(full, val_size,
/// split_seed). Throws IoError naming the file for a missing or damaged file, OptionError for a
/// bad val_size.
FashionMnist load_fashion_mnist(const FashionMnistOptions& = {});

/// Reads only the 10k test set (fast path for evaluation); val_size and split_seed are ignored.
Split load_fashion_mnist_test(const FashionMnistOptions& = {});

/// How BatchLoader iterates a split.
struct BatchOptions {
  /// Images per batch (> 0).
  int64_t batch_size = 128;
  /// Visit the images in a fresh seeded permutation each epoch; otherwise in split order.
  bool shuffle = false;
  /// Together with the epoch number, fixes the order and the augmentation of that epoch.
  uint64_t seed = 0;
  /// Random crop: pad each image by this many pixels with crop_fill, then crop back to HxW at a
  /// random offset per image. 0 = off.
  int64_t crop_padding = 0;
  /// Random horizontal flip per image with p = 0.5.
  bool flip = false;
  /// Skip the last batch when it would be smaller than batch_size.
  bool drop_last = false;
  /// Value of the pixels the random crop pads in; the default is the normalized background.
  float crop_fill = normalize_fashion_mnist_pixel(0);
};

/// Options for training passes: shuffled, augmented by crop and flip, full batches only (unless
/// the split is smaller than one batch).
BatchOptions training_batches(int64_t batch_size, uint64_t seed, int64_t crop_padding, bool flip,
                              int64_t split_size);

/// Iterates a split in batches; each start_epoch(e) gives a deterministic order and augmentation
/// from (seed, e), provided the batches of the epoch are taken in sequence.
class BatchLoader {
 public:
  /// Takes the split (tensors are shared, not copied) and starts epoch 0. Throws OptionError for
  /// batch_size <= 0, crop_padding < 0, images and labels of different lengths, or augmentation
  /// requested on anything but CPU float32 [N,C,H,W] images.
  BatchLoader(Split split, BatchOptions opts);
  /// Rewinds to the first batch and reseeds from (seed, epoch); reshuffles when shuffle is on.
  void start_epoch(int64_t epoch);
  /// Fills the next batch (fresh tensors); returns false at the end of the epoch.
  bool next(at::Tensor& images, at::Tensor& labels);
  /// Number of batches next() yields per epoch.
  int64_t batches_per_epoch() const;
  /// Number of images in the split.
  int64_t size() const;

 private:
  at::Tensor augment(const at::Tensor& images);

  Split split_;
  BatchOptions opts_;
  at::Tensor order_;  // int64 [N]: image indices in visiting order for the current epoch
  int64_t pos_ = 0;   // position in order_ of the next batch
  std::mt19937_64 rng_;
};

}  // namespace legodnn
