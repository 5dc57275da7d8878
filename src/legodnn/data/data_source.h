#pragma once
// Where a command's images come from (`--data`): Fashion-MNIST's IDX files (the default, Debian's
// dataset-fashion-mnist) or an image folder (data/image_folder.h), read as the model reads them.
#include <cstdint>
#include <string>
#include <vector>

#include "legodnn/data/fashion_mnist.h"

namespace legodnn {

struct DataSource {
  std::string root;                 ///< Fashion-MNIST folder or image folder
  std::vector<int64_t> input_shape; ///< [C,H,W] the model reads; empty: Fashion-MNIST's 1x32x32
  int64_t classes = 0;              ///< classes the model predicts; 0: not checked
};

/// The three splits. Fashion-MNIST when `root` holds its IDX files (the model must read 1x32x32, or
/// 1x28x28 unpadded), otherwise an image folder resized and converted to input_shape. Throws
/// OptionError naming the folder when the data does not fit the model (shape, number of classes),
/// IoError for a missing or damaged file.
FashionMnist load_data(const DataSource& s);
/// The test split alone (Fashion-MNIST reads only its test file).
Split load_test_data(const DataSource& s);

}  // namespace legodnn
