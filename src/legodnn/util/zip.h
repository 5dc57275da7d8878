#pragma once
// The zip container of tensor files (torch.save / torch::pickle_save write a zip archive of stored
// records: archive/data.pkl, archive/data/0, ...). LibTorch's reader does not check the records'
// CRC-32s, so a flipped bit inside a tensor would load as a wrong weight; this reads the zip's
// central directory and checks every record against it before the bytes reach torch. Torch-free.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace legodnn {

/// One record of a zip archive as its central directory lists it, checked to lie inside the file.
struct ZipRecord {
  std::string name;
  std::uint16_t method = 0;        ///< 0 stored, 8 deflated
  std::uint32_t crc = 0;           ///< CRC-32 of the uncompressed data, as the directory says
  std::uint64_t data_offset = 0;   ///< where the record's (stored) data starts in the file
  std::uint64_t size = 0;          ///< its compressed size (= uncompressed for stored records)
  std::uint64_t uncompressed_size = 0;
  std::uint64_t directory_offset = 0;  ///< where its central directory entry starts (crc at +16)
};

/// The records of the zip archive `bytes` (a whole file). Throws IoError "<source>: ..." when it is
/// not a zip archive or its directory points outside the file.
std::vector<ZipRecord> zip_records(const std::string& bytes, const std::string& source);

/// Checks every record's CRC-32 against the central directory (stored records only: torch writes
/// no others; any other method is refused). Throws IoError naming `source` and the record at fault;
/// returns the number of records checked.
std::size_t verify_zip_crcs(const std::string& bytes, const std::string& source);

}  // namespace legodnn
