#pragma once
// Block repository format v1 (DESIGN.md section 8), the JSON side: what manifest.json holds, its
// parsing and validation, and the checks of the files it lists. Torch-free; the tensors are
// repository.h. Writes are atomic; parsing validates every field and names the file and field.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "legodnn/graph/graph.h"
#include "legodnn/util/format.h"  // file_checksum

namespace legodnn {

/// Current repository format version; a manifest with a newer one is refused.
inline constexpr int kRepositoryFormat = 1;

/// What profiling measured for one descendant.
struct DescendantProfile {
  int64_t params = 0;
  int64_t macs = 0;             ///< multiply-adds per sample (conv2d + linear)
  int64_t bytes = 0;            ///< float32 bytes of its tensors
  double latency_ms = 0;        ///< batch-1 median, folded conv+bn, inference mode (0 = not measured); fitted to
                                ///< timed compositions by stage "latency" (latency_fit.h)
  double latency_alone_ms = 0;  ///< the descendant timed alone (stage "profile"; absent: = latency_ms)
  double acc_drop = 0;          ///< accuracy drop (fraction, 0..1) used by the optimizer (monotone in sparsity)
  double acc_drop_raw = 0;      ///< the measured mean drop before the monotone fix
  double acc_drop_se = 0;       ///< its standard error
  double acc_drop_profiled = 0; ///< acc_drop as profiled; the accuracy sweep refits acc_drop (absent: = acc_drop)
  double mse_pruned = 0;        ///< held-out block-output MSE straight after pruning
  double mse_retrained = 0;     ///< held-out block-output MSE after retraining (best epoch)
};

/// One descendant of a block: its graph, tensor file and profile.
struct DescendantRecord {
  double sparsity = 0;
  Graph graph;                  ///< the descendant block as a graph (input node named after the entry)
  std::string file;             ///< tensor file, relative to the repository folder
  std::string checksum;         ///< "crc32:xxxxxxxx" of the tensor file's bytes
  DescendantProfile profile;
};

/// One block: where it sits in the teacher and its descendants (index 0 is sparsity 0.0).
struct BlockRecord {
  int id = 0;
  std::string entry, exit;
  std::vector<std::string> nodes;
  Shape entry_shape, exit_shape;
  std::vector<DescendantRecord> descendants;
};

/// Everything manifest.json holds.
struct Manifest {
  int format_version = kRepositoryFormat;
  std::string model;            ///< e.g. "resnet20"
  Shape input_shape;            ///< per sample, [C,H,W]
  int64_t classes = 0;
  Graph teacher;                ///< the whole teacher graph; the frame is its nodes outside every block
  std::string frame_file;       ///< tensors of the frame nodes
  std::string frame_checksum;
  std::vector<BlockRecord> blocks;
  nlohmann::json stages = nlohmann::json::object();    ///< build stages done, with their wall times
  nlohmann::json profile = nlohmann::json::object();   ///< frame latency, teacher accuracy, machine, estimate check
  nlohmann::json accuracy_sweep = nlohmann::json::object();  ///< optional: compositions the sweep measured, errors
};

/// Writes manifest.json atomically.
void write_manifest(const std::string& dir, const Manifest& m);
/// Parses and validates a manifest (without touching tensor files). `source` names the file in errors.
Manifest parse_manifest(const nlohmann::json& j, const std::string& source);
/// The manifest as JSON.
nlohmann::json manifest_to_json(const Manifest& m);

/// profile.teacher_test_accuracy of a profiled repository; throws OptionError naming `source` and
/// the field when it is missing (not profiled) or not a fraction, never a default.
double teacher_test_accuracy(const Manifest& m, const std::string& source);
/// profile.latency.frame_ms likewise (a finite number >= 0).
double frame_latency_ms(const Manifest& m, const std::string& source);

/// The manifest field of descendant `descendant` of block `block`: "blocks[i].descendants[k]".
std::string descendant_field(size_t block, size_t descendant);
/// The path of `file`, listed at `field` of `dir`/manifest.json, after checking that it stays inside
/// `dir`, exists and has `checksum`. Throws IoError naming the manifest, the field and the file.
std::string check_listed_file(const std::string& dir, const std::string& field, const std::string& file,
                              const std::string& checksum);
/// Reads and validates `dir`/manifest.json and checks every file it lists (check_listed_file).
/// Throws IoError naming the file and the field at fault.
Manifest open_manifest(const std::string& dir);

}  // namespace legodnn
