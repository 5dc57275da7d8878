#include "legodnn/data/image_folder.h"

#include <stb_image.h>
#include <stb_image_resize.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <memory>

#include <ATen/ATen.h>

#include "legodnn/util/error.h"
#include "legodnn/util/fs.h"

namespace legodnn {
namespace {

namespace fs = std::filesystem;

constexpr std::uintmax_t kMaxImageBytes = std::uintmax_t{64} << 20;

bool image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

bool hidden(const fs::path& p) { return !p.filename().empty() && p.filename().string()[0] == '.'; }

// Class subfolders of `dir`, sorted by name (hidden ones skipped).
std::vector<std::string> class_names(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_directory() && !hidden(e.path())) out.push_back(e.path().filename().string());
  if (ec) throw IoError(dir + ": cannot list the folder (" + ec.message() + ")");
  std::sort(out.begin(), out.end());
  return out;
}

// The image files of a class folder, sorted by name.
std::vector<std::string> image_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (!hidden(e.path()) && image_name(e.path())) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Decodes, converts and resizes one file into `out` (C*H*W floats).
void decode(const std::string& path, const ImageFolderOptions& o, float* out) {
  const std::string bytes = read_regular_file(path, kMaxImageBytes, "image", "64 MiB");
  int w = 0, h = 0, n = 0;
  const int c = static_cast<int>(o.channels);
  std::unique_ptr<stbi_uc, void (*)(void*)> img(
      stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()), static_cast<int>(bytes.size()), &w, &h,
                            &n, c),
      stbi_image_free);
  if (!img) throw IoError(path + ": does not decode as an image (" + std::string(stbi_failure_reason()) + ")");
  const int H = static_cast<int>(o.height), W = static_cast<int>(o.width);
  std::vector<unsigned char> resized;
  const unsigned char* px = img.get();
  if (w != W || h != H) {
    resized.resize(static_cast<size_t>(W) * H * c);
    if (!stbir_resize_uint8(img.get(), w, h, 0, resized.data(), W, H, 0, c))
      throw IoError(path + ": cannot resize " + std::to_string(w) + "x" + std::to_string(h));
    px = resized.data();
  }
  // Interleaved HWC bytes to planar CHW floats.
  for (int ch = 0; ch < c; ++ch)
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x)
        out[(static_cast<size_t>(ch) * H + y) * W + x] = px[(static_cast<size_t>(y) * W + x) * c + ch] / 255.0f;
}

// Every image of `dir`/<class>/ for the given class list; the folder must hold exactly these classes.
Split read_split(const std::string& dir, const std::vector<std::string>& classes, const ImageFolderOptions& o) {
  std::vector<std::string> files;
  std::vector<int64_t> labels;
  for (size_t k = 0; k < classes.size(); ++k) {
    auto f = image_files(dir + "/" + classes[k]);
    if (f.empty()) throw IoError(dir + "/" + classes[k] + ": no PNG, JPEG or BMP images in the class folder");
    for (auto& x : f) {
      files.push_back(std::move(x));
      labels.push_back(static_cast<int64_t>(k));
    }
  }
  const int64_t per = o.channels * o.height * o.width;
  at::Tensor images = at::empty({static_cast<int64_t>(files.size()), o.channels, o.height, o.width}, at::kFloat);
  float* base = images.data_ptr<float>();
  for (size_t i = 0; i < files.size(); ++i) decode(files[i], o, base + static_cast<int64_t>(i) * per);
  return {images, at::tensor(labels, at::kLong)};
}

}  // namespace

bool is_image_folder(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return false;
  const std::string top = fs::is_directory(root + "/train", ec) ? root + "/train" : root;
  for (const auto& c : class_names(top))
    for (const auto& e : fs::directory_iterator(top + "/" + c, ec))
      if (image_name(e.path())) return true;
  return false;
}

FashionMnist load_image_folder(const ImageFolderOptions& o) {
  if (o.channels != 1 && o.channels != 3)
    throw OptionError("an image folder gives 1 (grey) or 3 (RGB) channels, not " + std::to_string(o.channels));
  if (o.height < 1 || o.width < 1 || o.height > 4096 || o.width > 4096)
    throw OptionError("image size " + std::to_string(o.height) + "x" + std::to_string(o.width) + " is out of 1..4096");
  if (!(o.val_fraction >= 0 && o.val_fraction < 1) || !(o.test_fraction >= 0 && o.test_fraction < 1))
    throw OptionError("validation and test fractions must be in [0, 1)");
  std::error_code ec;
  if (!fs::is_directory(o.root, ec)) throw IoError(o.root + ": not a folder");
  const bool split_folders = fs::is_directory(o.root + "/train", ec);
  const std::string train_dir = split_folders ? o.root + "/train" : o.root;
  FashionMnist d;
  d.classes = class_names(train_dir);
  if (d.classes.size() < 2) throw IoError(train_dir + ": an image folder needs at least 2 class subfolders");
  Split all = read_split(train_dir, d.classes, o);
  Split rest;
  if (split_folders) {
    const std::string test_dir = o.root + "/test";
    if (!fs::is_directory(test_dir, ec)) throw IoError(o.root + ": has train/ but no test/ folder");
    if (class_names(test_dir) != d.classes) throw IoError(test_dir + ": its class folders differ from train/'s");
    d.test = read_split(test_dir, d.classes, o);
    rest = all;
  } else {
    auto t = split_validation(all, static_cast<int64_t>(std::floor(o.test_fraction * all.size())), o.split_seed);
    rest = t.train;
    d.test = t.val;
  }
  auto v = split_validation(rest, static_cast<int64_t>(std::floor(o.val_fraction * rest.size())), o.split_seed + 1);
  d.train = v.train;
  d.val = v.val;
  if (d.train.size() == 0 || d.test.size() == 0)
    throw IoError(o.root + ": too few images for a training and a test split");
  // Per-channel normalization with the training split's statistics (or the given ones).
  std::vector<double> mean = o.mean, sd = o.std;
  if (mean.empty()) {
    auto m = d.train.images.mean({0, 2, 3});
    auto s = d.train.images.std({0, 2, 3});
    for (int64_t c = 0; c < o.channels; ++c) {
      mean.push_back(m[c].item<double>());
      sd.push_back(std::max(1e-6, s[c].item<double>()));
    }
  }
  if (static_cast<int64_t>(mean.size()) != o.channels || static_cast<int64_t>(sd.size()) != o.channels)
    throw OptionError("give one mean and one standard deviation per channel");
  auto mt = at::tensor(mean, at::kFloat).reshape({1, -1, 1, 1});
  auto st = at::tensor(sd, at::kFloat).reshape({1, -1, 1, 1});
  for (Split* s : {&d.train, &d.val, &d.test})
    if (s->size() > 0) s->images = (s->images - mt) / st;
  // Files are read class by class; a seeded order mixes the classes, as Fashion-MNIST's files do,
  // so that the first N images of a split, or a run of consecutive ones served in a scenario, are
  // not all of one class.
  uint64_t salt = 2;
  for (Split* s : {&d.train, &d.val, &d.test})
    if (s->size() > 0) *s = s->subset(s->size(), o.split_seed + salt++);
  return d;
}

}  // namespace legodnn
