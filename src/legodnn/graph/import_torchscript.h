#pragma once
// TorchScript in (DESIGN.md section 13): a traced or scripted PyTorch model, saved with
// torch.jit.save, mapped onto the IR with its weights. LibTorch loads the file; the module is put
// in eval mode and frozen (attributes become constants, `if self.training` and `is None` branches
// fold) with batch norms kept apart from their convolutions, since the pruner needs them; the
// graph is inlined and constant-folded, then each aten node becomes an IR node. What the IR cannot
// express is reported all at once, each with its module path and source line. Torch-free header.
#include <string>
#include <utility>
#include <vector>

#include "legodnn/graph/weights.h"
#include "legodnn/util/error.h"

namespace legodnn {

/// One node of the TorchScript graph that has no IR counterpart.
struct UnsupportedOp {
  std::string kind;    ///< "aten::channel_shuffle"
  std::string module;  ///< module path, "features.3.conv" ("" at the top level)
  std::string source;  ///< "file.py:41" when the file records it, else ""
  std::string why;     ///< what is missing ("groups of a transposed convolution", ...)
};

/// Raised when the graph holds ops the IR cannot express; what() lists every one of them.
struct ImportError : GraphError {
  ImportError(const std::string& what, std::vector<UnsupportedOp> ops)
      : GraphError(what), unsupported(std::move(ops)) {}
  std::vector<UnsupportedOp> unsupported;
};

/// What an import reports besides the model.
struct ImportReport {
  int aten_nodes = 0;   ///< tensor ops of the inlined TorchScript graph that became IR nodes
  int folded = 0;       ///< ops that vanished (dropout in eval, contiguous, detach, size arithmetic)
  double seconds = 0;   ///< load, freeze and mapping
};

/// Imports the TorchScript file at `path` for per-sample input `input_shape` ([C,H,W]). The IR
/// nodes are named after their module paths ("layer1.0.conv1"). Throws IoError naming the file
/// when it is missing, not a regular file or not TorchScript; ImportError listing every op that
/// does not map; GraphError naming the node when the mapped graph does not fit the input shape.
Model import_torchscript(const std::string& path, const Shape& input_shape, ImportReport* report = nullptr);

}  // namespace legodnn
