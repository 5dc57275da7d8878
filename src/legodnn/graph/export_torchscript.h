#pragma once
// TorchScript out (DESIGN.md section 13): a model (a teacher, or one composition of a block
// repository) as a TorchScript module that PyTorch's torch.jit.load, or PyTorch Mobile's lite
// interpreter, runs without this project. The forward is TorchScript source generated node by
// node from each op's kernel (OpKernel::script, next to the kernel's `run`), compiled by LibTorch
// (Module::define); the tensors become the module's parameters and buffers, named after their
// nodes ("layer1_0_conv1_weight"). Torch-free header.
#include <string>

#include "legodnn/graph/weights.h"

namespace legodnn {

struct ExportOptions {
  bool mobile = false;     ///< the lite-interpreter format (Module::_save_for_mobile) instead of torch.jit.save's
  std::string meta_json;   ///< stored in the archive as the extra file "legodnn.json" ("" = none)
  bool verify = true;      ///< reload the written bytes and compare with the executor on a seeded input
};

/// What an export did.
struct ExportReport {
  int64_t bytes = 0;         ///< size of the written file
  int nodes = 0;             ///< IR nodes (one TorchScript statement each)
  double max_abs_diff = -1;  ///< reloaded module against the executor on a seeded batch of 2 (-1: not verified)
  double output_scale = 0;   ///< max |output| of the executor on that batch
  double seconds = 0;
};

/// The TorchScript source of the model's forward (what export compiles); throws GraphError naming
/// the node when the graph or its weights do not validate.
std::string torchscript_source(const Model& m);

/// Writes `m` as TorchScript to `path`, atomically (readers see the old file or the new one).
/// With `verify`, throws GraphError when the reloaded module's output differs from the executor's
/// by more than 1e-5 relative to the output scale. Throws IoError naming the path when it cannot write.
ExportReport export_torchscript(const Model& m, const std::string& path, const ExportOptions& options = {});

}  // namespace legodnn
