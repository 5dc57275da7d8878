#pragma once
// A torch-free walk over the opcodes of a tensor file's pickle (archive/data.pkl), made before
// LibTorch's unpickler sees it. LibTorch 1.13 trusts the pickle's length fields: a string opcode
// that claims 0xFFFFFFFF bytes makes Unpickler::readBytes reserve 4 GiB before it finds the data
// missing (fuzz_tensor_file's finding). This checks every length field against the bytes left in
// the record, every memo index against the memo built so far, and refuses unknown opcodes.
// It does not run the pickle: no objects are built.
#include <cstddef>
#include <string>
#include <string_view>

namespace legodnn {

/// Walks the opcodes of one pickle (protocols 0 to 5) from its first byte to STOP. Throws IoError
/// "<where>: opcode ... at byte N ..." for a length field that claims more bytes than the pickle has
/// left, a memo index that skips ahead (PUT) or was never put (GET), an unknown opcode or protocol,
/// or a pickle that ends before STOP. Returns the number of opcodes walked (STOP included).
std::size_t check_pickle(std::string_view pickle, const std::string& where);

/// check_pickle on every pickle record (name ending in ".pkl") of the zip archive `bytes` (a whole
/// tensor file), with errors "<source>: damaged tensor file: record '<name>': ...". The zip itself
/// must be sound (verify_zip_crcs first). Returns the number of pickle records checked.
std::size_t check_tensor_file_pickles(const std::string& bytes, const std::string& source);

}  // namespace legodnn
