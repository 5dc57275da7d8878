#pragma once
// Typed errors. Every message names the node, file or field at fault and the bad value.
#include <stdexcept>
#include <string>
#include <type_traits>

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

// ---------------------------------------------------------------------------------------------
// Checks and invariants (after c10's TORCH_CHECK / TORCH_INTERNAL_ASSERT):
//   LEGODNN_CHECK(cond, ErrorType, parts...)  for the caller's mistakes: throws ErrorType with the
//                                             parts joined; they are formatted only on failure.
//   LEGODNN_INTERNAL_ASSERT(cond, parts...)   for what cannot happen: throws InternalError naming
//                                             the condition, file and line.
// Parts are strings, characters or numbers (numbers as std::to_string prints them).
namespace detail {
inline void append_part(std::string& out, const std::string& s) { out += s; }
inline void append_part(std::string& out, const char* s) { out += s; }
inline void append_part(std::string& out, char c) { out += c; }
template <class T, class = std::enable_if_t<std::is_arithmetic_v<T>>>
void append_part(std::string& out, T v) {
  out += std::to_string(v);
}
template <class... Parts>
std::string join_parts(const Parts&... parts) {
  std::string out;
  (append_part(out, parts), ...);
  return out;
}
[[noreturn]] inline void internal_failure(const char* cond, const char* file, int line, const std::string& what) {
  throw InternalError(std::string("internal error (a bug in legodnn): ") + file + ":" + std::to_string(line) +
                      ": '" + cond + "' does not hold" + (what.empty() ? "" : ": " + what));
}
}  // namespace detail

#define LEGODNN_CHECK(cond, ErrorType, ...)                                     \
  do {                                                                          \
    if (__builtin_expect(!(cond), 0)) throw ErrorType(::legodnn::detail::join_parts(__VA_ARGS__)); \
  } while (0)

#define LEGODNN_INTERNAL_ASSERT(cond, ...)                                                         \
  do {                                                                                             \
    if (__builtin_expect(!(cond), 0))                                                              \
      ::legodnn::detail::internal_failure(#cond, __FILE__, __LINE__, ::legodnn::detail::join_parts(__VA_ARGS__)); \
  } while (0)

}  // namespace legodnn
