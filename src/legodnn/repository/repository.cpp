#include "legodnn/repository/repository.h"

#include <set>

#include <ATen/ATen.h>

#include "legodnn/graph/serialize.h"
#include "legodnn/util/error.h"
#include "legodnn/util/format.h"

namespace legodnn {

std::string write_tensor_file(const std::string& path, const Weights& w) {
  save_tensors(path, w);
  return file_checksum(path);
}

Repository Repository::open(const std::string& dir) {
  Repository r;
  r.dir_ = dir;
  r.manifest_ = open_manifest(dir);
  return r;
}

namespace {
// Loads a tensor file the manifest lists, prefixing every error with the manifest and field.
Weights load_listed(const std::string& dir, const std::string& field, const std::string& file,
                    const std::string& checksum) {
  const std::string path = check_listed_file(dir, field, file, checksum);
  try {
    return load_tensors(path);
  } catch (const IoError& e) {
    throw IoError(dir + "/manifest.json: " + field + ".file: " + e.what());
  }
}
}  // namespace

Weights Repository::load_frame() const {
  const Manifest& m = manifest_;
  Weights w = load_listed(dir_, "frame", m.frame_file, m.frame_checksum);
  std::set<std::string> in_block;
  for (const auto& b : m.blocks) in_block.insert(b.nodes.begin(), b.nodes.end());
  // The frame alone is no connected graph; check_weights only reads the nodes' attributes, so
  // the frame nodes are gathered without their edges.
  Graph frame;
  for (const auto& n : m.teacher.nodes()) {
    if (in_block.count(n.name)) continue;
    Node copy = n;
    copy.inputs.clear();
    frame.add(std::move(copy));
  }
  try {
    check_weights(frame, w);
  } catch (const GraphError& e) {
    throw IoError(dir_ + "/manifest.json: frame.file: " + dir_ + "/" + m.frame_file + ": " + e.what());
  }
  require_grad_on_trainables(frame, w);
  return w;
}

Model Repository::load_descendant(int block, int descendant) const {
  const Manifest& m = manifest_;
  if (block < 0 || block >= static_cast<int>(m.blocks.size()))
    throw OptionError("block " + std::to_string(block) + " is out of range 0.." +
                      std::to_string(static_cast<int>(m.blocks.size()) - 1));
  const BlockRecord& b = m.blocks[block];
  if (descendant < 0 || descendant >= static_cast<int>(b.descendants.size()))
    throw OptionError("block " + std::to_string(block) + ": descendant " + std::to_string(descendant) +
                      " is out of range 0.." + std::to_string(b.descendants.size() - 1));
  const DescendantRecord& d = b.descendants[descendant];
  const std::string field = descendant_field(block, descendant);
  Model out{d.graph, load_listed(dir_, field, d.file, d.checksum)};
  try {
    check_weights(out.graph, out.weights);
  } catch (const GraphError& e) {
    throw IoError(dir_ + "/manifest.json: " + field + ".file: " + dir_ + "/" + d.file + ": " + e.what());
  }
  require_grad_on_trainables(out.graph, out.weights);
  return out;
}

Model Repository::compose(const std::vector<int>& choice) const {
  const Manifest& m = manifest_;
  if (choice.size() != m.blocks.size())
    throw OptionError("a composition needs one choice per block: got " + std::to_string(choice.size()) +
                      " for " + std::to_string(m.blocks.size()) + " blocks");
  for (size_t i = 0; i < choice.size(); ++i)
    if (choice[i] < 0 || choice[i] >= static_cast<int>(m.blocks[i].descendants.size()))
      throw OptionError("block " + std::to_string(i) + ": choice " + std::to_string(choice[i]) +
                        " is out of range 0.." + std::to_string(m.blocks[i].descendants.size() - 1));
  Weights frame = load_frame();
  std::vector<Model> loaded;
  loaded.reserve(choice.size());
  std::vector<std::vector<std::string>> nodes;
  std::vector<const Model*> chosen;
  for (size_t i = 0; i < choice.size(); ++i) {
    loaded.push_back(load_descendant(static_cast<int>(i), choice[i]));
    nodes.push_back(m.blocks[i].nodes);
    chosen.push_back(&loaded.back());
  }
  return assemble(m.teacher, frame, nodes, chosen);
}

}  // namespace legodnn
