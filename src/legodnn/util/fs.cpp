#include "legodnn/util/fs.h"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "legodnn/util/error.h"

namespace legodnn {
namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open (" + std::strerror(errno) + ")");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw IoError(path + ": read failed");
  return ss.str();
}

std::string read_regular_file(const std::string& path, std::uintmax_t max_bytes, const std::string& what,
                              const std::string& limit) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw IoError(path + ": file is missing");
  if (!fs::is_regular_file(path, ec)) throw IoError(path + ": not a regular file");
  const std::uintmax_t size = fs::file_size(path, ec);
  if (ec || size > max_bytes)
    throw IoError(path + ": " + what + " too large (" + std::to_string(size) + " bytes, at most " + limit + ")");
  return read_file(path);
}

static void write_all(const std::string& path, const char* data, size_t size) {
  fs::path p(path);
  if (p.has_parent_path()) fs::create_directories(p.parent_path());
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw IoError(tmp + ": cannot create (" + std::strerror(errno) + ")");
  bool ok = std::fwrite(data, 1, size, f) == size;
  ok = std::fflush(f) == 0 && ok;
  ok = ::fsync(fileno(f)) == 0 && ok;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    throw IoError(path + ": write failed (" + std::strerror(errno) + ")");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw IoError(path + ": cannot rename the temporary file into place (" + std::strerror(errno) + ")");
  }
}

void atomic_write_file(const std::string& path, const std::string& data) {
  write_all(path, data.data(), data.size());
}
void atomic_write_file(const std::string& path, const std::vector<char>& data) {
  write_all(path, data.data(), data.size());
}
bool path_exists(const std::string& path) { return fs::exists(path); }

std::string safe_path_component(const std::string& name, const std::string& fallback) {
  std::string o;
  for (unsigned char c : name) {
    if (o.size() >= 100) break;
    bool keep = std::isalnum(c) || c == '-' || c == '_' || (c == '.' && !o.empty());
    o += keep ? static_cast<char>(c) : '_';
  }
  return o.empty() ? fallback : o;
}

void ensure_writable_dir(const std::string& dir) {
  if (dir.empty()) throw IoError("output folder: empty path");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw IoError(dir + ": cannot create the output folder (" + ec.message() + ")");
  if (!fs::is_directory(dir)) throw IoError(dir + ": the output path exists and is not a folder");
  const std::string probe = (fs::path(dir) / (".write-check.tmp." + std::to_string(::getpid()))).string();
  FILE* f = std::fopen(probe.c_str(), "wb");
  if (!f) throw IoError(dir + ": the output folder is not writable (" + std::strerror(errno) + ")");
  std::fclose(f);
  std::remove(probe.c_str());
}

}  // namespace legodnn
