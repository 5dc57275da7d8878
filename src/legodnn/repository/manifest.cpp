#include "legodnn/repository/manifest.h"

#include <cmath>
#include <set>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "legodnn/graph/graph_json.h"
#include "legodnn/util/error.h"
#include "legodnn/util/format.h"
#include "legodnn/util/fs.h"

namespace legodnn {
using nlohmann::json;

namespace {
constexpr const char* kFormatName = "legodnn-repository";

std::string index_field(const std::string& parent, size_t k) { return FieldReader::index(parent, k); }

// A latency or an error: a finite number >= 0.
double non_negative(const FieldReader& f, const json& obj, const std::string& parent, const std::string& key) {
  const double x = f.get(obj, parent, key, JsonKind::Number).get<double>();
  if (!(x >= 0.0 && std::isfinite(x)))
    f.fail(FieldReader::join(parent, key), "must be a finite number >= 0, got " + number_string(x));
  return x;
}

// The shared field reader, plus what only this format has: tensor files inside the repository
// folder and graphs.
class Fields : public FieldReader {
 public:
  using FieldReader::FieldReader;

  std::string file(const json& obj, const std::string& parent) const {
    return relative_path(obj, parent, "file", "the repository");
  }

  std::string checksum(const json& obj, const std::string& parent) const {
    return FieldReader::checksum(obj, parent, "checksum");
  }

  Graph graph(const json& obj, const std::string& parent, const std::string& key) const {
    const std::string field = join(parent, key);
    const json& j = get(obj, parent, key, JsonKind::Object);
    try {
      return graph_from_json(j, source() + ": " + field);
    } catch (const GraphError& e) {
      throw IoError(e.what());
    }
  }
};

json profile_to_json(const DescendantProfile& p) {
  return json{{"params", p.params},         {"macs", p.macs},
              {"bytes", p.bytes},           {"latency_ms", p.latency_ms},
              {"latency_alone_ms", p.latency_alone_ms},
              {"acc_drop", p.acc_drop},     {"acc_drop_raw", p.acc_drop_raw},
              {"acc_drop_se", p.acc_drop_se}, {"acc_drop_profiled", p.acc_drop_profiled},
              {"mse_pruned", p.mse_pruned},
              {"mse_retrained", p.mse_retrained}};
}

// Every field is required: the writer always writes them all (stages not run yet leave 0), so a
// missing one is damage, and reading it as 0 would change the optimizer's verdict. Only
// acc_drop_profiled and latency_alone_ms may be absent (repositories from before the accuracy sweep
// and the latency stage: = acc_drop, = latency_ms).
DescendantProfile parse_profile(const Fields& f, const json& parent_obj, const std::string& parent) {
  DescendantProfile p;
  const json& j = f.get(parent_obj, parent, "profile", JsonKind::Object);
  const std::string field = Fields::join(parent, "profile");
  p.params = f.integer(j, field, "params", 0);
  p.macs = f.integer(j, field, "macs", 0);
  p.bytes = f.integer(j, field, "bytes", 0);
  p.latency_ms = non_negative(f, j, field, "latency_ms");
  p.latency_alone_ms = j.contains("latency_alone_ms") ? non_negative(f, j, field, "latency_alone_ms") : p.latency_ms;
  p.acc_drop = f.number(j, field, "acc_drop", 0.0, 1.0);
  p.acc_drop_raw = f.number(j, field, "acc_drop_raw", -1.0, 1.0);  // a measured mean drop may be negative (noise)
  p.acc_drop_se = f.number(j, field, "acc_drop_se", 0.0, 1.0);
  p.acc_drop_profiled = p.acc_drop;
  if (j.contains("acc_drop_profiled")) p.acc_drop_profiled = f.number(j, field, "acc_drop_profiled", 0.0, 1.0);
  p.mse_pruned = non_negative(f, j, field, "mse_pruned");
  p.mse_retrained = non_negative(f, j, field, "mse_retrained");
  return p;
}

// The manifest-wide profile: what is there must make sense, and once the profile stage is done
// the fields the optimizer and the estimates read must be there.
void check_model_profile(const Fields& f, const json& profile, bool profiled) {
  if (profiled || profile.contains("teacher_test_accuracy"))
    f.number(profile, "profile", "teacher_test_accuracy", 0.0, 1.0);
  if (profile.contains("teacher_val_accuracy")) f.number(profile, "profile", "teacher_val_accuracy", 0.0, 1.0);
  if (!profiled && !profile.contains("latency")) return;
  const json& lat = f.get(profile, "profile", "latency", JsonKind::Object);
  non_negative(f, lat, "profile.latency", "frame_ms");
  if (lat.contains("teacher_ms")) non_negative(f, lat, "profile.latency", "teacher_ms");
}

// Checks the block's place in the teacher: known nodes owned by no other block, listed so that
// a node reads only nodes before it, single entry and single exit, and the entry and exit shapes
// the teacher infers. Checked on node sets rather than index ranges: a graph read back from JSON
// need not keep the node order it was written in.
void check_block_slot(const Fields& f, const std::string& bf, const BlockRecord& b, const Graph& teacher,
                      const std::vector<Shape>& shapes, std::unordered_map<std::string, int>& owner) {
  if (!teacher.contains(b.entry)) f.fail(bf + ".entry", "'" + b.entry + "' is no node of the teacher");
  if (!teacher.contains(b.exit)) f.fail(bf + ".exit", "'" + b.exit + "' is no node of the teacher");
  if (b.nodes.empty()) f.fail(bf + ".nodes", "must not be empty");
  std::set<std::string> in_block;
  for (size_t k = 0; k < b.nodes.size(); ++k) {
    const std::string& name = b.nodes[k];
    const std::string field = index_field(bf + ".nodes", k);
    if (!teacher.contains(name)) f.fail(field, "'" + name + "' is no node of the teacher");
    if (teacher.node(name).op == Op::Input) f.fail(field, "'" + name + "' is the input node");
    auto [it, fresh] = owner.emplace(name, b.id);
    if (!fresh) f.fail(field, "'" + name + "' is already in block " + std::to_string(it->second));
    for (const auto& in : teacher.node(name).inputs) {
      if (in == b.entry) continue;
      if (!in_block.count(in))
        f.fail(field, "'" + name + "' reads '" + in + "', which is neither the entry '" + b.entry +
                          "' nor a block node listed before it");
    }
    in_block.insert(name);
  }
  if (in_block.count(b.entry)) f.fail(bf + ".entry", "'" + b.entry + "' is also a node of the block");
  if (!in_block.count(b.exit)) f.fail(bf + ".exit", "'" + b.exit + "' is not one of the block's nodes");
  for (const auto& n : teacher.nodes()) {
    if (in_block.count(n.name)) continue;
    for (const auto& in : n.inputs)
      if (in_block.count(in) && in != b.exit)
        f.fail(bf + ".nodes", "not single-exit: '" + n.name + "' outside the block reads '" + in +
                                  "', which is not the exit '" + b.exit + "'");
  }
  if (in_block.count(teacher.output()) && teacher.output() != b.exit)
    f.fail(bf + ".nodes", "not single-exit: the teacher's output '" + teacher.output() + "' is inside");
  const Shape& entry_shape = shapes[teacher.index(b.entry)];
  const Shape& exit_shape = shapes[teacher.index(b.exit)];
  if (b.entry_shape != entry_shape)
    f.fail(bf + ".entry_shape", shape_string(b.entry_shape) + " differs from the teacher's " +
                                    shape_string(entry_shape) + " at '" + b.entry + "'");
  if (b.exit_shape != exit_shape)
    f.fail(bf + ".exit_shape", shape_string(b.exit_shape) + " differs from the teacher's " +
                                   shape_string(exit_shape) + " at '" + b.exit + "'");
}

// A descendant replaces the block's nodes one for one, wired as in the teacher (compose looks
// them up by name), and must map the block's entry tensor to a tensor of the exit's shape.
void check_descendant_fit(const Fields& f, const std::string& df, const BlockRecord& b, const Graph& g,
                          const Graph& teacher) {
  const std::string field = df + ".graph";
  auto shapes = g.infer_shapes();
  const std::string& in = g.input();
  const std::string& out = g.output();
  const Shape& in_shape = shapes[g.index(in)];
  const Shape& out_shape = shapes[g.index(out)];
  if (in != b.entry || out != b.exit || in_shape != b.entry_shape || out_shape != b.exit_shape)
    f.fail(field, "does not fit its slot: it maps '" + in + "' " + shape_string(in_shape) + " -> '" + out + "' " +
                      shape_string(out_shape) + ", the block maps '" + b.entry + "' " + shape_string(b.entry_shape) +
                      " -> '" + b.exit + "' " + shape_string(b.exit_shape));
  if (g.size() != b.nodes.size() + 1)
    f.fail(field, "does not fit its slot: it has " + std::to_string(g.size() - 1) +
                      " nodes besides the input, the block " + std::to_string(b.nodes.size()));
  for (const auto& name : b.nodes) {
    if (!g.contains(name)) f.fail(field, "does not fit its slot: it lacks the block's node '" + name + "'");
    if (g.node(name).inputs != teacher.node(name).inputs)
      f.fail(field, "does not fit its slot: node '" + name + "' is wired differently from the teacher's");
  }
}

BlockRecord parse_block(const Fields& f, const json& jb, size_t i) {
  const std::string bf = index_field("blocks", i);
  f.check(jb, bf, JsonKind::Object);
  BlockRecord b;
  const json& id = f.get(jb, bf, "id", JsonKind::Integer);
  if (id.get<int64_t>() != static_cast<int64_t>(i))
    f.fail(bf + ".id", "expected " + std::to_string(i) + " (ids count 0, 1, 2... in order), got " + id.dump());
  b.id = static_cast<int>(i);
  b.entry = f.string(jb, bf, "entry");
  b.exit = f.string(jb, bf, "exit");
  const json& nodes = f.get(jb, bf, "nodes", JsonKind::Array);
  for (size_t k = 0; k < nodes.size(); ++k) {
    f.check(nodes[k], index_field(bf + ".nodes", k), JsonKind::String);
    b.nodes.push_back(nodes[k].get<std::string>());
  }
  b.entry_shape = f.shape(jb, bf, "entry_shape");
  b.exit_shape = f.shape(jb, bf, "exit_shape");
  const json& ds = f.get(jb, bf, "descendants", JsonKind::Array);
  if (ds.empty()) f.fail(bf + ".descendants", "a block needs at least one descendant (sparsity 0)");
  for (size_t k = 0; k < ds.size(); ++k) {
    const std::string df = descendant_field(i, k);
    f.check(ds[k], df, JsonKind::Object);
    DescendantRecord d;
    d.sparsity = f.get(ds[k], df, "sparsity", JsonKind::Number).get<double>();
    if (k == 0 && d.sparsity != 0.0)
      f.fail(df + ".sparsity", "the first descendant is the original block and must have sparsity 0, got " +
                                   number_string(d.sparsity));
    if (!(d.sparsity >= 0.0 && d.sparsity < 1.0))
      f.fail(df + ".sparsity", number_string(d.sparsity) + " is outside [0, 1)");
    if (k > 0 && d.sparsity <= b.descendants.back().sparsity)
      f.fail(df + ".sparsity", number_string(d.sparsity) + " does not exceed the previous descendant's " +
                                   number_string(b.descendants.back().sparsity) +
                                   " (sparsities must increase)");
    d.graph = f.graph(ds[k], df, "graph");
    d.file = f.file(ds[k], df);
    d.checksum = f.checksum(ds[k], df);
    d.profile = parse_profile(f, ds[k], df);
    b.descendants.push_back(std::move(d));
  }
  return b;
}

void require_file(const std::string& manifest_path, const std::string& field, const std::string& path) {
  if (!path_exists(path)) throw IoError(manifest_path + ": " + field + ": " + path + " is missing");
}

void verify_checksum(const std::string& manifest_path, const std::string& field, const std::string& path,
                     const std::string& expected) {
  std::string actual = file_checksum(path);
  if (actual != expected)
    throw IoError(manifest_path + ": " + field + ": checksum mismatch for " + path + " (the file has " + actual +
                  ", the manifest says " + expected + ")");
}
}  // namespace

std::string descendant_field(size_t block, size_t descendant) {
  return index_field(index_field("blocks", block) + ".descendants", descendant);
}

json manifest_to_json(const Manifest& m) {
  json blocks = json::array();
  for (const auto& b : m.blocks) {
    json ds = json::array();
    for (const auto& d : b.descendants)
      ds.push_back(json{{"sparsity", d.sparsity},
                        {"graph", graph_to_json(d.graph)},
                        {"file", d.file},
                        {"checksum", d.checksum},
                        {"profile", profile_to_json(d.profile)}});
    blocks.push_back(json{{"id", b.id},
                          {"entry", b.entry},
                          {"exit", b.exit},
                          {"nodes", b.nodes},
                          {"entry_shape", b.entry_shape},
                          {"exit_shape", b.exit_shape},
                          {"descendants", ds}});
  }
  json out{{"format", kFormatName},
           {"format_version", m.format_version},
           {"model", m.model},
           {"input_shape", m.input_shape},
           {"classes", m.classes},
           {"teacher", graph_to_json(m.teacher)},
           {"frame", json{{"file", m.frame_file}, {"checksum", m.frame_checksum}}},
           {"blocks", blocks},
           {"stages", m.stages},
           {"profile", m.profile}};
  if (!m.accuracy_sweep.empty()) out["accuracy_sweep"] = m.accuracy_sweep;
  return out;
}

Manifest parse_manifest(const json& j, const std::string& source) {
  if (!j.is_object()) throw IoError(source + ": expected a JSON object, got " + j.type_name());
  Fields f(source);
  const std::string format = f.string(j, "", "format");
  if (format != kFormatName)
    f.fail("format", "expected \"" + std::string(kFormatName) + "\", got \"" + format + "\"");
  Manifest m;
  const json& version = f.get(j, "", "format_version", JsonKind::Integer);
  if (version.get<int64_t>() > kRepositoryFormat)
    f.fail("format_version", version.dump() + " is newer than the supported " + std::to_string(kRepositoryFormat) +
                                 " (built by a newer legodnn?)");
  if (version.get<int64_t>() < 1) f.fail("format_version", "must be at least 1, got " + version.dump());
  m.format_version = version.get<int>();
  m.model = f.string(j, "", "model");
  m.input_shape = f.shape(j, "", "input_shape");
  m.classes = f.get(j, "", "classes", JsonKind::Integer).get<int64_t>();
  if (m.classes < 1) f.fail("classes", "must be positive, got " + std::to_string(m.classes));
  m.teacher = f.graph(j, "", "teacher");
  auto shapes = m.teacher.infer_shapes();
  const Shape& teacher_input = shapes[m.teacher.index(m.teacher.input())];
  if (teacher_input != m.input_shape)
    f.fail("input_shape", shape_string(m.input_shape) + " differs from the teacher's input " + shape_string(teacher_input));
  const json& frame = f.get(j, "", "frame", JsonKind::Object);
  m.frame_file = f.file(frame, "frame");
  m.frame_checksum = f.checksum(frame, "frame");

  const json& blocks = f.get(j, "", "blocks", JsonKind::Array);
  std::unordered_map<std::string, int> owner;  // block node -> block id
  for (size_t i = 0; i < blocks.size(); ++i) {
    BlockRecord b = parse_block(f, blocks[i], i);
    check_block_slot(f, index_field("blocks", i), b, m.teacher, shapes, owner);
    for (size_t k = 0; k < b.descendants.size(); ++k)
      check_descendant_fit(f, descendant_field(i, k), b, b.descendants[k].graph, m.teacher);
    m.blocks.push_back(std::move(b));
  }
  if (const json* s = f.find(j, "", "stages", JsonKind::Object)) m.stages = *s;
  if (const json* p = f.find(j, "", "profile", JsonKind::Object)) m.profile = *p;
  check_model_profile(f, m.profile, m.stages.contains("profile"));
  if (const json* a = f.find(j, "", "accuracy_sweep", JsonKind::Object)) m.accuracy_sweep = *a;
  return m;
}

double teacher_test_accuracy(const Manifest& m, const std::string& source) {
  const json* a = m.profile.is_object() && m.profile.contains("teacher_test_accuracy") ? &m.profile["teacher_test_accuracy"] : nullptr;
  if (!a) throw OptionError(source + ": profile.teacher_test_accuracy: missing (the repository has not been profiled yet; rerun legodnn build)");
  if (!a->is_number() || !(a->get<double>() >= 0.0 && a->get<double>() <= 1.0))
    throw OptionError(source + ": profile.teacher_test_accuracy: expected a number in [0, 1], got " + a->dump());
  return a->get<double>();
}

double frame_latency_ms(const Manifest& m, const std::string& source) {
  const json* lat = m.profile.is_object() && m.profile.contains("latency") ? &m.profile["latency"] : nullptr;
  const json* ms = lat && lat->is_object() && lat->contains("frame_ms") ? &(*lat)["frame_ms"] : nullptr;
  if (!ms) throw OptionError(source + ": profile.latency.frame_ms: missing (the repository has not been profiled yet; rerun legodnn build)");
  if (!ms->is_number() || !(ms->get<double>() >= 0.0 && std::isfinite(ms->get<double>())))
    throw OptionError(source + ": profile.latency.frame_ms: expected a finite number >= 0, got " + ms->dump());
  return ms->get<double>();
}

void write_manifest(const std::string& dir, const Manifest& m) {
  atomic_write_file(dir + "/manifest.json", manifest_to_json(m).dump(1));
}

std::string check_listed_file(const std::string& dir, const std::string& field, const std::string& file,
                              const std::string& checksum) {
  const std::string mpath = dir + "/manifest.json";
  const std::string path = resolve_inside(dir, file);
  require_file(mpath, field + ".file", path);
  verify_checksum(mpath, field + ".checksum", path, checksum);
  return path;
}

Manifest open_manifest(const std::string& dir) {
  const std::string mpath = dir + "/manifest.json";
  if (!path_exists(mpath)) throw IoError(mpath + ": file is missing (not a block repository?)");
  Manifest m = parse_manifest(read_json_file(mpath), mpath);
  check_listed_file(dir, "frame", m.frame_file, m.frame_checksum);
  for (size_t i = 0; i < m.blocks.size(); ++i)
    for (size_t k = 0; k < m.blocks[i].descendants.size(); ++k)
      check_listed_file(dir, descendant_field(i, k), m.blocks[i].descendants[k].file,
                        m.blocks[i].descendants[k].checksum);
  return m;
}

}  // namespace legodnn
