// No shell anywhere (DESIGN.md section 16): programs run from an argument vector, plots take their
// names as data, and names from input files never become paths outside the output folder.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "legodnn/scenario/report.h"
#include "legodnn/util/error.h"
#include "legodnn/util/fs.h"
#include "legodnn/util/process.h"
#include "test_util.h"

using namespace legodnn;
using legodnn::testing::TempDir;
namespace fs = std::filesystem;

namespace {

// Text a hostile scenario or model name could hold: shell substitutions, quotes of both kinds,
// a gnuplot pipe, a newline, a path escape.
std::string hostile(const std::string& marker) {
  return "r$(touch " + marker + ")`touch " + marker + "`'\"; < grep x |\n../" + marker;
}

}  // namespace

TEST(Process, ArgumentsReachTheProgramVerbatim) {
  TempDir t;
  const std::string marker = t.path + "/INJECTED";
  const std::string arg = hostile(marker);
  ProcessOptions o;
  o.stdout_path = t.path + "/out.txt";
  ASSERT_EQ(run_program({"printf", "%s", arg}, o), 0);
  EXPECT_EQ(read_text_file(o.stdout_path), arg);
  EXPECT_FALSE(fs::exists(marker));
}

TEST(Process, ExitStatusWorkingFolderAndMissingPrograms) {
  TempDir t;
  EXPECT_EQ(run_program({"true"}), 0);
  EXPECT_EQ(run_program({"false"}), 1);
  ProcessOptions o;
  o.cwd = t.path;
  o.stdout_path = t.path + "/pwd.txt";
  ASSERT_EQ(run_program({"pwd"}, o), 0);
  EXPECT_EQ(fs::canonical(read_text_file(o.stdout_path).substr(0, read_text_file(o.stdout_path).size() - 1)),
            fs::canonical(t.path));
  EXPECT_FALSE(find_program("legodnn-no-such-program").has_value());
  EXPECT_THROWS_WITH(run_program({"legodnn-no-such-program"}), IoError, "legodnn-no-such-program: program not found");
  EXPECT_THROWS_WITH(run_program({}), OptionError, "no program");
  o.cwd = t.path + "/missing-folder";
  EXPECT_THROWS_WITH(run_program({"true"}, o), IoError, "true: cannot start");
}

TEST(Paths, NamesFromFilesBecomeOneSafeComponent) {
  for (const std::string& name : {std::string("../../../x"), std::string(".."), std::string("."), std::string("/etc/passwd"),
                                 std::string("a/b"), hostile("X"), std::string(".hidden"), std::string(500, 'a')}) {
    const std::string c = safe_path_component(name);
    EXPECT_FALSE(c.empty()) << name;
    EXPECT_EQ(c.find('/'), std::string::npos) << name;
    EXPECT_NE(c.front(), '.') << name;
    EXPECT_LE(c.size(), 100u) << name;
    const fs::path p = (fs::path("out/run") / c).lexically_normal();
    EXPECT_EQ(p.parent_path(), fs::path("out/run")) << name << " -> " << c;
  }
  EXPECT_EQ(safe_path_component("default"), "default");
  EXPECT_EQ(safe_path_component("tight-4.models_v2"), "tight-4.models_v2");
  EXPECT_EQ(safe_path_component("", "scenario"), "scenario");
}

TEST(Paths, OutputFolderCheckedWritableBeforeWork) {
  TempDir t;
  ensure_writable_dir(t.path + "/new/nested");
  EXPECT_TRUE(fs::is_directory(t.path + "/new/nested"));
  std::ofstream(t.path + "/file") << "x";
  EXPECT_THROWS_WITH(ensure_writable_dir(t.path + "/file"), IoError, t.path + "/file");
  EXPECT_THROWS_WITH(ensure_writable_dir(t.path + "/file/sub"), IoError, "cannot create the output folder");
}

TEST(Plots, HostileModelNamesAndFoldersAreOnlyData) {
  TempDir t;
  const std::string marker = t.path + "/INJECTED";
  // The output folder itself has quotes and substitutions in its name (relative: gnuplot runs in it).
  const std::string dir = t.path + "/o'ut\"$(touch INJECTED)`touch INJECTED`";
  fs::create_directories(dir);
  const std::string model = hostile(marker);
  std::string quoted = "\"";
  for (char c : model) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  quoted += "\"";
  std::ofstream csv(dir + "/run.csv");
  csv << "system,t_s,kind,model,measured_accuracy,measured_latency_ms,memory_bytes,memory_budget_bytes\n";
  for (int k = 1; k <= 4; ++k)
    csv << "legodnn," << 0.5 * k << ",step," << quoted << "," << 0.8 + 0.01 * k << "," << 1.5 << "," << 2e6 << ",inf\n";
  csv.close();
  auto pngs = plot_runs({{"legodnn", dir + "/run.csv"}}, {model}, dir);
  for (const std::string& m : {marker, dir + "/INJECTED", std::string("INJECTED")})
    EXPECT_FALSE(fs::exists(m)) << "a name reached a shell: " << m;
  const std::string gp = read_text_file(dir + "/plots.gp");
  EXPECT_EQ(gp.find("touch"), std::string::npos) << gp;
  EXPECT_EQ(gp.find(t.path), std::string::npos) << "the script names only files inside its folder:\n" << gp;
  // The series file holds the four steps, and the name (as a label) in its header only.
  const std::string series = read_text_file(dir + "/plot-data/0-0.csv");
  EXPECT_NE(series.find("0.81"), std::string::npos) << series;
  EXPECT_EQ(std::count(series.begin(), series.end(), '\n'), 5) << series;
  if (find_program("gnuplot")) {
    ASSERT_EQ(pngs.size(), 3u) << read_text_file(dir + "/gnuplot.log");
    for (const auto& p : pngs) EXPECT_GT(fs::file_size(p), 1000u) << p;
  }
  // Nothing was written outside the output folder.
  for (const auto& e : fs::directory_iterator(t.path)) EXPECT_EQ(e.path(), fs::path(dir));
}
