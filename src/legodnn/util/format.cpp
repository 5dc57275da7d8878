#include "legodnn/util/format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <system_error>

#include <zlib.h>

#include "legodnn/util/error.h"
#include "legodnn/util/fs.h"

namespace legodnn {
using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// JSON files

json parse_json_text(const std::string& text, const std::string& source, const JsonLimits& limits) {
  // nlohmann's callback reports, at each array or object start, how many are open around it;
  // refusing there keeps a deeply nested file from building a deep value at all.
  const int max_depth = limits.max_depth;
  auto depth_check = [&](int depth, json::parse_event_t event, json&) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= max_depth)
      throw IoError(source + ": nested deeper than " + std::to_string(max_depth) + " levels");
    return true;
  };
  try {
    return json::parse(text, depth_check);
  } catch (const json::exception& e) {
    throw IoError(source + ": not valid JSON (" + e.what() + ")");
  }
}

json read_json_file(const std::string& path, const JsonLimits& limits) {
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (!ec && size > limits.max_bytes)
    throw IoError(path + ": " + std::to_string(size) + " bytes, more than the " + std::to_string(limits.max_bytes) +
                  " a JSON file may have");
  return parse_json_text(read_file(path), path, limits);
}

// ---------------------------------------------------------------------------------------------
// Checksums

Crc32& Crc32::update(const void* data, std::size_t size) {
  const auto* p = static_cast<const Bytef*>(data);
  uLong crc = crc_;
  while (size > 0) {  // zlib takes at most a uInt at a time
    const uInt n = static_cast<uInt>(std::min<std::size_t>(size, 1u << 30));
    crc = crc32(crc, p, n);
    p += n;
    size -= n;
  }
  crc_ = static_cast<std::uint32_t>(crc);
  return *this;
}

std::string Crc32::checksum() const { return format_checksum(crc_); }

std::string format_checksum(std::uint32_t crc) {
  char out[16];
  std::snprintf(out, sizeof out, "crc32:%08lx", static_cast<unsigned long>(crc));
  return out;
}

bool is_checksum(const std::string& s) {
  return s.size() == 14 && s.compare(0, 6, "crc32:") == 0 &&
         s.find_first_not_of("0123456789abcdef", 6) == std::string::npos;
}

bool parse_checksum(const std::string& s, std::uint32_t& crc) {
  if (!is_checksum(s)) return false;
  crc = static_cast<std::uint32_t>(std::stoul(s.substr(6), nullptr, 16));
  return true;
}

std::string file_checksum(const std::string& path) {
  if (!path_exists(path)) throw IoError(path + ": file is missing");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open for reading");
  Crc32 crc;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const std::streamsize n = in.gcount();
    if (n > 0) crc.update(buf.data(), static_cast<std::size_t>(n));
  }
  if (in.bad()) throw IoError(path + ": read error");
  return crc.checksum();
}

// ---------------------------------------------------------------------------------------------
// Paths

std::string path_containment_problem(const std::string& rel) {
  if (rel.empty()) return "it is empty";
  if (rel.find('\0') != std::string::npos) return "it holds a NUL character";
  if (rel.front() == '/') return "it is absolute";
  std::size_t start = 0;
  while (true) {
    const std::size_t end = rel.find('/', start);
    const std::string part = rel.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (part.empty()) return "it has an empty component";
    if (part == ".") return "it has a \".\" component";
    if (part == "..") return "it has a \"..\" component";
    if (end == std::string::npos) return "";
    start = end + 1;
  }
}

std::string resolve_inside(const std::string& folder, const std::string& rel) {
  const std::string problem = path_containment_problem(rel);
  if (!problem.empty())
    throw IoError(folder + ": \"" + rel + "\" is not a relative path inside the folder (" + problem + ")");
  return folder + "/" + rel;
}

// ---------------------------------------------------------------------------------------------
// Text

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t k = 0; k < shape.size(); ++k) {
    if (k) out += ',';
    out += std::to_string(shape[k]);
  }
  return out + "]";
}

std::string number_string(double x) {
  if (std::isnan(x)) return "nan";  // JSON has no spelling for these (it writes null)
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  return json(x).dump();
}

// ---------------------------------------------------------------------------------------------
// Fields

namespace {
const char* kind_name(JsonKind k) {
  switch (k) {
    case JsonKind::String: return "a string";
    case JsonKind::Integer: return "an integer";
    case JsonKind::Number: return "a number";
    case JsonKind::Boolean: return "a boolean";
    case JsonKind::Array: return "a list";
    case JsonKind::Object: return "an object";
  }
  LEGODNN_INTERNAL_ASSERT(false, "unknown JsonKind ", static_cast<int>(k));
}

bool has_kind(const json& v, JsonKind k) {
  switch (k) {
    case JsonKind::String: return v.is_string();
    case JsonKind::Integer: return v.is_number_integer();
    case JsonKind::Number: return v.is_number();
    case JsonKind::Boolean: return v.is_boolean();
    case JsonKind::Array: return v.is_array();
    case JsonKind::Object: return v.is_object();
  }
  LEGODNN_INTERNAL_ASSERT(false, "unknown JsonKind ", static_cast<int>(k));
}

}  // namespace

void FieldReader::fail(const std::string& field, const std::string& what) const {
  throw IoError(source_ + ": " + field + ": " + what);
}

std::string FieldReader::join(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

std::string FieldReader::index(const std::string& parent, std::size_t k) {
  return parent + "[" + std::to_string(k) + "]";
}

const json& FieldReader::get(const json& obj, const std::string& parent, const std::string& key) const {
  auto it = obj.find(key);
  if (it == obj.end()) fail(join(parent, key), "missing");
  return *it;
}

const json& FieldReader::get(const json& obj, const std::string& parent, const std::string& key, JsonKind kind) const {
  const json& v = get(obj, parent, key);
  check(v, join(parent, key), kind);
  return v;
}

const json* FieldReader::find(const json& obj, const std::string& parent, const std::string& key, JsonKind kind) const {
  auto it = obj.find(key);
  if (it == obj.end()) return nullptr;
  check(*it, join(parent, key), kind);
  return &*it;
}

void FieldReader::check(const json& v, const std::string& field, JsonKind kind) const {
  if (!has_kind(v, kind))
    fail(field, std::string("expected ") + kind_name(kind) + ", got " + v.type_name() + " " + v.dump());
}

std::string FieldReader::string(const json& obj, const std::string& parent, const std::string& key) const {
  return get(obj, parent, key, JsonKind::String).get<std::string>();
}

std::int64_t FieldReader::integer(const json& obj, const std::string& parent, const std::string& key,
                                  std::int64_t min) const {
  const json& v = get(obj, parent, key, JsonKind::Integer);
  const std::int64_t x = v.get<std::int64_t>();
  if (x < min) fail(join(parent, key), "must be at least " + std::to_string(min) + ", got " + v.dump());
  return x;
}

double FieldReader::number(const json& obj, const std::string& parent, const std::string& key, double min,
                           double max) const {
  const double x = get(obj, parent, key, JsonKind::Number).get<double>();
  if (!(x >= min && x <= max))
    fail(join(parent, key), number_string(x) + " is outside [" + number_string(min) + ", " + number_string(max) + "]");
  return x;
}

const json& FieldReader::object(const json& obj, const std::string& parent, const std::string& key) const {
  return get(obj, parent, key, JsonKind::Object);
}

std::vector<std::int64_t> FieldReader::shape(const json& obj, const std::string& parent, const std::string& key) const {
  const std::string field = join(parent, key);
  const json& j = get(obj, parent, key, JsonKind::Array);
  std::vector<std::int64_t> s;
  for (const auto& d : j) {
    if (!d.is_number_integer() || d.get<std::int64_t>() < 1)
      fail(field, "expected a list of positive integers, got " + j.dump());
    s.push_back(d.get<std::int64_t>());
  }
  if (s.empty()) fail(field, "must not be empty");
  return s;
}

std::string FieldReader::checksum(const json& obj, const std::string& parent, const std::string& key) const {
  std::string c = string(obj, parent, key);
  if (!is_checksum(c))
    fail(join(parent, key), "expected \"crc32:\" and 8 lower-case hex digits, got \"" + c + "\"");
  return c;
}

std::string FieldReader::relative_path(const json& obj, const std::string& parent, const std::string& key,
                                       const std::string& folder_name) const {
  std::string p = string(obj, parent, key);
  const std::string problem = path_containment_problem(p);
  if (!problem.empty())
    fail(join(parent, key), "\"" + p + "\" is not a relative path inside " + folder_name + " (" + problem + ")");
  return p;
}

}  // namespace legodnn
