// Graph structure: validation errors name the node; shapes agree with the executor; JSON and
// tensor serialization round-trip bit-exactly; conv + batch-norm folding is exact.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <torch/csrc/jit/serialization/pickle.h>

#include "legodnn/graph/executor.h"
#include "legodnn/graph/fold.h"
#include "legodnn/graph/serialize.h"
#include "legodnn/models/builder.h"
#include "legodnn/models/zoo.h"
#include "legodnn/util/error.h"
#include "legodnn/util/format.h"
#include "legodnn/util/fs.h"
#include "legodnn/util/process.h"
#include "legodnn/util/zip.h"
#include "test_util.h"
#include "tiny_graph.h"

using namespace legodnn;
using legodnn::testing::tiny_graph_json;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string temp_dir() {
  std::string tmpl = (fs::temp_directory_path() / "legodnn-test-XXXXXX").string();
  return ::mkdtemp(tmpl.data());
}

// Randomizes batch-norm statistics so folding and serialization are exercised on non-trivial values.
void randomize(Weights& w, uint64_t seed) {
  at::manual_seed(seed);
  at::NoGradGuard ng;
  for (auto& [k, t] : w) {
    if (k.find("running_var") != std::string::npos) t.copy_(at::rand_like(t) + 0.5);
    else if (k.find("running_mean") != std::string::npos || k.find(".bias") != std::string::npos)
      t.copy_(at::randn_like(t) * 0.3);
    else if (t.dim() == 1) t.copy_(at::rand_like(t) + 0.5);
  }
}

}  // namespace

TEST(Graph, WeightsOfTheWrongShapeAreRejected) {
  Graph g = graph_from_json(tiny_graph_json(), "tiny.json");
  Weights w = init_weights(g, 0);
  w["c.weight"] = at::zeros({4, 3, 5, 5});
  EXPECT_THROWS_WITH(check_weights(g, w), GraphError, "tensor 'c.weight' has shape [4,3,5,5] but the node needs [4,3,3,3]");
  w.erase("c.weight");
  EXPECT_THROWS_WITH(Executor(g, w), GraphError, "tensor 'c.weight' is missing");
}

TEST(Graph, InferredShapesMatchExecutedShapesForEveryZooModel) {
  for (const auto& name : zoo_names()) {
    if (name == "resnet56" || name == "vgg16_bn" || name == "resnet18") continue;  // same code paths
    ZooOptions o;
    o.width = 0.25;
    Graph g = build_zoo_model(name, o);
    Weights w = init_weights(g, 0);
    std::vector<std::string> all;
    for (const auto& n : g.nodes()) all.push_back(n.name);
    at::InferenceMode guard;
    auto outs = Executor(g, w).run_taps(at::randn({2, 1, 32, 32}), all);
    auto shapes = g.infer_shapes();
    for (size_t k = 0; k < all.size(); ++k) {
      Shape got(outs[k].sizes().begin() + 1, outs[k].sizes().end());
      ASSERT_EQ(got, shapes[k]) << name << " node " << all[k];
    }
  }
}

TEST(Serialize, GraphAndTensorsRoundTripBitExactly) {
  ZooOptions o;
  o.width = 0.5;
  Model m{build_zoo_model("mobilenetv2", o), {}};
  m.weights = init_weights(m.graph, 3);
  randomize(m.weights, 3);
  std::string dir = temp_dir();
  save_model(dir, m, {{"note", "round trip"}});
  json meta;
  Model back = load_model(dir, &meta);
  EXPECT_EQ(meta["note"], "round trip");
  EXPECT_EQ(graph_to_json(back.graph).dump(), graph_to_json(m.graph).dump());
  ASSERT_EQ(back.weights.size(), m.weights.size());
  for (const auto& [k, t] : m.weights) {
    const auto& u = back.weights.at(k);
    ASSERT_EQ(u.sizes(), t.sizes()) << k;
    // Bit-exact: compare the raw bytes, not values within a tolerance.
    EXPECT_EQ(std::memcmp(u.contiguous().data_ptr(), t.contiguous().data_ptr(), t.numel() * 4), 0) << k;
    EXPECT_EQ(u.requires_grad(), t.requires_grad()) << k;
  }
  fs::remove_all(dir);
}

TEST(Serialize, PythonTorchLoadOpensTheTensorFile) {
  // Debian's python3-torch lives with the system interpreter, not a pyenv one.
  const char* py = "/usr/bin/python3";
  ProcessOptions quiet;
  quiet.stderr_path = "/dev/null";
  if (!find_program(py) || run_program({py, "-c", "import torch"}, quiet) != 0)
    GTEST_SKIP() << "python3-torch is not installed";
  Graph g = graph_from_json(tiny_graph_json(), "tiny.json");
  Weights w = init_weights(g, 7);
  std::string dir = temp_dir();
  save_tensors(dir + "/w.pt", w);
  std::string script = dir + "/check.py";
  std::ofstream(script) << "import sys, torch\n"
                           "d = torch.load(sys.argv[1])\n"
                           "assert sorted(d) == ['c.weight'], sorted(d)\n"
                           "t = d['c.weight']\n"
                           "assert tuple(t.shape) == (4, 3, 3, 3), t.shape\n"
                           "print(repr(float(t.double().sum())))\n";
  std::string out_file = dir + "/out.txt";
  ProcessOptions to_file;
  to_file.stdout_path = out_file;
  ASSERT_EQ(run_program({py, script, dir + "/w.pt"}, to_file), 0);
  double py_sum = std::stod(read_text_file(out_file));
  EXPECT_DOUBLE_EQ(py_sum, w.at("c.weight").to(at::kDouble).sum().item<double>());
  fs::remove_all(dir);
}

TEST(Serialize, DamagedOrMissingFilesNameTheFile) {
  std::string dir = temp_dir();
  EXPECT_THROWS_WITH(load_model(dir), IoError, dir + "/model.json: file is missing");
  Graph g = graph_from_json(tiny_graph_json(), "tiny.json");
  Model m{g, init_weights(g, 0)};
  save_model(dir, m, json::object());
  auto size = fs::file_size(dir + "/weights.pt");
  fs::resize_file(dir + "/weights.pt", size / 2);
  EXPECT_THROWS_WITH(load_model(dir), IoError, dir + "/weights.pt: damaged tensor file");
  std::ofstream(dir + "/model.json") << "{\"format\": \"legodnn-model\", \"version\": 99}";
  EXPECT_THROWS_WITH(load_model(dir), IoError, "model.json: field 'version' is 99");
  std::ofstream(dir + "/model.json") << "{not json";
  EXPECT_THROWS_WITH(load_model(dir), IoError, "model.json: not valid JSON");
  fs::remove_all(dir);
}

TEST(Serialize, NonFiniteWeightsAndNonRegularFilesAreRefused) {
  std::string dir = temp_dir();
  Graph g = graph_from_json(tiny_graph_json(), "tiny.json");
  Model m{g, init_weights(g, 0)};
  for (double bad : {std::nan(""), HUGE_VAL}) {
    Model b = m;
    b.weights["c.weight"] = m.weights.at("c.weight").clone();
    b.weights["c.weight"].view(-1)[5] = bad;
    save_model(dir, b, json::object());
    EXPECT_THROWS_WITH(load_model(dir), IoError, dir + "/weights.pt: tensor 'c.weight' holds NaN or infinite values");
  }
  // A fuzz_tensor_file finding: a pickle that rebuilds a quantized tensor loaded, and the first
  // sum over it threw from ATen. Only dense float32 tensors are weights.
  const at::Tensor w = m.weights.at("c.weight");
  const std::vector<std::pair<at::Tensor, std::string>> foreign = {
      {w.to(at::kDouble), "is Double, not a dense float32 CPU tensor"},
      {at::quantize_per_tensor(w, 0.1, 0, at::kQUInt8), "is QUInt8 (quantized), not a dense float32 CPU tensor"}};
  for (const auto& [t, why] : foreign) {
    Weights bad = m.weights;
    bad["c.weight"] = t;
    save_tensors(dir + "/weights.pt", bad);
    EXPECT_THROWS_WITH(load_tensors(dir + "/weights.pt"), IoError, dir + "/weights.pt: tensor 'c.weight' " + why);
  }
  // A link to a device would be read forever: refused before reading.
  fs::remove(dir + "/weights.pt");
  fs::create_symlink("/dev/zero", dir + "/weights.pt");
  EXPECT_THROWS_WITH(load_model(dir), IoError, dir + "/weights.pt: not a regular file");
  fs::remove_all(dir);
}

// LibTorch's own zip reader takes a flipped bit inside a record without a word (measured on
// Debian's 1.13); load_tensors checks every record's CRC-32 and names the file and the record.
TEST(Serialize, AFlippedBitInATensorRecordIsRefusedNamingFileAndRecord) {
  std::string dir = temp_dir();
  Graph g = graph_from_json(tiny_graph_json(), "tiny.json");
  Model m{g, init_weights(g, 0)};
  save_model(dir, m, json::object());
  const std::string path = dir + "/weights.pt";
  std::string bytes = read_file(path);
  // The record holding the conv's weight: the largest one.
  const auto records = zip_records(bytes, path);
  const ZipRecord* big = &records.at(0);
  for (const auto& r : records)
    if (r.size > big->size) big = &r;
  ASSERT_GE(big->size, 4u * 4 * 3 * 3 * 3);
  bytes[big->data_offset + big->size / 2] ^= 0x04;
  EXPECT_NO_THROW(torch::jit::pickle_load(std::vector<char>(bytes.begin(), bytes.end())));
  atomic_write_file(path, bytes);
  EXPECT_THROWS_WITH(load_model(dir), IoError, path + ": damaged tensor file: record '" + big->name + "': CRC-32 mismatch");
  fs::remove_all(dir);
}

// A fuzz_tensor_file finding (first seen in CI; CRCs recomputed): a tensor whose sizes reach past its storage
// (here an empty one) loaded, and the NaN check read through a null pointer (SEGV in ATen).
TEST(Serialize, ATensorReachingPastItsStorageIsRefusedBeforeItIsRead) {
  const std::string path = source_dir() + "/tests/fixtures/tensor-past-storage.pt";
  EXPECT_THROWS_WITH(load_tensors(path), IoError, path + ": tensor 's1.b0.bn1.bias' (sizes [2]) reaches past its storage of 0 bytes");
}

// A fuzz_tensor_file finding: the zip end record's total entry count (8) was lower than its
// count on this disk (12), so the CRC and pickle checks saw 8 records and LibTorch's miniz all 12,
// data.pkl among them unchecked (its BINUNICODE claimed 2.3 GB: bad_alloc). Refused at the zip.
TEST(Serialize, AZipWhoseEntryCountsDisagreeIsRefusedBeforeTorchReadsIt) {
  const std::string path = source_dir() + "/tests/fixtures/tensor-entry-counts-differ.pt";
  EXPECT_THROWS_WITH(load_tensors(path), IoError,
                     path + ": damaged tensor file (zip archive: the end record's two entry counts differ (12 and 8))");
}

// fuzz_tensor_file's finding: a BINUNICODE in data.pkl claiming 0xFFFFFFFE bytes (CRCs sound) made
// LibTorch 1.13 reserve 4 GiB before failing; load_tensors walks the pickle first and names the byte.
TEST(Serialize, APickleLengthBeyondTheRecordIsRefusedBeforeTorchReadsIt) {
  const std::string path = source_dir() + "/tests/fixtures/tensor-unpickler-4gib.pt";
  EXPECT_THROWS_WITH(load_tensors(path), IoError,
                     path + ": damaged tensor file: record 'archive/data.pkl': opcode BINUNICODE at byte 573 claims "
                            "4294967294 bytes, the record has 280 left");
  // The same damage made to a file our writer wrote: the first string's length, CRCs recomputed.
  std::string dir = temp_dir();
  Graph g = graph_from_json(tiny_graph_json(), "tiny.json");
  save_tensors(dir + "/w.pt", init_weights(g, 0));
  std::string bytes = read_file(dir + "/w.pt");
  for (const auto& r : zip_records(bytes, "w.pt")) {
    if (r.name.find("data.pkl") == std::string::npos) continue;
    const size_t x = bytes.find('X', r.data_offset);  // BINUNICODE: 'X', then a 4-byte length
    ASSERT_LT(x + 5, r.data_offset + r.size);
    for (int k = 1; k <= 4; ++k) bytes[x + k] = '\xff';
    Crc32 crc;
    crc.update(bytes.data() + r.data_offset, static_cast<size_t>(r.size));
    for (int k = 0; k < 4; ++k) bytes[r.directory_offset + 16 + k] = static_cast<char>((crc.value() >> (8 * k)) & 0xff);
  }
  atomic_write_file(dir + "/w.pt", bytes);
  EXPECT_THROWS_WITH(load_tensors(dir + "/w.pt"), IoError, "/w.pt: damaged tensor file: record 'archive/data.pkl': opcode BINUNICODE at byte ");
  EXPECT_THROWS_WITH(load_tensors(dir + "/w.pt"), IoError, " claims 4294967295 bytes, the record has ");
  fs::remove_all(dir);
}

TEST(Fold, FoldedConvBatchNormMatchesUnfoldedPair) {
  for (const auto& name : {"resnet20", "mobilenetv2", "vgg11_bn"}) {
    ZooOptions o;
    o.width = 0.5;
    Model m{build_zoo_model(name, o), {}};
    m.weights = init_weights(m.graph, 5);
    randomize(m.weights, 5);
    Model f = fold_batch_norm(m);
    int bns = 0;
    for (const auto& n : f.graph.nodes()) bns += n.op == Op::BatchNorm2d;
    EXPECT_EQ(bns, 0) << name;
    at::InferenceMode guard;
    auto x = at::randn({3, 1, 32, 32});
    auto a = Executor(m.graph, m.weights).forward(x);
    auto b = Executor(f.graph, f.weights).forward(x);
    EXPECT_LT((a - b).abs().max().item<double>(), 1e-5 * std::max(1.0, a.abs().max().item<double>()))
        << name;
  }
}

TEST(Zoo, EveryModelTakesInputChannelsSizeAndClasses) {
  ZooOptions o;
  o.in_channels = 3;
  o.input_size = 64;
  o.num_classes = 7;
  o.width = 0.25;
  at::InferenceMode guard;
  for (const auto& name : zoo_names()) {
    Graph g = build_zoo_model(name, o);
    auto y = Executor(g, init_weights(g, 0)).forward(at::randn({2, 3, 64, 64}));
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 7})) << name;
  }
}
