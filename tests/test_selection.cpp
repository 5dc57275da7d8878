// Selections named by sparsity, looked up on a manifest, and the reports built from them.
#include <nlohmann/json.hpp>

#include "legodnn/report/tables.h"
#include "legodnn/repository/selection.h"
#include "legodnn/util/error.h"
#include "test_util.h"
#include "tiny_repository.h"

using namespace legodnn;
using legodnn::testing::TempDir;

TEST(Selection, SparsitiesMapOntoDescendants) {
  TempDir t;
  Manifest m = legodnn::testing::write_tiny_repository(t.path, {0.0, 0.4, 0.8});
  m.profile["teacher_test_accuracy"] = 0.9;
  for (auto& b : m.blocks)
    for (auto& d : b.descendants) d.profile.acc_drop = 0.01 * d.sparsity;
  const size_t n = m.blocks.size();
  EXPECT_EQ(selection_for_sparsities(m, {0.4}, "--select"), std::vector<int>(n, 1));
  std::vector<double> each(n, 0.0);
  each[2] = 0.8;
  auto sel = selection_for_sparsities(m, each, "--select");
  EXPECT_EQ(sel[2], 2);
  EXPECT_EQ(selection_sparsities(m, sel), each);
  EXPECT_NEAR(additive_estimate(m, sel, "m.json"), 0.9 - 0.008, 1e-12);
  EXPECT_THROWS_WITH(selection_for_sparsities(m, {0.4, 0.4}, "--select"), OptionError,
                     "--select: 2 sparsities for " + std::to_string(n) + " blocks");
  EXPECT_THROWS_WITH(selection_for_sparsities(m, {0.5}, "--select"), OptionError,
                     "--select: block 0 has no descendant of sparsity 0.5");
  EXPECT_THROWS_WITH(additive_estimate(m, {0}, "m.json"), OptionError, "selection of 1 blocks");
  // Drops summing past the teacher's accuracy estimate 0, not a negative accuracy.
  for (auto& b : m.blocks) b.descendants[2].profile.acc_drop = 0.5;
  EXPECT_EQ(additive_estimate(m, std::vector<int>(n, 2), "m.json"), 0.0);
  EXPECT_EQ(nearest_descendant(m, 0, 0.5), 1);
  EXPECT_EQ(nearest_descendant(m, 0, 0.7), 2);
  EXPECT_EQ(uniform_selection(m, 0.1), std::vector<int>(n, 0));
}

TEST(Reports, InspectTablesListEveryDescendant) {
  TempDir t;
  legodnn::testing::write_tiny_repository(t.path, {0.0, 0.5});
  Repository repo = Repository::open(t.path);
  const std::string text = inspect_text(repo.dir(), repo.manifest());
  EXPECT_NE(text.find("model resnet20"), std::string::npos) << text;
  auto [blocks, profiles] = inspect_csv(repo.manifest());
  const size_t n = repo.manifest().blocks.size();
  EXPECT_EQ(static_cast<size_t>(std::count(blocks.begin(), blocks.end(), '\n')), n + 1);
  EXPECT_EQ(static_cast<size_t>(std::count(profiles.begin(), profiles.end(), '\n')), 2 * n + 1);
  EXPECT_EQ(blocks.rfind("block,convs,entry,exit,entry_shape,exit_shape,first_node\n", 0), 0u);
  EXPECT_NE(blocks.find(",\"[4,32,32]\","), std::string::npos) << blocks;
}
