// Image-folder data sets (--data DIR with one subfolder per class): PNG, JPEG and BMP files written
// here with libstb, decoded, converted, resized, split by seed and normalized; damaged files and
// folders that do not fit the model are named in the error.
#include <stb_image_write.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "legodnn/data/data_source.h"
#include "legodnn/data/image_folder.h"
#include "legodnn/util/error.h"
#include "legodnn/util/process.h"
#include "test_util.h"

using namespace legodnn;
namespace fs = std::filesystem;

namespace {

// A w x h RGB image of one colour with a brighter square whose corner depends on `k`.
void write_image(const std::string& path, int w, int h, int k, unsigned char r, unsigned char g, unsigned char b) {
  std::vector<unsigned char> px(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      bool square = x >= k % 4 && x < k % 4 + w / 2 && y >= k / 4 % 4 && y < k / 4 % 4 + h / 2;
      unsigned char* p = &px[(static_cast<size_t>(y) * w + x) * 3];
      p[0] = square ? 255 : r;
      p[1] = square ? 255 : g;
      p[2] = square ? 255 : b;
    }
  const std::string ext = fs::path(path).extension().string();
  int ok = ext == ".png" ? stbi_write_png(path.c_str(), w, h, 3, px.data(), w * 3)
           : ext == ".bmp" ? stbi_write_bmp(path.c_str(), w, h, 3, px.data())
                           : stbi_write_jpg(path.c_str(), w, h, 3, px.data(), 95);
  ASSERT_NE(ok, 0) << path;
}

// Three classes (red, green, blue), `n` images each, of mixed sizes and formats.
void write_folder(const std::string& root, int n) {
  const char* names[] = {"blue_things", "green_things", "red_things"};
  const unsigned char rgb[3][3] = {{0, 0, 200}, {0, 200, 0}, {200, 0, 0}};
  const char* ext[] = {".png", ".jpg", ".bmp"};
  for (int c = 0; c < 3; ++c) {
    fs::create_directories(root + "/" + names[c]);
    for (int i = 0; i < n; ++i)
      write_image(root + "/" + names[c] + "/img" + std::to_string(i) + ext[i % 3], 12 + i % 5, 10 + i % 3, i,
                  rgb[c][0], rgb[c][1], rgb[c][2]);
  }
  std::ofstream(root + "/red_things/notes.txt") << "not an image, skipped";
}

}  // namespace

TEST(ImageFolder, DecodesResizesSplitsBySeedAndNormalizes) {
  legodnn::testing::TempDir d;
  write_folder(d.path + "/set", 20);
  ASSERT_TRUE(is_image_folder(d.path + "/set"));
  EXPECT_FALSE(is_image_folder(d.path));
  ImageFolderOptions o;
  o.root = d.path + "/set";
  o.channels = 3;
  o.height = 8;
  o.width = 8;
  FashionMnist a = load_image_folder(o);
  EXPECT_EQ(a.classes, (std::vector<std::string>{"blue_things", "green_things", "red_things"}));
  EXPECT_EQ(a.test.size(), 6);   // floor(0.1 * 60)
  EXPECT_EQ(a.val.size(), 5);    // floor(0.1 * 54)
  EXPECT_EQ(a.train.size(), 49);
  EXPECT_EQ(a.train.images.sizes(), (std::vector<int64_t>{49, 3, 8, 8}));
  // Normalized with the training split's statistics.
  auto mean = a.train.images.mean({0, 2, 3});
  auto sd = a.train.images.std({0, 2, 3});
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(mean[c].item<double>(), 0.0, 1e-4);
    EXPECT_NEAR(sd[c].item<double>(), 1.0, 1e-3);
  }
  // Labels follow the sorted folder names: a class's test images look like its training images
  // (blue_things = 0 is bluest: its channel 2 is the highest of the three classes).
  auto channel_mean = [](const Split& s, int64_t k, int64_t ch) {
    return s.images.index({s.labels == k}).select(1, ch).mean().item<double>();
  };
  EXPECT_GT(channel_mean(a.train, 0, 2), channel_mean(a.train, 1, 2));
  EXPECT_GT(channel_mean(a.train, 2, 0), channel_mean(a.train, 0, 0));
  auto per_class = [&](const Split& s, int64_t k) { return s.images.index({s.labels == k}).mean(0); };
  for (int64_t k = 0; k < 3; ++k)
    EXPECT_LT((per_class(a.test, k) - per_class(a.train, k)).abs().mean().item<double>(), 0.5) << k;
  // Same seed, same splits; another seed, another test split.
  FashionMnist b = load_image_folder(o);
  EXPECT_TRUE(at::equal(a.test.images, b.test.images));
  EXPECT_TRUE(at::equal(a.train.labels, b.train.labels));
  o.split_seed = 7;
  FashionMnist c = load_image_folder(o);
  EXPECT_FALSE(at::equal(a.test.images, c.test.images));
  // Grey: one channel.
  o.channels = 1;
  EXPECT_EQ(load_image_folder(o).val.images.size(1), 1);
}

TEST(ImageFolder, TrainAndTestFoldersAreKeptApart) {
  legodnn::testing::TempDir d;
  write_folder(d.path + "/set/train", 10);
  write_folder(d.path + "/set/test", 4);
  DataSource s{d.path + "/set", {3, 16, 16}, 3};
  FashionMnist a = load_data(s);
  EXPECT_EQ(a.test.size(), 12);
  EXPECT_EQ(a.val.size() + a.train.size(), 30);
  EXPECT_EQ(load_test_data(s).size(), 12);
  // The model must fit the folder.
  s.classes = 10;
  EXPECT_THROWS_WITH(load_data(s), OptionError, "the folder has 3 classes but the model predicts 10");
  fs::remove_all(d.path + "/set/test/green_things");
  s.classes = 3;
  EXPECT_THROWS_WITH(load_data(s), IoError, "class folders differ from train/'s");
}

TEST(ImageFolder, DamagedFilesAndBadFoldersAreNamed) {
  legodnn::testing::TempDir d;
  write_folder(d.path + "/set", 3);
  ImageFolderOptions o;
  o.root = d.path + "/set";
  o.height = o.width = 8;
  std::ofstream(d.path + "/set/green_things/broken.png") << "this is not a png";
  EXPECT_THROWS_WITH(load_image_folder(o), IoError, "green_things/broken.png: does not decode as an image");
  fs::remove(d.path + "/set/green_things/broken.png");
  fs::create_symlink("/dev/zero", d.path + "/set/green_things/zero.png");
  EXPECT_THROWS_WITH(load_image_folder(o), IoError, "zero.png: not a regular file");
  fs::remove(d.path + "/set/green_things/zero.png");
  o.channels = 2;
  EXPECT_THROWS_WITH(load_image_folder(o), OptionError, "1 (grey) or 3 (RGB)");
  o.channels = 3;
  fs::create_directories(d.path + "/set/empty_class");
  EXPECT_THROWS_WITH(load_image_folder(o), IoError, "empty_class: no PNG, JPEG or BMP images");
  // Fashion-MNIST's files do not fit a 3x64x64 model: the error says what to do.
  legodnn::testing::TempDir f;
  std::ofstream(f.path + "/t10k-images-idx3-ubyte.gz") << "";
  EXPECT_THROWS_WITH(load_test_data(DataSource{f.path, {3, 64, 64}, 10}), OptionError, "give --data an image folder");
}

TEST(ImageFolder, SplitsMixTheClasses) {
  legodnn::testing::TempDir d;
  write_folder(d.path + "/set/train", 12);
  write_folder(d.path + "/set/test", 12);
  ImageFolderOptions o;
  o.root = d.path + "/set";
  o.height = o.width = 8;
  FashionMnist a = load_image_folder(o);
  // Read class by class, served in a seeded order: the first 9 test images are not of one class.
  auto head = a.test.labels.narrow(0, 0, 9);
  EXPECT_GT(std::get<0>(at::_unique(head)).size(0), 1);
  EXPECT_EQ(a.test.labels.bincount().min().item<int64_t>(), 12);  // all of them still there
}

TEST(ImageFolder, TrainShapesAZooModelForTheFolder) {
  legodnn::testing::TempDir d;
  write_folder(d.path + "/set", 10);
  auto train = [&](const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> argv = {LEGODNN_CLI_PATH, "train", "--model", "resnet20", "--width", "0.25",
                                     "--epochs", "1", "--threads", "1", "--data", d.path + "/set",
                                     "--out", d.path + "/" + out};
    argv.insert(argv.end(), extra.begin(), extra.end());
    ProcessOptions o;
    o.stdout_path = d.path + "/out.txt";
    o.stderr_path = d.path + "/err.txt";
    return run_program(argv, o);
  };
  // RGB 16x16 pictures of 3 classes: the model takes what the folder holds.
  ASSERT_EQ(train("m", {"--in-channels", "3", "--input-size", "16", "--classes", "3"}), 0)
      << read_text_file(d.path + "/err.txt");
  EXPECT_NE(read_text_file(d.path + "/out.txt").find("test accuracy"), std::string::npos);
  const auto model = nlohmann::json::parse(read_text_file(d.path + "/m/model.json"));
  EXPECT_EQ(model["graph"]["nodes"][0]["attrs"]["shape"], nlohmann::json::array({3, 16, 16}));
  // The zoo's default of 10 classes does not fit the folder; 2 channels is no image format.
  EXPECT_NE(train("m2", {"--in-channels", "3", "--input-size", "16"}), 0);
  EXPECT_NE(read_text_file(d.path + "/err.txt").find("the folder has 3 classes but the model predicts 10"),
            std::string::npos);
  EXPECT_NE(train("m3", {"--in-channels", "2"}), 0);
  EXPECT_NE(read_text_file(d.path + "/err.txt").find("--in-channels"), std::string::npos);
}
