// Block repository: manifest round trip, composition from files equal to composition in memory,
// and refusal (naming the file and field) of damaged, missing, mismatched or too-new content.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "legodnn/blocks/prune.h"
#include "legodnn/graph/executor.h"
#include "legodnn/graph/serialize.h"
#include "legodnn/models/zoo.h"
#include "legodnn/repository/repository.h"
#include "legodnn/util/error.h"
#include "legodnn/util/fs.h"
#include "test_util.h"

using namespace legodnn;
using nlohmann::json;
namespace fs = std::filesystem;
using legodnn::testing::TempDir;

namespace {

// A repository written by hand, with what went into it kept for comparison.
struct BuiltRepository {
  Model teacher;
  std::vector<BlockFamily> families;
  Manifest manifest;
};

BuiltRepository build_repository(const std::string& dir) {
  BuiltRepository r;
  ZooOptions o;
  o.width = 0.25;
  r.teacher = Model{build_zoo_model("resnet20", o), {}};
  r.teacher.weights = init_weights(r.teacher.graph, 0);
  auto blocks = detect_blocks(r.teacher.graph);
  r.families = make_descendants(r.teacher, blocks, {0.0, 0.5});

  Manifest& m = r.manifest;
  m.model = "resnet20";
  m.input_shape = {o.in_channels, o.input_size, o.input_size};
  m.classes = o.num_classes;
  m.teacher = r.teacher.graph;
  Weights frame;
  for (const auto& name : frame_nodes(r.teacher.graph, blocks))
    for (const auto& p : param_specs(r.teacher.graph.node(name))) {
      auto key = param_key(name, p.name);
      frame.emplace(key, r.teacher.weights.at(key));
    }
  m.frame_file = "frame.pt";
  m.frame_checksum = write_tensor_file(dir + "/" + m.frame_file, frame);

  auto shapes = r.teacher.graph.infer_shapes();
  for (const auto& f : r.families) {
    BlockRecord b;
    b.id = f.spec.id;
    b.entry = f.spec.entry;
    b.exit = f.spec.exit;
    b.nodes = f.spec.nodes;
    b.entry_shape = shapes[r.teacher.graph.index(b.entry)];
    b.exit_shape = shapes[r.teacher.graph.index(b.exit)];
    for (size_t k = 0; k < f.descendants.size(); ++k) {
      DescendantRecord d;
      d.sparsity = f.sparsities[k];
      d.graph = f.descendants[k].graph;
      d.file = "blocks/b" + std::to_string(b.id) + "_s" + std::to_string(k) + ".pt";
      d.checksum = write_tensor_file(dir + "/" + d.file, f.descendants[k].weights);
      GraphStats st = graph_stats(d.graph);
      d.profile.params = st.params;
      d.profile.macs = st.macs;
      d.profile.bytes = st.bytes;
      d.profile.latency_ms = 0.1 + 0.01 * b.id + 1.0 / 3.0 * static_cast<double>(k);
      d.profile.acc_drop = 0.02 * static_cast<double>(k);
      d.profile.acc_drop_raw = 0.021 * static_cast<double>(k);
      d.profile.acc_drop_se = 1e-3;
      d.profile.mse_pruned = 0.5 / (1 + b.id);
      d.profile.mse_retrained = 0.125 / (1 + b.id);
      b.descendants.push_back(std::move(d));
    }
    m.blocks.push_back(std::move(b));
  }
  m.stages = {{"descendants", {{"seconds", 1.25}}}};
  m.profile = {{"frame_latency_ms", 0.5}, {"machine", "test"}};
  write_manifest(dir, m);
  return r;
}

json read_manifest_json(const std::string& dir) { return json::parse(read_text_file(dir + "/manifest.json")); }

void write_manifest_json(const std::string& dir, const json& j) {
  atomic_write_file(dir + "/manifest.json", j.dump(1));
}

// Graphs compare as node sets: reading a graph from JSON keeps a topological order, not
// necessarily the order it was written in.
std::string dump(const Graph& g) {
  json j = graph_to_json(g);
  std::sort(j["nodes"].begin(), j["nodes"].end(),
            [](const json& a, const json& b) { return a["name"] < b["name"]; });
  return j.dump();
}

void expect_profiles_equal(const DescendantProfile& a, const DescendantProfile& b) {
  EXPECT_EQ(a.params, b.params);
  EXPECT_EQ(a.macs, b.macs);
  EXPECT_EQ(a.bytes, b.bytes);
  EXPECT_EQ(a.latency_ms, b.latency_ms);
  EXPECT_EQ(a.acc_drop, b.acc_drop);
  EXPECT_EQ(a.acc_drop_raw, b.acc_drop_raw);
  EXPECT_EQ(a.acc_drop_se, b.acc_drop_se);
  EXPECT_EQ(a.mse_pruned, b.mse_pruned);
  EXPECT_EQ(a.mse_retrained, b.mse_retrained);
}

}  // namespace

TEST(Repository, RoundTripAndComposeMatchesInMemoryComposition) {
  TempDir tmp;
  BuiltRepository built = build_repository(tmp.path);
  const Manifest& want = built.manifest;
  ASSERT_GE(want.blocks.size(), 3u);

  Repository repo = Repository::open(tmp.path);
  const Manifest& got = repo.manifest();
  EXPECT_EQ(got.format_version, kRepositoryFormat);
  EXPECT_EQ(got.model, want.model);
  EXPECT_EQ(got.input_shape, want.input_shape);
  EXPECT_EQ(got.classes, want.classes);
  EXPECT_EQ(dump(got.teacher), dump(want.teacher));
  EXPECT_EQ(got.frame_file, want.frame_file);
  EXPECT_EQ(got.frame_checksum, want.frame_checksum);
  EXPECT_EQ(got.stages, want.stages);
  EXPECT_EQ(got.profile, want.profile);
  ASSERT_EQ(got.blocks.size(), want.blocks.size());
  for (size_t i = 0; i < want.blocks.size(); ++i) {
    const BlockRecord &a = got.blocks[i], &b = want.blocks[i];
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.entry, b.entry);
    EXPECT_EQ(a.exit, b.exit);
    EXPECT_EQ(a.nodes, b.nodes);
    EXPECT_EQ(a.entry_shape, b.entry_shape);
    EXPECT_EQ(a.exit_shape, b.exit_shape);
    ASSERT_EQ(a.descendants.size(), b.descendants.size());
    for (size_t k = 0; k < b.descendants.size(); ++k) {
      EXPECT_EQ(a.descendants[k].sparsity, b.descendants[k].sparsity);
      EXPECT_EQ(dump(a.descendants[k].graph), dump(b.descendants[k].graph));
      EXPECT_EQ(a.descendants[k].file, b.descendants[k].file);
      EXPECT_EQ(a.descendants[k].checksum, b.descendants[k].checksum);
      expect_profiles_equal(a.descendants[k].profile, b.descendants[k].profile);
    }
  }

  Model d = repo.load_descendant(1, 1);
  for (const auto& [key, t] : built.families[1].descendants[1].weights) {
    ASSERT_TRUE(d.weights.count(key)) << key;
    EXPECT_TRUE(at::equal(d.weights.at(key), t)) << key;
  }
  Weights frame = repo.load_frame();
  for (const auto& [key, t] : frame) EXPECT_TRUE(at::equal(t, built.teacher.weights.at(key))) << key;

  std::vector<int> choice(want.blocks.size());
  for (size_t i = 0; i < choice.size(); ++i) choice[i] = i % 2 == 0 ? 1 : 0;
  Model from_repo = repo.compose(choice);
  Model in_memory = legodnn::compose(built.teacher, built.families, choice);
  EXPECT_EQ(dump(from_repo.graph), dump(in_memory.graph));
  at::InferenceMode guard;
  at::manual_seed(3);
  at::Tensor x = at::randn({2, 1, 32, 32});
  EXPECT_TRUE(at::equal(Executor(from_repo.graph, from_repo.weights).forward(x),
                        Executor(in_memory.graph, in_memory.weights).forward(x)));

  EXPECT_THROWS_WITH(repo.compose({0}), OptionError, "one choice per block");
  choice[0] = 2;
  EXPECT_THROWS_WITH(repo.compose(choice), OptionError, "block 0: choice 2 is out of range 0..1");
  EXPECT_THROWS_WITH(repo.load_descendant(0, 5), OptionError, "descendant 5");
}

TEST(Repository, TruncatedTensorFileIsRefused) {
  TempDir tmp;
  build_repository(tmp.path);
  const std::string path = tmp.path + "/blocks/b1_s1.pt";
  fs::resize_file(path, fs::file_size(path) / 2);
  EXPECT_THROWS_WITH(Repository::open(tmp.path), IoError, "checksum mismatch for " + path);
  EXPECT_THROWS_WITH(Repository::open(tmp.path), IoError, "blocks[1].descendants[1].checksum");

  // With the checksum matching the damage, loading still refuses the file instead of crashing.
  json j = read_manifest_json(tmp.path);
  j["blocks"][1]["descendants"][1]["checksum"] = file_checksum(path);
  write_manifest_json(tmp.path, j);
  Repository repo = Repository::open(tmp.path);
  EXPECT_THROWS_WITH(repo.load_descendant(1, 1), IoError, path + ": damaged tensor file");
  EXPECT_THROWS_WITH(repo.load_descendant(1, 1), IoError, "blocks[1].descendants[1].file");
  std::vector<int> choice(repo.manifest().blocks.size(), 1);
  EXPECT_THROWS_WITH(repo.compose(choice), IoError, path + ": damaged tensor file");
}

TEST(Repository, FileChangedAfterOpenIsRefusedOnLoad) {
  TempDir tmp;
  build_repository(tmp.path);
  Repository repo = Repository::open(tmp.path);
  const std::string path = tmp.path + "/frame.pt";
  fs::resize_file(path, fs::file_size(path) - 1);
  EXPECT_THROWS_WITH(repo.load_frame(), IoError, "frame.checksum: checksum mismatch for " + path);
}

TEST(Repository, WrongChecksumInManifestIsRefusedNamingTheField) {
  TempDir tmp;
  build_repository(tmp.path);
  json j = read_manifest_json(tmp.path);
  j["blocks"][2]["descendants"][0]["checksum"] = "crc32:00000000";
  write_manifest_json(tmp.path, j);
  EXPECT_THROWS_WITH(Repository::open(tmp.path), IoError,
                     "manifest.json: blocks[2].descendants[0].checksum: checksum mismatch");

  j["blocks"][2]["descendants"][0]["checksum"] = "md5:1234";
  write_manifest_json(tmp.path, j);
  EXPECT_THROWS_WITH(Repository::open(tmp.path), IoError, "blocks[2].descendants[0].checksum: expected \"crc32:\"");
}

TEST(Repository, MissingFileIsRefusedNamingTheFileAndField) {
  TempDir tmp;
  build_repository(tmp.path);
  fs::remove(tmp.path + "/blocks/b3_s1.pt");
  EXPECT_THROWS_WITH(Repository::open(tmp.path), IoError,
                     "manifest.json: blocks[3].descendants[1].file: " + tmp.path + "/blocks/b3_s1.pt is missing");
  fs::remove(tmp.path + "/frame.pt");
  EXPECT_THROWS_WITH(Repository::open(tmp.path), IoError, "frame.file: " + tmp.path + "/frame.pt is missing");
}

TEST(Repository, NewerFormatVersionIsRefused) {
  TempDir tmp;
  BuiltRepository built = build_repository(tmp.path);
  built.manifest.format_version = 2;
  write_manifest(tmp.path, built.manifest);
  EXPECT_THROWS_WITH(Repository::open(tmp.path), IoError, "format_version: 2 is newer than the supported 1");

  json j = manifest_to_json(built.manifest);
  j["format_version"] = 1;
  j["format"] = "legodnn-model";
  EXPECT_THROWS_WITH(parse_manifest(j, "m.json"), IoError, "m.json: format: expected \"legodnn-repository\"");
}

TEST(Repository, DescendantThatDoesNotFitItsSlotIsRefused) {
  TempDir tmp;
  BuiltRepository built = build_repository(tmp.path);
  ASSERT_GE(built.manifest.blocks.size(), 5u);
  json good = read_manifest_json(tmp.path);

  json j = good;
  j["blocks"][1]["descendants"][1]["graph"] = j["blocks"][4]["descendants"][1]["graph"];
  EXPECT_THROWS_WITH(parse_manifest(j, "m.json"), IoError,
                     "m.json: blocks[1].descendants[1].graph: does not fit its slot");

  // Same nodes on a doubled input resolution: the graph is valid but maps to another exit shape.
  const BlockRecord& b1 = built.manifest.blocks[1];
  Shape big = b1.entry_shape;
  big[1] *= 2;
  big[2] *= 2;
  j = good;
  j["blocks"][1]["descendants"][1]["graph"]["nodes"][0]["attrs"]["shape"] = big;
  EXPECT_THROWS_WITH(parse_manifest(j, "m.json"), IoError,
                     "blocks[1].descendants[1].graph: does not fit its slot: it maps '" + b1.entry + "' [4,64,64]");
  EXPECT_THROWS_WITH(parse_manifest(j, "m.json"), IoError,
                     "the block maps '" + b1.entry + "' [4,32,32] -> '" + b1.exit + "' [4,32,32]");

  Shape narrow = b1.exit_shape;
  narrow[0] = 1;
  json bad_shape = good;
  bad_shape["blocks"][1]["exit_shape"] = narrow;
  EXPECT_THROWS_WITH(parse_manifest(bad_shape, "m.json"), IoError, "m.json: blocks[1].exit_shape: ");
}

TEST(Repository, MalformedFieldsAreRefusedNamingTheFieldPath) {
  TempDir tmp;
  build_repository(tmp.path);
  const json good = read_manifest_json(tmp.path);
  auto refuses = [&](const std::function<void(json&)>& edit, const std::string& message) {
    json j = good;
    edit(j);
    EXPECT_THROWS_WITH(parse_manifest(j, "m.json"), IoError, "m.json: " + message);
  };
  refuses([](json& j) { j["blocks"][2]["descendants"][1].erase("file"); }, "blocks[2].descendants[1].file: missing");
  refuses([](json& j) { j["blocks"][0]["entry"] = 5; }, "blocks[0].entry: expected a string");
  refuses([](json& j) { j["blocks"][1]["id"] = 7; }, "blocks[1].id: expected 1");
  refuses([](json& j) { j["blocks"][0]["descendants"] = json::array(); }, "blocks[0].descendants: a block needs");
  refuses([](json& j) { j["blocks"][0]["descendants"][0]["sparsity"] = 0.1; }, "blocks[0].descendants[0].sparsity");
  refuses([](json& j) { j["blocks"][0]["descendants"][1]["sparsity"] = 0.0; },
          "blocks[0].descendants[1].sparsity: 0.0 does not exceed");
  refuses([](json& j) { j["blocks"][0]["descendants"][1]["sparsity"] = 1.0; },
          "blocks[0].descendants[1].sparsity: 1.0 is outside [0, 1)");
  refuses([](json& j) { j["blocks"][0]["entry"] = "nope"; }, "blocks[0].entry: 'nope' is no node of the teacher");
  refuses([](json& j) { j["blocks"][1]["nodes"].erase(0); }, "blocks[1].nodes[0]: ");
  refuses([](json& j) { j["blocks"][1]["nodes"].push_back(j["blocks"][2]["nodes"][0]); },
          "blocks[1].nodes: not single-exit");
  json overlap = good;
  overlap["blocks"][2]["nodes"].push_back(overlap["blocks"][1]["exit"]);
  EXPECT_THROWS_WITH(parse_manifest(overlap, "m.json"), IoError,
                     "[" + std::to_string(overlap["blocks"][2]["nodes"].size() - 1) + "]: '" +
                         overlap["blocks"][1]["exit"].get<std::string>() + "' is already in block 1");
  refuses([](json& j) { j["blocks"][0]["entry_shape"] = {1, 2, 3}; }, "blocks[0].entry_shape: [1,2,3] differs");
  refuses([](json& j) { j["frame"]["file"] = "../x.pt"; }, "frame.file: \"../x.pt\" is not a relative path");
  refuses([](json& j) { j["teacher"]["nodes"][1]["inputs"] = {"ghost"}; }, "teacher: node");
  refuses([](json& j) { j.erase("classes"); }, "classes: missing");

  // Profile fields: the writer writes every one (0 before the stage that measures it), so a missing
  // one is an error, never a 0 the optimizer would believe.
  refuses([](json& j) { j["blocks"][0]["descendants"][1]["profile"] = json::object(); },
          "blocks[0].descendants[1].profile.params: missing");
  refuses([](json& j) { j["blocks"][1]["descendants"][0].erase("profile"); }, "blocks[1].descendants[0].profile: missing");
  refuses([](json& j) { j["blocks"][3]["descendants"][1]["profile"].erase("latency_ms"); },
          "blocks[3].descendants[1].profile.latency_ms: missing");
}

TEST(Repository, MissingOrInvalidManifestIsRefusedNamingIt) {
  TempDir tmp;
  EXPECT_THROWS_WITH(Repository::open(tmp.path), IoError, tmp.path + "/manifest.json: file is missing");
  atomic_write_file(tmp.path + "/manifest.json", std::string("{ not json"));
  EXPECT_THROWS_WITH(Repository::open(tmp.path), IoError, tmp.path + "/manifest.json: not valid JSON");
  atomic_write_file(tmp.path + "/manifest.json", std::string("[1, 2]"));
  EXPECT_THROWS_WITH(Repository::open(tmp.path), IoError, tmp.path + "/manifest.json: expected a JSON object");
  EXPECT_THROWS_WITH(file_checksum(tmp.path + "/none.pt"), IoError, "none.pt: file is missing");
}

// Not a check: writes the seed corpus of fuzz/fuzz_manifest.cpp and fuzz/fuzz_tensor_file.cpp
// (scripts/fuzz.sh --seeds) from a repository written as above, unprofiled and profiled.
TEST(FuzzSeeds, RepositoryManifestsAndTensorFiles) {
  const std::string manifests = legodnn::testing::fuzz_seed_dir("manifest");
  if (manifests.empty()) GTEST_SKIP() << "LEGODNN_FUZZ_SEEDS is not set";
  const std::string tensors = legodnn::testing::fuzz_seed_dir("tensor_file");
  TempDir tmp;
  BuiltRepository r = build_repository(tmp.path);
  fs::copy_file(tmp.path + "/manifest.json", manifests + "/unprofiled.json", fs::copy_options::overwrite_existing);
  Manifest m = r.manifest;
  m.stages["profile"] = {{"seconds", 2.5}};
  m.profile = {{"teacher_test_accuracy", 0.91}, {"teacher_val_accuracy", 0.9},
               {"latency", {{"batch", 1}, {"repeats", 5}, {"teacher_ms", 1.2}, {"frame_ms", 0.3}}},
               {"drop_images", 500}, {"contexts", {0, 1}}, {"drop_scale", 1.1},
               {"estimate_check", {{"split", "test"}, {"compositions", json::array()}, {"mean_abs_error", 0.01},
                                   {"max_abs_error", 0.02}}}};
  write_manifest(tmp.path, m);
  fs::copy_file(tmp.path + "/manifest.json", manifests + "/profiled.json", fs::copy_options::overwrite_existing);
  fs::copy_file(tmp.path + "/blocks/b0_s1.pt", tensors + "/block.pt", fs::copy_options::overwrite_existing);
  fs::copy_file(tmp.path + "/blocks/b8_s0.pt", tensors + "/block_last.pt", fs::copy_options::overwrite_existing);
}
