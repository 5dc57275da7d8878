// Slow (labelled "slow", still run in CI): examples/bring_your_own_model.sh end to end at a small
// size, as a user runs it: an image folder made from Fashion-MNIST, a torchvision mobilenet_v2
// trained and traced in Debian's python3-torch, imported, built, baselined, served in a scenario
// next to the shipped resnet20, exported and measured again in plain PyTorch. The accuracies are
// near chance at this size; what is checked is that every step works and the pieces agree.
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "legodnn/util/process.h"
#include "test_util.h"

namespace fs = std::filesystem;
using legodnn::ProcessOptions;
using legodnn::find_program;
using legodnn::run_program;

namespace {

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST(SlowExample, BringYourOwnModelSmallRunServesExportsAndAgrees) {
  const std::string python = "/usr/bin/python3";
  ProcessOptions quiet;
  quiet.stderr_path = "/dev/null";
  if (!find_program(python) || run_program({python, "-c", "import torch, torchvision, PIL"}, quiet) != 0)
    GTEST_SKIP() << "python3-torch, python3-torchvision or python3-pil is not installed";

  legodnn::testing::TempDir tmp;
  const std::string out = tmp.path + "/example";
  ProcessOptions log;
  log.stdout_path = log.stderr_path = tmp.path + "/log.txt";
  // /usr/bin/env sets the script's settings: an argument vector, no shell parses them.
  const std::vector<std::string> argv{
      "/usr/bin/env", "OUT=" + out, std::string("LEGODNN=") + LEGODNN_CLI_PATH, "N_TRAIN=200", "N_TEST=60",
      "EPOCHS=1", "RETRAIN_IMAGES=32", "PROFILE_IMAGES=100", "EVAL_IMAGES=200", "CHECKS=2", "DURATION=2",
      "THREADS=1", "bash", source_dir() + "/examples/bring_your_own_model.sh"};
  const int rc = run_program(argv, log);
  const std::string text = read_text_file(log.stdout_path);
  ASSERT_EQ(rc, 0) << text;

  // Both exports, full and lite-interpreter, measured in PyTorch as legodnn eval measured them.
  EXPECT_EQ(count(text, "agrees with legodnn eval"), 2) << text;
  EXPECT_TRUE(fs::exists(out + "/scaled.pt"));
  EXPECT_TRUE(fs::exists(out + "/scaled.ptl"));

  // The imported model's repository is complete and was profiled on the image folder's test split.
  auto man = nlohmann::json::parse(read_text_file(out + "/repo/manifest.json"));
  EXPECT_TRUE(man["stages"].contains("profile"));
  EXPECT_EQ(man["profile"]["estimate_check"]["images"].get<int>(), 60);
  EXPECT_GE(man["blocks"].size(), 2u);

  // Each system served both models, with no memory violation.
  auto summary = nlohmann::json::parse(read_text_file(out + "/run/summary.json"));
  ASSERT_EQ(summary.size(), 2u);
  std::vector<std::string> systems;
  for (const auto& s : summary) {
    systems.push_back(s["system"].get<std::string>());
    EXPECT_EQ(s["memory_violations"].get<int>(), 0) << s["system"];
    ASSERT_EQ(s["models"].size(), 2u) << s["system"];
    for (const auto& m : s["models"]) EXPECT_GT(m["inferences"].get<int>(), 0) << s["system"] << " " << m["name"];
    EXPECT_EQ(s["models"][0]["name"], "resnet20");
    EXPECT_EQ(s["models"][1]["name"], "mobilenet_v2");
  }
  EXPECT_EQ(systems, (std::vector<std::string>{"legodnn", "model-grained"}));
}
