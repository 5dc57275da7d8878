// The legodnn program as a careless or hostile user meets it: bad options are refused before any
// work starts, with one line naming the option; names from input files stay inside the output folder.
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "legodnn/util/process.h"
#include "test_util.h"
#include "tiny_repository.h"

using namespace legodnn;
using legodnn::testing::TempDir;
namespace fs = std::filesystem;

namespace {

struct Result {
  int status = -1;
  std::string out, err;
};

// Runs build/legodnn with `args` in `cwd`, capturing both streams.
Result legodnn_cli(const std::vector<std::string>& args, const std::string& cwd) {
  std::vector<std::string> argv = {LEGODNN_CLI_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessOptions o;
  o.cwd = cwd;
  o.stdout_path = cwd + "/.stdout";
  o.stderr_path = cwd + "/.stderr";
  Result r;
  r.status = run_program(argv, o);
  r.out = read_text_file(o.stdout_path);
  r.err = read_text_file(o.stderr_path);
  fs::remove(o.stdout_path);
  fs::remove(o.stderr_path);
  return r;
}

#define EXPECT_REFUSED(result, text)                                                    \
  do {                                                                                  \
    const Result& r_ = (result);                                                        \
    EXPECT_NE(r_.status, 0) << r_.out << r_.err;                                        \
    EXPECT_NE(r_.err.find(text), std::string::npos) << "stderr was: " << r_.err;        \
  } while (0)

}  // namespace

TEST(Cli, ThreadsWithinOneToFourTimesTheCores) {
  TempDir t;
  EXPECT_REFUSED(legodnn_cli({"eval", "--checkpoint", "x", "--threads", "100000"}, t.path), "--threads");
  EXPECT_REFUSED(legodnn_cli({"eval", "--checkpoint", "x", "--threads", "0"}, t.path), "--threads");
}

TEST(Cli, BudgetsMustBePositiveNumbersOrInf) {
  TempDir t;
  for (const char* bad : {"NaN", "nan", "-5", "0"})
    EXPECT_REFUSED(legodnn_cli({"select", "--repo", "missing", "--memory-mb", bad}, t.path),
                   "--memory-mb: must be a positive number");
  EXPECT_REFUSED(legodnn_cli({"select", "--repo", "missing", "--deadline-ms", "nan"}, t.path),
                 "--deadline-ms: 'nan' is not a number");
  EXPECT_REFUSED(legodnn_cli({"select", "--repo", "missing", "--deadline-ms", "-1"}, t.path),
                 "--deadline-ms: must be a positive number");
  // inf is no budget: the options pass and the missing repository is what fails.
  EXPECT_REFUSED(legodnn_cli({"select", "--repo", "missing", "--memory-mb", "inf", "--deadline-ms", "inf"}, t.path),
                 "missing");
}

TEST(Cli, ProcessWarmUpIsAFiniteNumberOfSeconds) {
  TempDir t;
  for (const char* bad : {"nan", "-1", "61"})
    EXPECT_REFUSED(legodnn_cli({"run", "--scenario", "s.json", "--process-warm-up", bad}, t.path), "--process-warm-up");
}

TEST(Cli, SparsitiesStartAtZeroAndIncreaseBeforeAnyWork) {
  TempDir t;
  const std::string teacher = source_dir() + "/teachers/resnet20";
  auto r = legodnn_cli({"build", "--checkpoint", teacher, "--out", "repo", "--sparsities", "0.5"}, t.path);
  EXPECT_REFUSED(r, "--sparsities: the first sparsity must be 0");
  EXPECT_FALSE(fs::exists(t.path + "/repo")) << "nothing may be written for a refused option";
  EXPECT_REFUSED(legodnn_cli({"baseline", "--teacher", teacher, "--out", "b", "--sparsities", "0,0.6,0.4"}, t.path),
                 "--sparsities: sparsities must increase");
  EXPECT_REFUSED(legodnn_cli({"blocks", "--model", "resnet20", "--sparsities", "0,1.5"}, t.path), "outside [0, 1)");
}

TEST(Cli, BothSystemsInputsCheckedBeforeEitherRuns) {
  TempDir t;
  legodnn::testing::write_tiny_repository(t.path + "/repo", {0.0, 0.5}, 1);
  fs::create_directories(t.path + "/damaged-baseline");
  std::ofstream(t.path + "/damaged-baseline/baseline.json") << "{\"format\": ";
  nlohmann::json sc = {{"name", "both"},
                       {"duration_s", 1},
                       {"models", {{{"name", "tiny"}, {"repo", "repo"}, {"baseline", "damaged-baseline"}}}}};
  std::ofstream(t.path + "/s.json") << sc.dump();
  auto r = legodnn_cli({"run", "--scenario", "s.json", "--system", "both", "--out", "o"}, t.path);
  EXPECT_REFUSED(r, "damaged-baseline/baseline.json");
  EXPECT_EQ(r.out.find("Running scenario"), std::string::npos) << "a system ran before all inputs were checked:\n" << r.out;
}

TEST(Cli, ScenarioNamesNeverLeaveTheOutputFolder) {
  TempDir t;
  const std::string cwd = t.path + "/a/b/c";
  fs::create_directories(cwd);
  for (const std::string name : {"../../../x", "/tmp/abs", "r$(touch X)'\""}) {
    nlohmann::json sc = {{"name", name}, {"duration_s", 1}, {"models", {{{"name", "m"}, {"repo", "missing-repo"}}}}};
    std::ofstream(cwd + "/s.json") << sc.dump();
    auto r = legodnn_cli({"run", "--scenario", "s.json"}, cwd);
    EXPECT_REFUSED(r, "missing-repo");
  }
  EXPECT_FALSE(fs::exists(t.path + "/x"));
  EXPECT_FALSE(fs::exists(cwd + "/X"));
  // Every folder the runs made is one component under out/run.
  int made = 0;
  for (const auto& e : fs::recursive_directory_iterator(cwd + "/out")) {
    if (!e.is_directory() || e.path().parent_path() != fs::path(cwd + "/out/run")) continue;
    ++made;
    EXPECT_EQ(e.path().filename().string().find('/'), std::string::npos);
  }
  EXPECT_EQ(made, 3);
  for (const auto& e : fs::directory_iterator(t.path)) EXPECT_EQ(e.path().filename(), "a");
}

TEST(Cli, ExportWritesAVerifiedTorchScriptFileOfAComposition) {
  TempDir t;
  legodnn::testing::write_tiny_repository(t.path + "/repo", {0.0, 0.5});
  auto r = legodnn_cli({"export", "--repo", "repo", "--select", "0.5", "--out", "out/half.pt"}, t.path);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::is_regular_file(t.path + "/out/half.pt"));
  EXPECT_NE(r.out.find("reloaded: max |difference|"), std::string::npos) << r.out;
  r = legodnn_cli({"export", "--repo", "repo", "--select", "0.5", "--out", "half.ptl", "--mobile"}, t.path);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("lite-interpreter"), std::string::npos) << r.out;
  // Refused before any work: a selection that is not in the repository, or no selection.
  EXPECT_REFUSED(legodnn_cli({"export", "--repo", "repo", "--select", "0.3", "--out", "x.pt"}, t.path), "--select");
  EXPECT_REFUSED(legodnn_cli({"export", "--repo", "repo", "--out", "x.pt"}, t.path), "needs --select");
  EXPECT_REFUSED(legodnn_cli({"export", "--repo", "missing", "--select", "0", "--out", "x.pt"}, t.path), "missing");
  EXPECT_FALSE(fs::exists(t.path + "/x.pt"));
}
