#pragma once
// The model-grained baseline's format, the JSON side (torch-free): what baseline.json holds, its
// parsing and validation, and the checks of the model folders it lists. The sets themselves, their
// building and serving are model_grained.h.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "legodnn/graph/graph.h"

namespace legodnn {

/// Current baseline.json format version; a file with a newer one is refused.
inline constexpr int kModelGrainedFormat = 1;
/// The file of a set's folder that holds its manifest.
inline constexpr const char* kModelGrainedFileName = "baseline.json";

/// One whole descendant model as baseline.json records it.
struct ModelVariant {
  double sparsity = 0;
  std::string dir;              ///< model folder, relative to the set's folder
  std::string checksum;         ///< "crc32:xxxxxxxx" of dir/weights.pt
  std::string graph_checksum;   ///< "crc32:xxxxxxxx" of dir/model.json
  double accuracy = 0;          ///< test accuracy (fraction) after fine-tuning
  double pruned_accuracy = 0;   ///< test accuracy straight after pruning, before fine-tuning
  double latency_ms = 0;        ///< batch-1 median, folded, inference mode
  int64_t bytes = 0;            ///< float32 bytes of all tensors (unfolded, as the block profiles count)
  int64_t params = 0;
  int64_t macs = 0;             ///< multiply-adds per sample
  double train_seconds = 0;     ///< fine-tuning wall time (0 for the teacher)
};

/// Everything baseline.json holds.
struct ModelGrainedManifest {
  int format_version = kModelGrainedFormat;
  std::string model;
  Shape input_shape;                 ///< per sample, [C,H,W]
  int64_t classes = 0;
  double teacher_accuracy = 0;       ///< the teacher's accuracy on the same test images
  std::string teacher_fingerprint;   ///< crc32 of the teacher's graph and tensors (a rerun must use the same teacher)
  int64_t eval_images = 0;           ///< test images the accuracies were measured on
  nlohmann::json settings;           ///< pruning, fine-tuning and evaluation settings (must match on a rerun)
  nlohmann::json info;               ///< free-form: machine, latency options
  std::vector<ModelVariant> variants;  ///< increasing sparsity; variant 0 is the teacher (sparsity 0)
};

/// Parses and validates baseline.json (without touching the model folders). `source` names the
/// file in errors.
ModelGrainedManifest parse_model_grained(const nlohmann::json& j, const std::string& source);
/// baseline.json as JSON.
nlohmann::json model_grained_to_json(const ModelGrainedManifest& m);

/// The baseline.json field of variant k: "variants[k]".
std::string model_variant_field(size_t k);
/// Checks variant k's files (inside `dir`) against the checksums baseline.json records; `source`
/// names baseline.json in errors. Throws IoError naming the field and the file.
void verify_variant_files(const std::string& dir, const std::string& source, size_t k, const ModelVariant& v);

}  // namespace legodnn
