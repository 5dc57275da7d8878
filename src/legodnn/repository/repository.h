#pragma once
// Block repository (DESIGN.md section 8): one folder per scaled model holding manifest.json and
// tensor files. This is the tensor side; the manifest format is manifest.h (torch-free). Writes
// are atomic; loading validates every file and field.
#include <string>
#include <vector>

#include "legodnn/blocks/prune.h"
#include "legodnn/graph/weights.h"
#include "legodnn/repository/manifest.h"

namespace legodnn {

/// A loaded repository: the manifest plus, on request, the tensors.
class Repository {
 public:
  /// Reads and validates `dir`/manifest.json and checks that every tensor file exists, has the
  /// checksum the manifest gives, and that every descendant's graph fits its slot (same entry and
  /// exit shapes as the block). Throws IoError naming the file and the field at fault.
  static Repository open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const Manifest& manifest() const { return manifest_; }

  /// Loads the frame's tensors (checksum verified again); throws IoError naming the file.
  Weights load_frame() const;
  /// Loads one descendant's tensors and checks them against its graph; throws IoError naming the
  /// file and field (a damaged file never crashes the caller).
  Model load_descendant(int block, int descendant) const;
  /// The teacher-shaped model with descendant choice[i] in block i.
  Model compose(const std::vector<int>& choice) const;

 private:
  std::string dir_;
  Manifest manifest_;
};

/// Writes a tensor file atomically and returns its checksum ("crc32:xxxxxxxx").
std::string write_tensor_file(const std::string& path, const Weights& w);

}  // namespace legodnn
