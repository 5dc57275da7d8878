#pragma once
// Running other programs without a shell (DESIGN.md section 16): an argument vector goes straight
// to exec, so no byte of an argument is ever parsed as shell syntax. Torch-free.
#include <optional>
#include <string>
#include <vector>

namespace legodnn {

/// Where a child process runs and where its standard streams go.
struct ProcessOptions {
  std::string cwd;          ///< working folder of the child; empty = ours
  std::string stdin_path;   ///< file read as standard input; empty = /dev/null
  std::string stdout_path;  ///< file (truncated) that receives standard output; empty = ours
  std::string stderr_path;  ///< file (truncated) for standard error (may be stdout_path); empty = ours
};

/// The full path of `program` found on PATH (or `program` itself when it holds a '/' and is
/// executable); nothing when there is none.
std::optional<std::string> find_program(const std::string& program);

/// Runs argv[0] (looked up on PATH) with the arguments argv[1..] and waits for it. Returns its exit
/// status, or 128 + the signal number when a signal ended it. Throws IoError naming the program when
/// it cannot be started (not found, not executable, a stream file that cannot be opened).
int run_program(const std::vector<std::string>& argv, const ProcessOptions& options = {});

}  // namespace legodnn
