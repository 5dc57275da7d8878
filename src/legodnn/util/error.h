#pragma once
// Typed errors. Every message names the node, file or field at fault and the bad value.
#include <stdexcept>
#include <string>

namespace legodnn {

/// Base of every error the library throws.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
/// A malformed graph: cycle, dangling edge, unknown op, bad attribute, shape mismatch.
struct GraphError : Error {
  using Error::Error;
};
/// A missing or damaged input file (dataset, checkpoint, graph JSON, tensors).
struct IoError : Error {
  using Error::Error;
};
/// A bad option or argument given by the user.
struct OptionError : Error {
  using Error::Error;
};

}  // namespace legodnn
