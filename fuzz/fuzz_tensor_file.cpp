// Fuzz target: a tensor file's bytes (tensors_from_bytes: the zip's CRC-32s, the walk over
// data.pkl's opcodes, then LibTorch's unpickler, then the NaN/Inf check). Most mutations break a
// CRC and stop at the zip check; so that the walk and the unpickler behind it are reached too,
// each input is also tried with its CRCs recomputed, as a hostile file would have them.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "fuzz_common.h"
#include "legodnn/graph/serialize.h"
#include "legodnn/util/zip.h"

using namespace legodnn;

namespace {
void put_u32(std::string& b, uint64_t at, uint32_t v) {
  for (int k = 0; k < 4; ++k) b[at + static_cast<uint64_t>(k)] = static_cast<char>((v >> (8 * k)) & 0xff);
}

void load(const std::string& bytes) {
  try {
    const Weights w = tensors_from_bytes(bytes, "weights.pt");
    for (const auto& [name, t] : w) (void)t.sum();
  } catch (const Error&) {
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool once = [] {
    at::set_num_threads(1);
    return true;
  }();
  (void)once;
  std::string bytes(reinterpret_cast<const char*>(data), size);
  load(bytes);
  try {
    bool changed = false;
    for (const auto& r : zip_records(bytes, "weights.pt")) {
      if (r.method != 0 || r.size != r.uncompressed_size) continue;
      Crc32 crc;
      crc.update(bytes.data() + r.data_offset, static_cast<size_t>(r.size));
      if (crc.value() != r.crc) {
        put_u32(bytes, r.directory_offset + 16, crc.value());
        changed = true;
      }
    }
    if (changed) load(bytes);
  } catch (const Error&) {
  }
  return 0;
}
