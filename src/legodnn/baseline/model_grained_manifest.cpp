#include "legodnn/baseline/model_grained_manifest.h"

#include "legodnn/util/error.h"
#include "legodnn/util/format.h"
#include "legodnn/util/fs.h"

namespace legodnn {
namespace {
using nlohmann::json;

constexpr const char* kFormatName = "legodnn-model-grained";
constexpr const char* kFileName = kModelGrainedFileName;

json variant_to_json(const ModelVariant& v) {
  return json{{"sparsity", v.sparsity},     {"dir", v.dir},
              {"checksum", v.checksum},     {"graph_checksum", v.graph_checksum},
              {"accuracy", v.accuracy},     {"pruned_accuracy", v.pruned_accuracy},
              {"latency_ms", v.latency_ms}, {"bytes", v.bytes},
              {"params", v.params},         {"macs", v.macs},
              {"train_seconds", v.train_seconds}};
}

}  // namespace

std::string model_variant_field(size_t k) { return FieldReader::index("variants", k); }

void verify_variant_files(const std::string& dir, const std::string& source, size_t k, const ModelVariant& v) {
  const std::string base = resolve_inside(dir, v.dir);
  auto check = [&](const char* key, const std::string& file, const std::string& expected) {
    const std::string path = base + "/" + file;
    const std::string field = model_variant_field(k) + "." + key;
    if (!path_exists(path)) throw IoError(source + ": " + field + ": " + path + " is missing");
    std::string actual = file_checksum(path);
    if (actual != expected)
      throw IoError(source + ": " + field + ": checksum mismatch for " + path + " (the file has " + actual +
                    ", " + kFileName + " says " + expected + ")");
  };
  check("checksum", "weights.pt", v.checksum);
  check("graph_checksum", "model.json", v.graph_checksum);
}

// ---------------------------------------------------------------------------------------------
// baseline.json

json model_grained_to_json(const ModelGrainedManifest& m) {
  json vs = json::array();
  for (const auto& v : m.variants) vs.push_back(variant_to_json(v));
  return json{{"format", kFormatName},
              {"format_version", m.format_version},
              {"model", m.model},
              {"input_shape", m.input_shape},
              {"classes", m.classes},
              {"teacher_accuracy", m.teacher_accuracy},
              {"teacher_fingerprint", m.teacher_fingerprint},
              {"eval_images", m.eval_images},
              {"settings", m.settings.is_null() ? json::object() : m.settings},
              {"info", m.info.is_null() ? json::object() : m.info},
              {"variants", vs}};
}

ModelGrainedManifest parse_model_grained(const json& j, const std::string& source) {
  if (!j.is_object()) throw IoError(source + ": expected a JSON object, got " + j.type_name());
  FieldReader f(source);
  const std::string format = f.string(j, "", "format");
  if (format != kFormatName) f.fail("format", "expected \"" + std::string(kFormatName) + "\", got \"" + format + "\"");
  ModelGrainedManifest m;
  const int64_t version = f.integer(j, "", "format_version", 1);
  if (version > kModelGrainedFormat)
    f.fail("format_version", std::to_string(version) + " is newer than the supported " +
                                 std::to_string(kModelGrainedFormat) + " (built by a newer legodnn?)");
  m.format_version = static_cast<int>(version);
  m.model = f.string(j, "", "model");
  m.input_shape = f.shape(j, "", "input_shape");
  m.classes = f.integer(j, "", "classes", 1);
  m.teacher_accuracy = f.number(j, "", "teacher_accuracy", 0.0, 1.0);
  m.teacher_fingerprint = f.checksum(j, "", "teacher_fingerprint");
  m.eval_images = f.integer(j, "", "eval_images", 1);
  m.settings = f.object(j, "", "settings");
  if (j.contains("info")) m.info = f.object(j, "", "info");

  const json& vs = f.get(j, "", "variants", JsonKind::Array);
  if (vs.empty()) f.fail("variants", "must hold at least the teacher (sparsity 0)");
  for (size_t k = 0; k < vs.size(); ++k) {
    const std::string vf = model_variant_field(k);
    f.check(vs[k], vf, JsonKind::Object);
    ModelVariant v;
    v.sparsity = f.number(vs[k], vf, "sparsity", 0.0, 1.0);
    if (k == 0 && v.sparsity != 0.0)
      f.fail(vf + ".sparsity", "the first variant is the teacher and must have sparsity 0, got " + number_string(v.sparsity));
    if (v.sparsity >= 1.0) f.fail(vf + ".sparsity", number_string(v.sparsity) + " is not below 1");
    if (k > 0 && v.sparsity <= m.variants.back().sparsity)
      f.fail(vf + ".sparsity", number_string(v.sparsity) + " does not exceed the previous variant's " +
                                   number_string(m.variants.back().sparsity) + " (sparsities must increase)");
    v.dir = f.relative_path(vs[k], vf, "dir", "the set's folder");
    for (size_t p = 0; p < m.variants.size(); ++p)
      if (m.variants[p].dir == v.dir) f.fail(vf + ".dir", "\"" + v.dir + "\" is also " + model_variant_field(p) + "'s");
    v.checksum = f.checksum(vs[k], vf, "checksum");
    v.graph_checksum = f.checksum(vs[k], vf, "graph_checksum");
    v.accuracy = f.number(vs[k], vf, "accuracy", 0.0, 1.0);
    v.pruned_accuracy = f.number(vs[k], vf, "pruned_accuracy", 0.0, 1.0);
    v.latency_ms = f.number(vs[k], vf, "latency_ms", 0.0, 1e12);
    v.bytes = f.integer(vs[k], vf, "bytes", 1);
    v.params = f.integer(vs[k], vf, "params", 0);
    v.macs = f.integer(vs[k], vf, "macs", 0);
    v.train_seconds = f.number(vs[k], vf, "train_seconds", 0.0, 1e12);
    m.variants.push_back(std::move(v));
  }
  return m;
}

}  // namespace legodnn
