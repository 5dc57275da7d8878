#include "legodnn/graph/serialize.h"

#include <cstdint>
#include <filesystem>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <torch/csrc/jit/serialization/pickle.h>

#include "legodnn/util/error.h"
#include "legodnn/util/format.h"
#include "legodnn/util/fs.h"
#include "legodnn/util/pickle_check.h"
#include "legodnn/util/zip.h"

namespace legodnn {
using nlohmann::json;

void save_tensors(const std::string& path, const Weights& w) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [k, t] : w) dict.insert(k, t.detach().contiguous());
  atomic_write_file(path, torch::jit::pickle_save(c10::IValue(dict)));
}

Weights load_tensors(const std::string& path) {
  return tensors_from_bytes(read_regular_file(path, uintmax_t(1) << 32, "tensor file", "4 GiB"), path);
}

namespace {
std::string shape_str(at::IntArrayRef sizes) {
  std::string out = "[";
  for (size_t k = 0; k < sizes.size(); ++k) out += (k ? "," : "") + std::to_string(sizes[k]);
  return out + "]";
}

// Every element of t lies inside its storage: offset + sum (size_i - 1) * stride_i < elements held,
// with no negative size, stride or offset, and in 64 bits without overflow.
bool storage_covers(const at::Tensor& t) {
  const auto sizes = t.sizes(), strides = t.strides();
  const uint64_t held = t.storage().nbytes() / t.itemsize();
  if (t.storage_offset() < 0) return false;
  uint64_t last = static_cast<uint64_t>(t.storage_offset());
  for (size_t k = 0; k < sizes.size(); ++k) {
    if (sizes[k] < 0 || strides[k] < 0) return false;
    if (sizes[k] == 0) return true;  // no elements at all
    const uint64_t size = static_cast<uint64_t>(sizes[k] - 1), stride = static_cast<uint64_t>(strides[k]);
    if (stride != 0 && size > (UINT64_MAX - last) / stride) return false;
    last += size * stride;
  }
  return last < held && t.storage().data() != nullptr;
}
}  // namespace

Weights tensors_from_bytes(const std::string& bytes, const std::string& path) {
  // LibTorch's zip reader does not check the records' CRC-32s: a flipped bit inside a tensor
  // would load as a wrong weight. Checked here, naming the record.
  verify_zip_crcs(bytes, path);
  // Nor does its unpickler check the pickle's length fields against the data: a string length of
  // 0xFFFFFFFF reserves 4 GiB before the read fails. Walked here first, torch-free.
  check_tensor_file_pickles(bytes, path);
  c10::IValue v;
  try {
    v = torch::jit::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
  } catch (const std::exception& e) {
    std::string what = e.what();
    throw IoError(path + ": damaged tensor file (" + what.substr(0, what.find('\n')) + ")");
  }
  if (!v.isGenericDict()) throw IoError(path + ": expected a dict of tensors");
  Weights w;
  for (const auto& item : v.toGenericDict()) {
    if (!item.key().isString() || !item.value().isTensor())
      throw IoError(path + ": expected a dict of name -> tensor");
    const at::Tensor& t = item.value().toTensor();
    // Weights are dense float32 on the CPU, as save_tensors writes them. Anything else (a quantized
    // or sparse tensor a hostile pickle rebuilds) would fail deep in ATen at first use, or worse.
    const std::string& name = item.key().toStringRef();
    if (t.is_quantized() || t.layout() != at::kStrided || !t.device().is_cpu() || t.scalar_type() != at::kFloat)
      throw IoError(path + ": tensor '" + name + "' is " + std::string(c10::toString(t.scalar_type())) +
                    (t.is_quantized() ? " (quantized)" : t.layout() != at::kStrided ? " (not dense)" : "") +
                    ", not a dense float32 CPU tensor");
    // A NaN or infinite weight would run and report nonsense accuracies: refused here.
    // The pickle gives sizes, strides and an offset into a storage record, and LibTorch does not check
    // that they stay inside it: reading such a tensor runs off its storage (or through a null one).
    if (!storage_covers(t))
      throw IoError(path + ": tensor '" + name + "' (sizes " + shape_str(t.sizes()) + ") reaches past its storage of " +
                    std::to_string(t.storage().nbytes()) + " bytes");
    if (!at::isfinite(t).all().item<bool>())
      throw IoError(path + ": tensor '" + name + "' holds NaN or infinite values");
    w.emplace(name, t);
  }
  return w;
}

void save_model(const std::string& dir, const Model& m, const json& meta) {
  save_tensors(dir + "/weights.pt", m.weights);
  json doc = {{"format", "legodnn-model"}, {"version", kModelVersion}, {"graph", graph_to_json(m.graph)},
              {"meta", meta}};
  atomic_write_file(dir + "/model.json", doc.dump(1));
}

Model load_model(const std::string& dir, json* meta) {
  std::string mpath = dir + "/model.json";
  if (!path_exists(mpath)) throw IoError(mpath + ": file is missing (not a model folder?)");
  Model m;
  m.graph = model_graph_from_json(read_json_file(mpath), mpath, meta);
  m.weights = load_tensors(dir + "/weights.pt");
  try {
    check_weights(m.graph, m.weights);
  } catch (const GraphError& e) {
    throw IoError(dir + "/weights.pt: " + e.what());
  }
  require_grad_on_trainables(m.graph, m.weights);
  return m;
}

}  // namespace legodnn
