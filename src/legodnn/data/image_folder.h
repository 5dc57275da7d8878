#pragma once
// Your own images: a folder with one subfolder per class (PNG, JPEG, BMP, decoded by Debian's
// libstb), as torchvision's ImageFolder reads it. Either ROOT/train/<class>/ and ROOT/test/<class>/
// (the validation split is carved out of train), or ROOT/<class>/ alone, split by seed into train,
// validation and test. Images are converted to the channels wanted (1: grey, 3: RGB), resized to
// HxW, scaled to [0,1] and normalized per channel with the training split's mean and standard
// deviation (or the ones given). Each split comes in a seeded order that mixes the classes. Every
// split is deterministic in (folder, options).
#include <cstdint>
#include <string>
#include <vector>

#include "legodnn/data/fashion_mnist.h"  // Split, FashionMnist (the three splits)

namespace legodnn {

struct ImageFolderOptions {
  std::string root;
  int64_t channels = 3;            ///< 1 (grey) or 3 (RGB)
  int64_t height = 32, width = 32;
  double val_fraction = 0.1;       ///< of the training images
  double test_fraction = 0.1;      ///< of all images, when there is no test/ folder
  uint64_t split_seed = 0;
  std::vector<double> mean, std;   ///< per channel; empty = measured on the training split
};

/// True when `root` is a folder holding class subfolders, or train/ (and test/) holding them.
bool is_image_folder(const std::string& root);

/// The three splits and the class names (sorted subfolder names: label k is classes[k]). Throws
/// IoError naming the folder (no classes, an empty class, different classes in train/ and test/) or
/// the file (not a regular file, over 64 MiB, does not decode as an image), OptionError for bad options.
FashionMnist load_image_folder(const ImageFolderOptions& o);

}  // namespace legodnn
