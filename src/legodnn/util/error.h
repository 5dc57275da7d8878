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

/// A broken invariant: a bug in this library, never a caller's mistake. Deliberately not an Error,
/// so code that catches the errors it expects lets a bug through.
struct InternalError : std::logic_error {
  using std::logic_error::logic_error;
};

namespace detail {
[[noreturn]] inline void internal_error(const char* file, int line, const char* cond, const std::string& what) {
  throw InternalError(std::string(file) + ":" + std::to_string(line) + ": internal error, please report: " + cond +
                      " is false" + (what.empty() ? "" : ": " + what));
}
}  // namespace detail

}  // namespace legodnn

/// Asserts what cannot happen (LEGODNN_ASSERT(cond) or LEGODNN_ASSERT(cond, message)); the message
/// is built only on failure. Throws InternalError naming the source line and the condition.
#define LEGODNN_ASSERT(cond, ...) \
  do { \
    if (!(cond)) ::legodnn::detail::internal_error(__FILE__, __LINE__, #cond, std::string(__VA_ARGS__)); \
  } while (0)
