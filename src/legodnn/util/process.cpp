#include "legodnn/util/process.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "legodnn/util/error.h"

extern char** environ;

namespace legodnn {
namespace {

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// posix_spawn file actions, destroyed on every path out.
struct FileActions {
  posix_spawn_file_actions_t a;
  FileActions() { posix_spawn_file_actions_init(&a); }
  ~FileActions() { posix_spawn_file_actions_destroy(&a); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
};

}  // namespace

std::optional<std::string> find_program(const std::string& program) {
  if (program.empty()) return std::nullopt;
  if (program.find('/') != std::string::npos)
    return is_executable_file(program) ? std::optional<std::string>(program) : std::nullopt;
  const char* path = std::getenv("PATH");
  std::string dirs = path && *path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    if (is_executable_file(candidate)) return candidate;
    start = end + 1;
  }
  return std::nullopt;
}

int run_program(const std::vector<std::string>& argv, const ProcessOptions& o) {
  if (argv.empty() || argv[0].empty()) throw OptionError("run_program: no program given");
  const auto exe = find_program(argv[0]);
  if (!exe) throw IoError(argv[0] + ": program not found on PATH");
  FileActions fa;
  // File actions run in order: the streams are opened first, relative to our folder, and only
  // then does the child change to `cwd`.
  const std::string in = o.stdin_path.empty() ? "/dev/null" : o.stdin_path;
  int rc = posix_spawn_file_actions_addopen(&fa.a, 0, in.c_str(), O_RDONLY, 0);
  if (rc == 0 && !o.stdout_path.empty())
    rc = posix_spawn_file_actions_addopen(&fa.a, 1, o.stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (rc == 0 && !o.stderr_path.empty()) {
    // One file for both streams shares one open file description, so neither overwrites the other.
    rc = o.stderr_path == o.stdout_path
             ? posix_spawn_file_actions_adddup2(&fa.a, 1, 2)
             : posix_spawn_file_actions_addopen(&fa.a, 2, o.stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  if (rc == 0 && !o.cwd.empty()) rc = posix_spawn_file_actions_addchdir_np(&fa.a, o.cwd.c_str());
  if (rc != 0) throw IoError(argv[0] + ": cannot prepare the child process (" + std::strerror(rc) + ")");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  rc = posix_spawn(&pid, exe->c_str(), &fa.a, nullptr, args.data(), environ);
  if (rc != 0) throw IoError(argv[0] + ": cannot start " + *exe + " (" + std::strerror(rc) + ")");
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw IoError(argv[0] + ": waiting for the child failed (" + std::strerror(errno) + ")");
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

}  // namespace legodnn
