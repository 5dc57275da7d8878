#pragma once
// Shared by the libFuzzer targets (one per loader; scripts/fuzz.sh builds and runs them). A loader
// may refuse any input, but only with one of the library's errors (legodnn::Error: a message naming
// the file and field); anything else escaping it (a raw JSON or standard-library exception), a
// crash, a hang or a sanitizer report is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "legodnn/util/error.h"
#include "legodnn/util/format.h"

namespace legodnn::fuzz {

/// The input as JSON text under the loaders' limits, or nullopt-like false when it is refused.
inline bool parse_input(const uint8_t* data, size_t size, const std::string& source, nlohmann::json& out) {
  try {
    out = parse_json_text(std::string(reinterpret_cast<const char*>(data), size), source);
    return true;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace legodnn::fuzz
