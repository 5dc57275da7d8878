// The manifest formats, selections and reports without tensors: a manifest made from graphs alone
// (descendants pruned by prune_plan) round-trips through JSON, selections are looked up on it and
// the reports are built from it. Torch-free; tests/test_repository.cpp covers the tensor files.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include <nlohmann/json.hpp>

#include "legodnn/baseline/model_grained_manifest.h"
#include "legodnn/blocks/detect.h"
#include "legodnn/blocks/prune_plan.h"
#include "legodnn/models/zoo.h"
#include "legodnn/report/tables.h"
#include "legodnn/repository/manifest.h"
#include "legodnn/repository/selection.h"
#include "legodnn/runtime/from_repository.h"
#include "legodnn/util/error.h"
#include "test_util.h"

using namespace legodnn;
using nlohmann::json;

namespace {

// ResNet-20 at width 0.25, its 9 blocks, descendants at `sparsities` (first channels kept), no files.
Manifest graph_only_manifest(const std::vector<double>& sparsities) {
  ZooOptions o;
  o.width = 0.25;
  Manifest m;
  m.model = "resnet20";
  m.teacher = build_zoo_model("resnet20", o);
  m.input_shape = {o.in_channels, o.input_size, o.input_size};
  m.classes = o.num_classes;
  m.frame_file = "frame.pt";
  m.frame_checksum = "crc32:00000000";
  auto shapes = m.teacher.infer_shapes();
  for (const auto& spec : detect_blocks(m.teacher)) {
    BlockRecord b;
    b.id = spec.id;
    b.entry = spec.entry;
    b.exit = spec.exit;
    b.nodes = spec.nodes;
    b.entry_shape = shapes[m.teacher.index(b.entry)];
    b.exit_shape = shapes[m.teacher.index(b.exit)];
    Graph original = block_graph(m.teacher, spec);
    ChannelAnalysis ca = analyse_channels(original);
    std::vector<std::vector<double>> importance(ca.groups.size());
    for (size_t gi = 0; gi < ca.groups.size(); ++gi)
      for (int64_t c = 0; c < ca.groups[gi].channels; ++c) importance[gi].push_back(-static_cast<double>(c));
    for (size_t k = 0; k < sparsities.size(); ++k) {
      DescendantRecord d;
      d.sparsity = sparsities[k];
      for (auto& p : prune_plan(original, ca, kept_channels(ca, importance, d.sparsity))) d.graph.add(std::move(p.node));
      d.graph.set_output(original.output());
      d.graph.validate();
      d.file = "blocks/b" + std::to_string(b.id) + "_s" + std::to_string(k) + ".pt";
      d.checksum = "crc32:00000000";
      d.profile.bytes = graph_stats(d.graph).bytes;
      d.profile.acc_drop = 0.01 * d.sparsity;
      b.descendants.push_back(std::move(d));
    }
    m.blocks.push_back(std::move(b));
  }
  m.profile["teacher_test_accuracy"] = 0.9;
  return m;
}

}  // namespace

TEST(Manifest, GraphOnlyManifestRoundTripsThroughJson) {
  Manifest m = graph_only_manifest({0.0, 0.4, 0.8});
  ASSERT_EQ(m.blocks.size(), 9u);
  const json j = manifest_to_json(m);
  Manifest back = parse_manifest(j, "manifest.json");
  EXPECT_EQ(manifest_to_json(back).dump(), j.dump());
  EXPECT_LT(graph_stats(back.blocks[1].descendants[2].graph).params, graph_stats(back.blocks[1].descendants[0].graph).params);
  json newer = j;
  newer["format_version"] = kRepositoryFormat + 1;
  EXPECT_THROWS_WITH(parse_manifest(newer, "manifest.json"), IoError, "manifest.json: format_version");
  EXPECT_EQ(descendant_field(2, 1), "blocks[2].descendants[1]");
}

TEST(Selection, LookedUpOnAManifestWithoutTensors) {
  Manifest m = graph_only_manifest({0.0, 0.4, 0.8});
  const size_t n = m.blocks.size();
  EXPECT_EQ(selection_for_sparsities(m, {0.8}, "--select"), std::vector<int>(n, 2));
  EXPECT_EQ(uniform_selection(m, 0.5), std::vector<int>(n, 1));
  EXPECT_NEAR(additive_estimate(m, std::vector<int>(n, 1), "m.json"), 0.9 - 0.004 * static_cast<double>(n), 1e-12);
  EXPECT_THROWS_WITH(selection_for_sparsities(m, {0.3}, "--select"), OptionError,
                     "--select: block 0 has no descendant of sparsity 0.3");
}

TEST(Reports, TablesFromManifestsAlone) {
  Manifest m = graph_only_manifest({0.0, 0.5});
  m.profile = json::object();  // an unprofiled repository: no profile lines
  const std::string text = inspect_text("some/repo", m);
  EXPECT_NE(text.find("repository some/repo: model resnet20"), std::string::npos) << text;
  auto [blocks, profiles] = inspect_csv(m);
  EXPECT_EQ(std::count(blocks.begin(), blocks.end(), '\n'), 10);
  EXPECT_EQ(std::count(profiles.begin(), profiles.end(), '\n'), 19);

  ModelGrainedManifest mg;
  mg.model = "resnet20";
  mg.teacher_accuracy = 0.9;
  mg.variants = {ModelVariant{}, ModelVariant{}};
  mg.variants[0].accuracy = 0.9;
  mg.variants[1].sparsity = 0.5;
  mg.variants[1].accuracy = 0.85;
  const std::string table = baseline_table(mg);
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 3) << table;
  EXPECT_NE(table.find("    0.50      85.00"), std::string::npos) << table;
  EXPECT_EQ(model_variant_field(1), "variants[1]");
}

TEST(Manifest, MissingOrImpossibleProfileFieldsAreRefusedNamingBlockAndField) {
  Manifest m = graph_only_manifest({0.0, 0.4, 0.8});
  m.stages["profile"] = {{"seconds", 1}};
  m.profile["latency"] = {{"frame_ms", 0.25}, {"teacher_ms", 1.5}};
  const json good = manifest_to_json(m);
  ASSERT_NO_THROW(parse_manifest(good, "m.json"));
  auto refuses = [&](const std::function<void(json&)>& edit, const std::string& message) {
    json j = good;
    edit(j);
    EXPECT_THROWS_WITH(parse_manifest(j, "m.json"), IoError, "m.json: " + message);
  };
  auto prof = [](json& j, int b, int d) -> json& { return j["blocks"][b]["descendants"][d]["profile"]; };
  for (const char* key : {"params", "macs", "bytes", "latency_ms", "acc_drop", "acc_drop_raw", "acc_drop_se",
                          "mse_pruned", "mse_retrained"})
    refuses([&](json& j) { prof(j, 2, 1).erase(key); }, std::string("blocks[2].descendants[1].profile.") + key + ": missing");
  refuses([&](json& j) { j["blocks"][4]["descendants"][0].erase("profile"); }, "blocks[4].descendants[0].profile: missing");
  refuses([&](json& j) { prof(j, 1, 2)["acc_drop"] = -0.05; }, "blocks[1].descendants[2].profile.acc_drop: -0.05 is outside [0.0, 1.0]");
  refuses([&](json& j) { prof(j, 1, 2)["acc_drop"] = 5.93; }, "blocks[1].descendants[2].profile.acc_drop: 5.93 is outside [0.0, 1.0]");
  refuses([&](json& j) { prof(j, 1, 2)["acc_drop_profiled"] = -0.1; }, "blocks[1].descendants[2].profile.acc_drop_profiled: -0.1 is outside [0.0, 1.0]");
  refuses([&](json& j) { prof(j, 1, 2)["acc_drop_se"] = -1e-3; }, "blocks[1].descendants[2].profile.acc_drop_se: -0.001 is outside [0.0, 1.0]");
  refuses([&](json& j) { prof(j, 0, 1)["latency_ms"] = -1.0; }, "blocks[0].descendants[1].profile.latency_ms: must be a finite number >= 0, got -1.0");
  refuses([&](json& j) { prof(j, 0, 1)["latency_ms"] = "fast"; }, "blocks[0].descendants[1].profile.latency_ms: expected a number, got string \"fast\"");
  refuses([&](json& j) { prof(j, 0, 1)["bytes"] = -4; }, "blocks[0].descendants[1].profile.bytes: must be at least 0, got -4");
  refuses([&](json& j) { prof(j, 0, 1)["bytes"] = 1.5; }, "blocks[0].descendants[1].profile.bytes: expected an integer, got number 1.5");
  // Manifest-wide: once profiled, the teacher's accuracy and the frame latency must be there.
  refuses([](json& j) { j["profile"].erase("teacher_test_accuracy"); }, "profile.teacher_test_accuracy: missing");
  refuses([](json& j) { j["profile"]["teacher_test_accuracy"] = 1.2; }, "profile.teacher_test_accuracy: 1.2 is outside [0.0, 1.0]");
  refuses([](json& j) { j["profile"].erase("latency"); }, "profile.latency: missing");
  refuses([](json& j) { j["profile"]["latency"].erase("frame_ms"); }, "profile.latency.frame_ms: missing");
  refuses([](json& j) { j["profile"]["latency"]["frame_ms"] = -0.5; }, "profile.latency.frame_ms: must be a finite number >= 0, got -0.5");

  // What may differ: a negative measured (raw) drop is noise, and acc_drop_profiled is absent in
  // repositories from before the accuracy sweep.
  json ok = good;
  prof(ok, 1, 1)["acc_drop_raw"] = -0.002;
  prof(ok, 1, 1).erase("acc_drop_profiled");
  prof(ok, 1, 1)["acc_drop"] = 0.03;
  Manifest back = parse_manifest(ok, "m.json");
  EXPECT_EQ(back.blocks[1].descendants[1].profile.acc_drop_raw, -0.002);
  EXPECT_EQ(back.blocks[1].descendants[1].profile.acc_drop_profiled, 0.03);
  // Not profiled yet: no manifest-wide profile needed.
  json early = good;
  early["stages"].erase("profile");
  early["profile"] = json::object();
  EXPECT_NO_THROW(parse_manifest(early, "m.json"));

  // A value JSON cannot hold (written as null) is refused, not read as 0.
  Manifest inf = m;
  inf.blocks[3].descendants[2].profile.latency_ms = std::numeric_limits<double>::infinity();
  EXPECT_THROWS_WITH(parse_manifest(json::parse(manifest_to_json(inf).dump()), "m.json"), IoError,
                     "m.json: blocks[3].descendants[2].profile.latency_ms: expected a number, got null");
  EXPECT_THROWS_WITH(parse_manifest(manifest_to_json(inf), "m.json"), IoError,
                     "m.json: blocks[3].descendants[2].profile.latency_ms: must be a finite number >= 0, got inf");
}

TEST(Manifest, EstimatesOfAnUnprofiledManifestAreErrorsNotZeros) {
  Manifest m = graph_only_manifest({0.0, 0.4});
  const std::vector<int> sel(m.blocks.size(), 1);
  m.profile = json::object();
  EXPECT_THROWS_WITH(additive_estimate(m, sel, "r/manifest.json"), OptionError,
                     "r/manifest.json: profile.teacher_test_accuracy: missing");
  m.profile["teacher_test_accuracy"] = "0.9";
  EXPECT_THROWS_WITH(additive_estimate(m, sel, "r/manifest.json"), OptionError,
                     "r/manifest.json: profile.teacher_test_accuracy: expected a number in [0, 1], got \"0.9\"");
  m.profile["teacher_test_accuracy"] = 0.9;
  m.stages["profile"] = {{"seconds", 1}};
  EXPECT_THROWS_WITH(choice_spec(m, "r/manifest.json"), OptionError, "r/manifest.json: profile.latency.frame_ms: missing");
  m.profile["latency"] = {{"frame_ms", 0.5}};
  ModelChoiceSpec spec = choice_spec(m, "r/manifest.json");
  EXPECT_EQ(spec.accuracy, 0.9);
  EXPECT_EQ(spec.frame_ms, 0.5);
  // inspect shows what a profile lacks as "?", never as 0 (and does not read past it).
  m.profile = {{"teacher_test_accuracy", 0.9}, {"estimate_check", 3}};
  const std::string text = inspect_text("r", m);
  EXPECT_NE(text.find("teacher test accuracy 90.00%, val ?%; latency teacher ? ms, frame ? ms"), std::string::npos) << text;
}

TEST(Manifest, MissingOrImpossibleBaselineFieldsAreRefusedNamingVariantAndField) {
  ModelGrainedManifest mg;
  mg.model = "resnet20";
  mg.input_shape = {1, 28, 28};
  mg.classes = 10;
  mg.teacher_accuracy = 0.9;
  mg.teacher_fingerprint = "crc32:00000000";
  mg.eval_images = 100;
  mg.settings = json::object();
  for (double s : {0.0, 0.5}) {
    ModelVariant v;
    v.sparsity = s;
    v.dir = s == 0.0 ? "s0" : "s0.5";
    v.checksum = v.graph_checksum = "crc32:00000000";
    v.accuracy = v.pruned_accuracy = 0.9 - s / 10;
    v.latency_ms = 1.0 - s;
    v.bytes = 1000;
    mg.variants.push_back(v);
  }
  const json good = model_grained_to_json(mg);
  ASSERT_NO_THROW(parse_model_grained(good, "baseline.json"));
  auto refuses = [&](const std::function<void(json&)>& edit, const std::string& message) {
    json j = good;
    edit(j);
    EXPECT_THROWS_WITH(parse_model_grained(j, "baseline.json"), IoError, "baseline.json: " + message);
  };
  for (const char* key : {"accuracy", "pruned_accuracy", "latency_ms", "bytes", "params", "macs", "train_seconds"})
    refuses([&](json& j) { j["variants"][1].erase(key); }, std::string("variants[1].") + key + ": missing");
  refuses([](json& j) { j["variants"][1]["latency_ms"] = -0.1; }, "variants[1].latency_ms: -0.1 is outside");
  refuses([](json& j) { j["variants"][1]["accuracy"] = 5.93; }, "variants[1].accuracy: 5.93 is outside [0.0, 1.0]");
  refuses([](json& j) { j["variants"][0]["bytes"] = 0; }, "variants[0].bytes: must be at least 1, got 0");
  refuses([](json& j) { j.erase("teacher_accuracy"); }, "teacher_accuracy: missing");
  ModelGrainedManifest inf = mg;
  inf.variants[1].latency_ms = std::numeric_limits<double>::infinity();
  EXPECT_THROWS_WITH(parse_model_grained(json::parse(model_grained_to_json(inf).dump()), "baseline.json"), IoError,
                     "baseline.json: variants[1].latency_ms: expected a number, got null");
}
