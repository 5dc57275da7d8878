#include "legodnn/util/zip.h"

#include <algorithm>

#include "legodnn/util/error.h"
#include "legodnn/util/format.h"

namespace legodnn {
namespace {

// Zip's little-endian fields (APPNOTE.TXT section 4.3), read with every offset checked first.
class Bytes {
 public:
  Bytes(const std::string& b, const std::string& source) : b_(b), source_(source) {}
  std::uint64_t size() const { return b_.size(); }
  bool fits(std::uint64_t at, std::uint64_t n) const { return at <= b_.size() && n <= b_.size() - at; }
  std::uint64_t le(std::uint64_t at, int n, const char* what) const {
    if (!fits(at, static_cast<std::uint64_t>(n))) fail(std::string(what) + " lies past the end of the file");
    std::uint64_t v = 0;
    for (int k = n - 1; k >= 0; --k) v = (v << 8) | static_cast<unsigned char>(b_[at + static_cast<std::uint64_t>(k)]);
    return v;
  }
  std::uint16_t u16(std::uint64_t at, const char* what) const { return static_cast<std::uint16_t>(le(at, 2, what)); }
  std::uint32_t u32(std::uint64_t at, const char* what) const { return static_cast<std::uint32_t>(le(at, 4, what)); }
  std::uint64_t u64(std::uint64_t at, const char* what) const { return le(at, 8, what); }
  std::string str(std::uint64_t at, std::uint64_t n, const char* what) const {
    if (!fits(at, n)) fail(std::string(what) + " lies past the end of the file");
    return b_.substr(at, n);
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw IoError(source_ + ": damaged tensor file (zip archive: " + what + ")");
  }
  const std::string& data() const { return b_; }

 private:
  const std::string& b_;
  const std::string& source_;
};

constexpr std::uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEndSig = 0x06054b50;
constexpr std::uint32_t kEnd64Sig = 0x06064b50, kLocator64Sig = 0x07064b50;
constexpr std::uint64_t kEndSize = 22, kLocatorSize = 20;

struct Directory {
  std::uint64_t entries = 0, offset = 0, size = 0, end = 0;  // end: where the end record starts
};

Directory find_directory(const Bytes& z) {
  if (z.size() < kEndSize) z.fail("shorter than a zip end record");
  // The end record is the last thing in the file, followed by a comment of at most 65535 bytes.
  std::uint64_t at = z.size() - kEndSize;
  const std::uint64_t lowest = at > 65535 ? at - 65535 : 0;
  while (true) {
    if (z.u32(at, "end record") == kEndSig && at + kEndSize + z.u16(at + 20, "comment length") == z.size()) break;
    if (at == lowest) z.fail("no end of central directory record");
    --at;
  }
  Directory d;
  d.end = at;
  if (z.u16(at + 4, "disk number") != 0 || z.u16(at + 6, "directory disk") != 0) z.fail("a multi-disk archive");
  // Two counts: the entries on this disk and in all. Readers differ in which they trust (miniz, which
  // LibTorch uses, takes the first, this walk the second), so a file where they differ could show
  // this check one set of records and LibTorch another: refused.
  d.entries = z.u16(at + 10, "entry count");
  const std::uint16_t on_disk = z.u16(at + 8, "entry count on this disk");
  if (on_disk != d.entries)
    z.fail("the end record's two entry counts differ (" + std::to_string(on_disk) + " and " + std::to_string(d.entries) + ")");
  d.size = z.u32(at + 12, "directory size");
  d.offset = z.u32(at + 16, "directory offset");
  // Zip64: a locator before the end record points at a 64-bit copy of these fields. miniz (in
  // LibTorch) reads that copy whenever the locator is there, and LibTorch's writer always adds one,
  // so it is read here whenever it is there too, and must agree with every field the end record
  // does not leave to it (0xFFFF...): otherwise this check and LibTorch would see two directories.
  const bool needs64 = d.entries == 0xFFFF || d.size == 0xFFFFFFFF || d.offset == 0xFFFFFFFF;
  const bool has64 = at >= kLocatorSize && z.u32(at - kLocatorSize, "zip64 locator") == kLocator64Sig;
  if (needs64 && !has64) z.fail("zip64 fields without a zip64 locator");
  if (has64) {
    const std::uint64_t e64 = z.u64(at - kLocatorSize + 8, "zip64 end record offset");
    if (e64 > at - kLocatorSize || z.u32(e64, "zip64 end record") != kEnd64Sig) z.fail("no zip64 end record where the locator points");
    if (z.u32(e64 + 16, "zip64 disk number") != 0 || z.u32(e64 + 20, "zip64 directory disk") != 0) z.fail("a multi-disk archive");
    const std::uint64_t entries = z.u64(e64 + 32, "zip64 entry count"), size = z.u64(e64 + 40, "zip64 directory size"),
                        offset = z.u64(e64 + 48, "zip64 directory offset");
    if (z.u64(e64 + 24, "zip64 entry count on this disk") != entries) z.fail("the zip64 end record's two entry counts differ");
    if ((d.entries != 0xFFFF && d.entries != entries) || (d.size != 0xFFFFFFFF && d.size != size) ||
        (d.offset != 0xFFFFFFFF && d.offset != offset))
      z.fail("the zip64 end record and the end record disagree on the directory");
    d.entries = entries;
    d.size = size;
    d.offset = offset;
    d.end = e64;
  }
  if (d.offset > d.end || d.size > d.end - d.offset) z.fail("the central directory lies outside the file");
  // Every entry takes at least 46 bytes: a count the directory cannot hold is damage, not a loop.
  if (d.entries > d.size / 46) z.fail("more entries (" + std::to_string(d.entries) + ") than the directory holds");
  return d;
}

}  // namespace

std::vector<ZipRecord> zip_records(const std::string& bytes, const std::string& source) {
  const Bytes z(bytes, source);
  if (bytes.size() < 4 || z.u32(0, "signature") != kLocalSig)
    throw IoError(source + ": damaged tensor file (not a zip archive, as torch.save and pickle_save write)");
  const Directory d = find_directory(z);
  std::vector<ZipRecord> out;
  std::uint64_t at = d.offset;
  const std::uint64_t dir_end = d.offset + d.size;
  for (std::uint64_t k = 0; k < d.entries; ++k) {
    if (at + 46 > dir_end || z.u32(at, "directory entry") != kCentralSig)
      z.fail("directory entry " + std::to_string(k) + " is not where the directory says");
    ZipRecord r;
    r.directory_offset = at;
    r.method = z.u16(at + 10, "compression method");
    r.crc = z.u32(at + 16, "CRC-32");
    r.size = z.u32(at + 20, "compressed size");
    r.uncompressed_size = z.u32(at + 24, "size");
    const std::uint64_t name_len = z.u16(at + 28, "name length"), extra_len = z.u16(at + 30, "extra length"),
                        comment_len = z.u16(at + 32, "comment length");
    std::uint64_t local = z.u32(at + 42, "local header offset");
    if (at + 46 + name_len + extra_len + comment_len > dir_end)
      z.fail("directory entry " + std::to_string(k) + " runs past the directory");
    r.name = z.str(at + 46, name_len, "record name");
    // Zip64: sizes and offset that do not fit 32 bits sit in extra field 0x0001, in this order.
    for (std::uint64_t e = at + 46 + name_len, end = e + extra_len; e + 4 <= end;) {
      const std::uint16_t id = z.u16(e, "extra field"), len = z.u16(e + 2, "extra field length");
      if (e + 4 + len > end) z.fail("record '" + r.name + "': an extra field runs past its entry");
      if (id == 0x0001) {
        std::uint64_t p = e + 4, q = e + 4 + len;
        auto next = [&](std::uint64_t& v) {
          if (v != 0xFFFFFFFF) return;
          if (p + 8 > q) z.fail("record '" + r.name + "': a short zip64 extra field");
          v = z.u64(p, "zip64 field");
          p += 8;
        };
        next(r.uncompressed_size);
        next(r.size);
        next(local);
      }
      e += 4 + len;
    }
    if (z.u32(local, "local header") != kLocalSig)
      z.fail("record '" + r.name + "': no local header where the directory says");
    const std::uint64_t data = local + 30 + z.u16(local + 26, "local name length") + z.u16(local + 28, "local extra length");
    if (data > d.offset || r.size > d.offset - data)
      z.fail("record '" + r.name + "': its data runs into the central directory or past the file");
    r.data_offset = data;
    out.push_back(std::move(r));
    at += 46 + name_len + extra_len + comment_len;
  }
  // The entries must fill the directory exactly: room for more than the count says means records a
  // reader that walks the directory by its size would see and this check would not.
  if (at != dir_end)
    z.fail("the central directory holds " + std::to_string(dir_end - at) + " bytes past its " + std::to_string(d.entries) + " entries");
  return out;
}

std::size_t verify_zip_crcs(const std::string& bytes, const std::string& source) {
  const auto records = zip_records(bytes, source);
  for (const auto& r : records) {
    if (r.method != 0)
      throw IoError(source + ": damaged tensor file: record '" + r.name + "': compression method " + std::to_string(r.method) +
                    " (tensor files hold stored records only)");
    if (r.size != r.uncompressed_size)
      throw IoError(source + ": damaged tensor file: record '" + r.name + "': a stored record of " + std::to_string(r.size) +
                    " bytes says it holds " + std::to_string(r.uncompressed_size));
    Crc32 crc;
    crc.update(bytes.data() + r.data_offset, static_cast<std::size_t>(r.size));
    if (crc.value() != r.crc)
      throw IoError(source + ": damaged tensor file: record '" + r.name + "': CRC-32 mismatch (the data has " + format_checksum(crc.value()) +
                    ", the zip directory says " + format_checksum(r.crc) + ")");
  }
  return records.size();
}

}  // namespace legodnn
