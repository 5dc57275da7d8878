#pragma once
// Shared pieces of the on-disk formats (graph, model, repository, model-grained set, scenario):
// JSON files read with size and depth limits, field errors that name "file: field: what",
// crc32 checksums, one path-containment policy, shape strings. Torch-free.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace legodnn {

// ---------------------------------------------------------------------------------------------
// JSON files

/// What read_json_file accepts.
struct JsonLimits {
  std::uintmax_t max_bytes = std::uintmax_t{256} << 20;  ///< 256 MiB
  int max_depth = 64;                                   ///< nesting levels of arrays and objects
};

/// Reads and parses a JSON file. Throws IoError naming the file when it cannot be read, is larger
/// than `limits.max_bytes`, nests deeper than `limits.max_depth` (checked while parsing, so a
/// deeply nested file gives this error, not a stack overflow) or is not valid JSON
/// ("<path>: not valid JSON (...)").
nlohmann::json read_json_file(const std::string& path, const JsonLimits& limits = {});
/// Parses JSON text under the same limits; errors start with `source`.
nlohmann::json parse_json_text(const std::string& text, const std::string& source, const JsonLimits& limits = {});

// ---------------------------------------------------------------------------------------------
// Checksums: "crc32:" and 8 lower-case hex digits

/// A running crc32 (zlib's polynomial); any size of input.
class Crc32 {
 public:
  Crc32& update(const void* data, std::size_t size);
  Crc32& update(const std::string& s) { return update(s.data(), s.size()); }
  std::uint32_t value() const { return crc_; }
  /// The checksum string of the bytes so far.
  std::string checksum() const;

 private:
  std::uint32_t crc_ = 0;
};

/// "crc32:%08x".
std::string format_checksum(std::uint32_t crc);
/// The crc of a well-formed checksum string; false (and `crc` untouched) for anything else.
bool parse_checksum(const std::string& s, std::uint32_t& crc);
/// True for a well-formed checksum string.
bool is_checksum(const std::string& s);
/// The checksum of a file's bytes; throws IoError naming the file.
std::string file_checksum(const std::string& path);

// ---------------------------------------------------------------------------------------------
// Paths a format names inside its folder

/// Why `rel` is not a path every format accepts inside its folder, or "" when it is: it must be
/// relative (not absolute), non-empty, with no empty, "." or ".." component and no NUL, so that
/// folder + "/" + rel names a file inside the folder.
std::string path_containment_problem(const std::string& rel);
/// folder + "/" + rel; throws IoError when `rel` breaks the policy above.
std::string resolve_inside(const std::string& folder, const std::string& rel);

// ---------------------------------------------------------------------------------------------
// Text

/// "[1,28,28]".
std::string shape_string(const std::vector<std::int64_t>& shape);
/// The shortest text that reads back as the same number, as JSON writes it ("0.2", "1.0", "1e-05").
std::string number_string(double x);

// ---------------------------------------------------------------------------------------------
// Fields

/// JSON value kinds a field may be required to have.
enum class JsonKind { String, Integer, Number, Boolean, Array, Object };

/// Reads fields of a document read from `source`. Every error is an IoError
/// "<source>: <field>: <what>", with the dotted field path ("blocks[2].descendants[0].file").
class FieldReader {
 public:
  explicit FieldReader(std::string source) : source_(std::move(source)) {}
  const std::string& source() const { return source_; }

  [[noreturn]] void fail(const std::string& field, const std::string& what) const;

  /// "parent.key" ("key" when parent is empty) and "parent[k]".
  static std::string join(const std::string& parent, const std::string& key);
  static std::string index(const std::string& parent, std::size_t k);

  /// A value of any kind; missing fails.
  const nlohmann::json& get(const nlohmann::json& obj, const std::string& parent, const std::string& key) const;
  /// A value of the given kind; missing or another kind fails.
  const nlohmann::json& get(const nlohmann::json& obj, const std::string& parent, const std::string& key,
                            JsonKind kind) const;
  /// nullptr when absent; another kind still fails.
  const nlohmann::json* find(const nlohmann::json& obj, const std::string& parent, const std::string& key,
                             JsonKind kind) const;
  /// Fails unless `v` (field `field`) is of the given kind: "expected a string, got number 3".
  void check(const nlohmann::json& v, const std::string& field, JsonKind kind) const;

  std::string string(const nlohmann::json& obj, const std::string& parent, const std::string& key) const;
  /// An integer >= min.
  std::int64_t integer(const nlohmann::json& obj, const std::string& parent, const std::string& key,
                       std::int64_t min) const;
  /// A number in [min, max].
  double number(const nlohmann::json& obj, const std::string& parent, const std::string& key, double min,
                double max) const;
  const nlohmann::json& object(const nlohmann::json& obj, const std::string& parent, const std::string& key) const;
  /// A non-empty list of positive integers.
  std::vector<std::int64_t> shape(const nlohmann::json& obj, const std::string& parent, const std::string& key) const;
  /// A well-formed checksum string.
  std::string checksum(const nlohmann::json& obj, const std::string& parent, const std::string& key) const;
  /// A path inside the document's folder (path_containment_problem); `folder_name` says which
  /// folder in the message ("the repository").
  std::string relative_path(const nlohmann::json& obj, const std::string& parent, const std::string& key,
                            const std::string& folder_name) const;

 private:
  std::string source_;
};

}  // namespace legodnn
