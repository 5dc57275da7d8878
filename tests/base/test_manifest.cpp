// The manifest formats, selections and reports without tensors: a manifest made from graphs alone
// (descendants pruned by prune_plan) round-trips through JSON, selections are looked up on it and
// the reports are built from it. Torch-free; tests/test_repository.cpp covers the tensor files.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "legodnn/baseline/model_grained_manifest.h"
#include "legodnn/blocks/detect.h"
#include "legodnn/blocks/prune_plan.h"
#include "legodnn/models/zoo.h"
#include "legodnn/report/tables.h"
#include "legodnn/repository/manifest.h"
#include "legodnn/repository/selection.h"
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
  EXPECT_NEAR(additive_estimate(m, std::vector<int>(n, 1)), 0.9 - 0.004 * static_cast<double>(n), 1e-12);
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
