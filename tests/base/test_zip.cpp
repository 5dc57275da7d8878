// The zip container of tensor files (util/zip.h), on a real tensor file of the source tree: every
// record's CRC-32 checked against the central directory, damage named by file and record.
#include <string>

#include "legodnn/util/error.h"
#include "legodnn/util/fs.h"
#include "legodnn/util/zip.h"
#include "test_util.h"

using namespace legodnn;

namespace {
const std::string kSource = "weights.pt";

std::string teacher_file() { return read_file(source_dir() + "/teachers/resnet20/weights.pt"); }
}  // namespace

TEST(Zip, RecordsOfARealTensorFileAreListedAndTheirCrcsHold) {
  const std::string bytes = teacher_file();
  const auto records = zip_records(bytes, kSource);
  ASSERT_GT(records.size(), 10u);
  bool pickle = false;
  for (const auto& r : records) {
    EXPECT_EQ(r.method, 0) << r.name;
    EXPECT_EQ(r.size, r.uncompressed_size) << r.name;
    EXPECT_LE(r.data_offset + r.size, bytes.size()) << r.name;
    pickle = pickle || r.name.find("data.pkl") != std::string::npos;
  }
  EXPECT_TRUE(pickle);
  EXPECT_EQ(verify_zip_crcs(bytes, kSource), records.size());
}

TEST(Zip, AFlippedBitInsideARecordIsRefusedNamingFileAndRecord) {
  const std::string good = teacher_file();
  const auto records = zip_records(good, kSource);
  // The largest record (a tensor's data) and the pickle.
  size_t big = 0;
  for (size_t k = 0; k < records.size(); ++k)
    if (records[k].size > records[big].size) big = k;
  for (size_t k : {big, size_t{0}}) {
    const auto& r = records[k];
    ASSERT_GT(r.size, 0u);
    std::string bad = good;
    bad[r.data_offset + r.size / 2] ^= 0x10;
    EXPECT_THROWS_WITH(verify_zip_crcs(bad, kSource), IoError,
                       kSource + ": damaged tensor file: record '" + r.name + "': CRC-32 mismatch (the data has crc32:");
  }
  // The directory's own CRC changed instead: the same error.
  std::string bad = good;
  bad[records[big].directory_offset + 16] ^= 0x01;
  EXPECT_THROWS_WITH(verify_zip_crcs(bad, kSource), IoError, "record '" + records[big].name + "': CRC-32 mismatch");
}

TEST(Zip, TruncatedOrForeignFilesAreRefusedNamingTheFile) {
  const std::string good = teacher_file();
  EXPECT_THROWS_WITH(verify_zip_crcs(good.substr(0, good.size() - 1), kSource), IoError,
                     kSource + ": damaged tensor file (zip archive: no end of central directory record)");
  EXPECT_THROWS_WITH(verify_zip_crcs(good.substr(0, good.size() / 2), kSource), IoError, kSource + ": damaged tensor file (zip archive: ");
  EXPECT_THROWS_WITH(verify_zip_crcs(good + "tail", kSource), IoError, kSource + ": damaged tensor file (zip archive: ");
  EXPECT_THROWS_WITH(verify_zip_crcs("", kSource), IoError, kSource + ": damaged tensor file (not a zip archive");
  EXPECT_THROWS_WITH(verify_zip_crcs("\x80\x02}q\x00.", kSource), IoError, kSource + ": damaged tensor file (not a zip archive");
  EXPECT_THROWS_WITH(verify_zip_crcs(std::string("PK\x03\x04", 4), kSource), IoError,
                     kSource + ": damaged tensor file (zip archive: shorter than a zip end record)");
  // A directory that claims more entries than it can hold (every count: the end record's two and,
  // as LibTorch writes one, the zip64 end record's two).
  const auto records = zip_records(good, kSource);
  const size_t end = good.size() - 22;
  ASSERT_EQ(good.compare(end - 20, 4, "PK\x06\x07"), 0) << "LibTorch's writer adds a zip64 locator";
  size_t e64 = 0;  // the zip64 end record, where the locator's 8-byte field points
  for (int k = 7; k >= 0; --k) e64 = (e64 << 8) | static_cast<unsigned char>(good[end - 20 + 8 + k]);
  auto put = [](std::string& b, size_t at, uint64_t v, int width) {
    for (int k = 0; k < width; ++k) b[at + k] = static_cast<char>((v >> (8 * k)) & 0xff);
  };
  auto set_counts = [&](std::string& b, uint64_t n, bool zip64) {
    for (size_t at : {end + 8, end + 10}) put(b, at, n, 2);
    if (zip64)
      for (size_t at : {e64 + 24, e64 + 32}) put(b, at, n, 8);
  };
  std::string bad = good;
  set_counts(bad, 0xfefe, true);
  EXPECT_THROWS_WITH(verify_zip_crcs(bad, kSource), IoError, "than the directory holds");
  // fuzz_tensor_file's findings: where two records of the directory's place disagree, miniz (in
  // LibTorch) may read the one this walk did not, and so unpickle records never checked.
  bad = good;
  put(bad, end + 10, records.size() - 2, 2);
  EXPECT_THROWS_WITH(verify_zip_crcs(bad, kSource), IoError, "the end record's two entry counts differ");
  bad = good;
  set_counts(bad, records.size() - 2, false);
  EXPECT_THROWS_WITH(verify_zip_crcs(bad, kSource), IoError, "the zip64 end record and the end record disagree on the directory");
  bad = good;
  bad[e64 + 48 + 7] = '\xff';  // the zip64 directory offset
  EXPECT_THROWS_WITH(verify_zip_crcs(bad, kSource), IoError, "the zip64 end record and the end record disagree on the directory");
  // Every count lower than the directory holds: the entries past them are not ignored.
  bad = good;
  set_counts(bad, records.size() - 2, true);
  EXPECT_THROWS_WITH(verify_zip_crcs(bad, kSource), IoError, "bytes past its " + std::to_string(records.size() - 2) + " entries");
  // An entry whose local header offset points elsewhere.
  bad = good;
  bad[records[1].directory_offset + 42] ^= 0x04;
  EXPECT_THROWS_WITH(verify_zip_crcs(bad, kSource), IoError, "record '" + records[1].name + "': no local header");
}
