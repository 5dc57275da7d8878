#pragma once
// Small file helpers: whole-file reads and atomic writes.
#include <string>
#include <vector>

namespace legodnn {

/// Reads a whole file; throws IoError naming the path when it cannot.
std::string read_file(const std::string& path);
/// Writes `data` to a temporary name beside `path`, flushes it, then renames it over `path`,
/// so readers see the old file or the new one, never half of one. Creates parent folders.
void atomic_write_file(const std::string& path, const std::string& data);
/// atomic_write_file for a byte vector.
void atomic_write_file(const std::string& path, const std::vector<char>& data);
/// True if the path exists.
bool path_exists(const std::string& path);

}  // namespace legodnn
