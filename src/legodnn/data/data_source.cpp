#include "legodnn/data/data_source.h"

#include <filesystem>

#include "legodnn/data/image_folder.h"
#include "legodnn/util/error.h"

namespace legodnn {
namespace {

std::string shape_text(const std::vector<int64_t>& s) {
  std::string out;
  for (int64_t d : s) out += (out.empty() ? "" : "x") + std::to_string(d);
  return out;
}

bool fashion_mnist_folder(const std::string& root) {
  std::error_code ec;
  return std::filesystem::exists(root + "/t10k-images-idx3-ubyte.gz", ec) ||
         std::filesystem::exists(root + "/train-images-idx3-ubyte.gz", ec);
}

FashionMnistOptions fashion_mnist_options(const DataSource& s) {
  FashionMnistOptions fo;
  fo.root = s.root;
  const auto& in = s.input_shape;
  if (in.empty() || in == std::vector<int64_t>{1, 32, 32}) fo.pad_to_32 = true;
  else if (in == std::vector<int64_t>{1, 28, 28}) fo.pad_to_32 = false;
  else
    throw OptionError("--data " + s.root + ": Fashion-MNIST gives 1x32x32 images (1x28x28 unpadded) but the model reads " +
                      shape_text(in) + "; give --data an image folder (one subfolder per class)");
  if (s.classes != 0 && s.classes != 10)
    throw OptionError("--data " + s.root + ": Fashion-MNIST has 10 classes but the model predicts " +
                      std::to_string(s.classes));
  return fo;
}

FashionMnist image_folder(const DataSource& s) {
  if (s.input_shape.size() != 3)
    throw OptionError("--data " + s.root + ": an image folder needs the model's input shape C,H,W");
  ImageFolderOptions o;
  o.root = s.root;
  o.channels = s.input_shape[0];
  o.height = s.input_shape[1];
  o.width = s.input_shape[2];
  FashionMnist d = load_image_folder(o);
  if (s.classes != 0 && static_cast<int64_t>(d.classes.size()) != s.classes)
    throw OptionError("--data " + s.root + ": the folder has " + std::to_string(d.classes.size()) +
                      " classes but the model predicts " + std::to_string(s.classes));
  return d;
}

}  // namespace

FashionMnist load_data(const DataSource& s) {
  if (!fashion_mnist_folder(s.root) && is_image_folder(s.root)) return image_folder(s);
  return load_fashion_mnist(fashion_mnist_options(s));
}

Split load_test_data(const DataSource& s) {
  if (!fashion_mnist_folder(s.root) && is_image_folder(s.root)) return image_folder(s).test;
  return load_fashion_mnist_test(fashion_mnist_options(s));
}

}  // namespace legodnn
