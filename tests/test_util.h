#pragma once
// Helpers shared by the tests.
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

/// Asserts that `stmt` throws an exception of type `type` whose message contains `substring`.
#define EXPECT_THROWS_WITH(stmt, type, substring)                                          \
  do {                                                                                     \
    try {                                                                                  \
      stmt;                                                                                \
      ADD_FAILURE() << "expected " #type " containing '" << (substring) << "'";            \
    } catch (const type& e) {                                                              \
      EXPECT_NE(std::string(e.what()).find(substring), std::string::npos)                  \
          << "message was: " << e.what();                                                  \
    }                                                                                      \
  } while (0)

/// The source tree (teachers, fixtures), set by CTest; falls back to the current directory.
inline std::string source_dir() {
  const char* d = std::getenv("LEGODNN_SOURCE_DIR");
  return d ? d : ".";
}

#include <fstream>
#include <sstream>
/// Whole text file (tests only).
inline std::string read_text_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace legodnn::testing {
/// A temporary folder, removed with everything in it at scope exit.
struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "legodnn-test-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};
}  // namespace legodnn::testing

namespace legodnn::testing {
/// Where the tests that write the fuzz targets' seed corpus (fuzz/seeds/<target>/) put a
/// target's seeds: "" (and the test skips) unless LEGODNN_FUZZ_SEEDS names the seeds folder.
inline std::string fuzz_seed_dir(const std::string& target) {
  const char* d = std::getenv("LEGODNN_FUZZ_SEEDS");
  if (!d || !*d) return "";
  const std::string dir = std::string(d) + "/" + target;
  std::filesystem::create_directories(dir);
  return dir;
}
}  // namespace legodnn::testing
