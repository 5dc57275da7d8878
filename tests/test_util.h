#pragma once
// Helpers shared by the tests.
#include <cstdlib>
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
