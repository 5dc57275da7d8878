#pragma once
// A tiny block repository written in a test: ResNet-20 at width 0.25 with seeded random weights
// (batch-norm statistics and affine terms randomized too, so folding matters), 9 blocks, untrained
// descendants at a few sparsities. Takes a fraction of a second.
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "legodnn/blocks/detect.h"
#include "legodnn/blocks/prune.h"
#include "legodnn/models/zoo.h"
#include "legodnn/repository/repository.h"
#include "test_util.h"

namespace legodnn::testing {

/// Writes the tiny repository to `dir` and returns its manifest.
inline Manifest write_tiny_repository(const std::string& dir, const std::vector<double>& sparsities,
                                      uint64_t seed = 0) {
  ZooOptions o;
  o.width = 0.25;
  Model teacher{build_zoo_model("resnet20", o), {}};
  teacher.weights = init_weights(teacher.graph, seed);
  {
    at::NoGradGuard no_grad;
    at::manual_seed(static_cast<int64_t>(seed) + 1);
    for (const auto& n : teacher.graph.nodes()) {
      if (n.op != Op::BatchNorm2d) continue;
      auto t = [&](const char* p) { return teacher.weights.at(param_key(n.name, p)); };
      t("weight").copy_(1 + 0.2 * at::randn_like(t("weight")));
      t("bias").copy_(0.1 * at::randn_like(t("bias")));
      t("running_mean").copy_(0.1 * at::randn_like(t("running_mean")));
      t("running_var").copy_(at::rand_like(t("running_var")) + 0.5);
    }
  }
  auto blocks = detect_blocks(teacher.graph);
  auto families = make_descendants(teacher, blocks, sparsities);

  Manifest m;
  m.model = "resnet20";
  m.input_shape = {o.in_channels, o.input_size, o.input_size};
  m.classes = o.num_classes;
  m.teacher = teacher.graph;
  Weights frame;
  for (const auto& name : frame_nodes(teacher.graph, blocks))
    for (const auto& p : param_specs(teacher.graph.node(name))) {
      auto key = param_key(name, p.name);
      frame.emplace(key, teacher.weights.at(key));
    }
  std::filesystem::create_directories(dir + "/blocks");
  m.frame_file = "frame.pt";
  m.frame_checksum = write_tensor_file(dir + "/" + m.frame_file, frame);
  auto shapes = teacher.graph.infer_shapes();
  for (const auto& f : families) {
    BlockRecord b;
    b.id = f.spec.id;
    b.entry = f.spec.entry;
    b.exit = f.spec.exit;
    b.nodes = f.spec.nodes;
    b.entry_shape = shapes[teacher.graph.index(b.entry)];
    b.exit_shape = shapes[teacher.graph.index(b.exit)];
    for (size_t k = 0; k < f.descendants.size(); ++k) {
      DescendantRecord d;
      d.sparsity = f.sparsities[k];
      d.graph = f.descendants[k].graph;
      d.file = "blocks/b" + std::to_string(b.id) + "_s" + std::to_string(k) + ".pt";
      d.checksum = write_tensor_file(dir + "/" + d.file, f.descendants[k].weights);
      d.profile.bytes = graph_stats(d.graph).bytes;
      b.descendants.push_back(std::move(d));
    }
    m.blocks.push_back(std::move(b));
  }
  write_manifest(dir, m);
  return m;
}

}  // namespace legodnn::testing
