#pragma once
// Small file helpers: whole-file reads and atomic writes.
#include <cstdint>
#include <string>
#include <vector>

namespace legodnn {

/// Reads a whole file; throws IoError naming the path when it cannot.
std::string read_file(const std::string& path);
/// read_file for a file named by an input: throws IoError naming the path when it is missing, is
/// not a regular file (a link to /dev/zero would be read forever) or holds more than `max_bytes`
/// ("<path>: <what> too large (N bytes, at most <limit>)").
std::string read_regular_file(const std::string& path, std::uintmax_t max_bytes, const std::string& what,
                              const std::string& limit);
/// Writes `data` to a temporary name beside `path`, flushes it, then renames it over `path`,
/// so readers see the old file or the new one, never half of one. Creates parent folders.
void atomic_write_file(const std::string& path, const std::string& data);
/// atomic_write_file for a byte vector.
void atomic_write_file(const std::string& path, const std::vector<char>& data);
/// True if the path exists.
bool path_exists(const std::string& path);
/// `name` (text from an input file, such as a scenario's name) made safe as ONE path component:
/// letters, digits, '-', '_' and '.' are kept, anything else becomes '_', a leading '.' becomes '_'
/// (so no "..", no hidden file), and at most 100 characters; an empty result is `fallback`.
std::string safe_path_component(const std::string& name, const std::string& fallback = "unnamed");
/// Creates `dir` (and its parents) if needed and checks that a file can be written in it, before
/// any long work starts. Throws IoError naming the folder and the reason.
void ensure_writable_dir(const std::string& dir);

}  // namespace legodnn
