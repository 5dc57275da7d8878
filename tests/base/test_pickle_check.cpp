// The torch-free opcode walk over a tensor file's pickle (util/pickle_check.h): real tensor files
// (the teachers, files our writer wrote) and Python's pickles of every protocol pass; length
// fields that claim more than the record holds, memo indices that skip ahead, unknown opcodes and
// pickles without STOP are refused, naming the record, the opcode and its byte.
#include <cstdint>
#include <filesystem>
#include <string>

#include "legodnn/util/error.h"
#include "legodnn/util/fs.h"
#include "legodnn/util/pickle_check.h"
#include "legodnn/util/zip.h"
#include "test_util.h"

using namespace legodnn;

namespace {
const std::string kWhere = "w.pkl";

// A literal with its NUL bytes (without the terminating one).
template <std::size_t N>
std::string raw(const char (&s)[N]) {
  return std::string(s, N - 1);
}

std::string le(std::uint64_t v, int n) {
  std::string out;
  for (int k = 0; k < n; ++k) out += static_cast<char>((v >> (8 * k)) & 0xff);
  return out;
}

const std::string kProto2 = raw("\x80\x02");
}  // namespace

TEST(PickleCheck, EveryTeachersTensorFileAndEveryFileOurWriterWrotePass) {
  int files = 0;
  for (const char* t : {"resnet20", "mobilenetv2", "vgg11_bn"}) {
    const std::string path = source_dir() + "/teachers/" + t + "/weights.pt";
    EXPECT_EQ(check_tensor_file_pickles(read_file(path), path), 1u) << path;
    ++files;
  }
  // fuzz/seeds/tensor_file/ holds files save_tensors wrote (a block and a last block of the tests'
  // tiny repository; scripts/fuzz.sh --seeds).
  for (const auto& e : std::filesystem::directory_iterator(source_dir() + "/fuzz/seeds/tensor_file")) {
    EXPECT_EQ(check_tensor_file_pickles(read_file(e.path().string()), e.path().string()), 1u) << e.path();
    ++files;
  }
  EXPECT_GE(files, 5);
  // The walk reaches STOP: resnet20's pickle has 3,034 opcodes (Python's pickletools counts the same).
  const std::string bytes = read_file(source_dir() + "/teachers/resnet20/weights.pt");
  int pickles = 0;
  for (const auto& r : zip_records(bytes, "resnet20")) {
    if (r.name != "archive/data.pkl") continue;
    EXPECT_EQ(check_pickle(std::string_view(bytes).substr(r.data_offset, r.size), kWhere), 3034u);
    ++pickles;
  }
  EXPECT_EQ(pickles, 1);
}

TEST(PickleCheck, PythonsPicklesOfEveryProtocolPass) {
  // pickle.dumps({'a': [1, 2.5, b'x', (True, None)], 'b': 'b'}, protocol=p) for p = 0, 2, 4, 5.
  EXPECT_EQ(check_pickle("(dp0\nVa\np1\n(lp2\nI1\naF2.5\nac_codecs\nencode\np3\n(Vx\np4\nVlatin1\np5\ntp6\nRp7\na(I01\nNtp8\n"
                         "asVb\np9\ng9\ns.",
                         kWhere),
            36u);
  EXPECT_EQ(check_pickle(raw("\x80\x02}q\x00(X\x01\x00\x00\x00" "aq\x01]q\x02(K\x01G@\x04\x00\x00\x00\x00\x00\x00"
                             "c_codecs\nencode\nq\x03X\x01\x00\x00\x00xq\x04X\x06\x00\x00\x00latin1q\x05\x86q\x06Rq\x07\x88N\x86q\x08"
                             "eX\x01\x00\x00\x00" "bq\x09h\x09u."),
                         kWhere),
            31u);
  const std::string p4 = raw("\x80\x04\x95&\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01" "a\x94]\x94(K\x01G@\x04\x00\x00\x00\x00\x00\x00"
                             "C\x01x\x94\x88N\x86\x94" "e\x8c\x01" "b\x94h\x05u.");
  EXPECT_EQ(check_pickle(p4, kWhere), 24u);
  std::string p5 = p4;
  p5[1] = 5;
  EXPECT_EQ(check_pickle(p5, kWhere), 24u);
  // 2**70 (LONG1) and bytearray(b'ab') (BYTEARRAY8, protocol 5).
  EXPECT_EQ(check_pickle(raw("\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00@."), kWhere), 3u);
  EXPECT_EQ(check_pickle(raw("\x80\x05\x95\x0d\x00\x00\x00\x00\x00\x00\x00\x96\x02\x00\x00\x00\x00\x00\x00\x00" "ab\x94."), kWhere), 5u);
  // Bytes after STOP are not read (by Python's unpickler either).
  EXPECT_EQ(check_pickle(kProto2 + "N.junk", kWhere), 3u);
}

// fuzz_tensor_file's finding (its CRCs recomputed, so the zip check passes): LibTorch 1.13 reserved
// 4 GiB for this BINUNICODE before finding the data missing.
TEST(PickleCheck, TheFuzzersFourGibStringIsRefusedNamingFileRecordAndByte) {
  const std::string path = source_dir() + "/tests/fixtures/tensor-unpickler-4gib.pt";
  const std::string bytes = read_file(path);
  EXPECT_GT(verify_zip_crcs(bytes, path), 1u);
  EXPECT_THROWS_WITH(check_tensor_file_pickles(bytes, path), IoError,
                     path + ": damaged tensor file: record 'archive/data.pkl': opcode BINUNICODE at byte 573 claims "
                            "4294967294 bytes, the record has 280 left");
}

TEST(PickleCheck, EveryLengthFieldIsCheckedAgainstTheBytesLeft) {
  const std::string tail = "ab.";  // 3 bytes after each length field
  struct Case {
    std::string opcode;
    int width;
    std::uint64_t length;
    const char* name;
  };
  for (const Case& c : {Case{"X", 4, 0xFFFFFFFF, "BINUNICODE"}, Case{"B", 4, 0xFFFFFFFF, "BINBYTES"},
                        Case{"U", 1, 200, "SHORT_BINSTRING"}, Case{"T", 4, 0x7FFFFFFF, "BINSTRING"},
                        Case{"C", 1, 9, "SHORT_BINBYTES"}, Case{"\x8c", 1, 4, "SHORT_BINUNICODE"},
                        Case{"\x8d", 8, std::uint64_t(1) << 63, "BINUNICODE8"},
                        Case{"\x8e", 8, 0xFFFFFFFFFFFFFFFF, "BINBYTES8"}, Case{"\x96", 8, 1000, "BYTEARRAY8"},
                        Case{"\x8a", 1, 255, "LONG1"}, Case{"\x8b", 4, 65536, "LONG4"}}) {
    EXPECT_THROWS_WITH(check_pickle(kProto2 + c.opcode + le(c.length, c.width) + tail, kWhere), IoError,
                       kWhere + ": opcode " + c.name + " at byte 2 claims " + std::to_string(c.length) +
                           " bytes, the record has 3 left");
    // Exactly what is left passes the length check (and then the pickle ends without STOP).
    EXPECT_THROWS_WITH(check_pickle(kProto2 + c.opcode + le(3, c.width) + tail, kWhere), IoError,
                       kWhere + ": the pickle ends at byte " + std::to_string(2 + 1 + c.width + 3) + " without a STOP opcode");
  }
  EXPECT_THROWS_WITH(check_pickle(kProto2 + "T" + le(0xFFFFFFFF, 4) + tail, kWhere), IoError,
                     kWhere + ": opcode BINSTRING at byte 2 claims a negative length (-1)");
  // A frame holds the opcodes that follow it: its length too must fit.
  EXPECT_THROWS_WITH(check_pickle(raw("\x80\x04\x95") + le(1000, 8) + "}.", kWhere), IoError,
                     kWhere + ": opcode FRAME at byte 2 claims a frame of 1000 bytes, the record has 2 left");
  // The length field itself, or a fixed argument, cut off by the record's end.
  EXPECT_THROWS_WITH(check_pickle(kProto2 + raw("X\x01\x00"), kWhere), IoError,
                     kWhere + ": opcode BINUNICODE at byte 2 needs 4 bytes, the record has 2 left");
  EXPECT_THROWS_WITH(check_pickle(kProto2 + "}J\x01", kWhere), IoError,
                     kWhere + ": opcode BININT at byte 3 needs 4 bytes, the record has 1 left");
  EXPECT_THROWS_WITH(check_pickle(kProto2 + "Vabc", kWhere), IoError,
                     kWhere + ": opcode UNICODE at byte 2: its text argument has no newline before the record ends");
}

TEST(PickleCheck, MemoIndicesMustNotSkipAheadOrReadWhatWasNeverPut) {
  // LONG_BINPUT 0xFFFFFFFF would have an unpickler grow its memo to 4 billion entries.
  EXPECT_THROWS_WITH(check_pickle(kProto2 + "}r" + le(0xFFFFFFFF, 4) + ".", kWhere), IoError,
                     kWhere + ": opcode LONG_BINPUT at byte 3 puts memo entry 4294967295, but only 0 entries exist");
  EXPECT_THROWS_WITH(check_pickle(kProto2 + raw("}q\x00h\x03."), kWhere), IoError,
                     kWhere + ": opcode BINGET at byte 5 reads memo entry 3, but only 1 entries were put");
  EXPECT_THROWS_WITH(check_pickle("(dp0\ng7\n.", kWhere), IoError,
                     kWhere + ": opcode GET at byte 5 reads memo entry 7, but only 1 entries were put");
  EXPECT_THROWS_WITH(check_pickle("(dpxy\n.", kWhere), IoError,
                     kWhere + ": opcode PUT at byte 2: memo index 'xy' is not a decimal number");
  // Putting an existing entry again is allowed (it replaces it).
  EXPECT_EQ(check_pickle(kProto2 + raw("}q\x00q\x00h\x00."), kWhere), 6u);
}

TEST(PickleCheck, UnknownOpcodesProtocolsAndMissingStopAreRefused) {
  EXPECT_THROWS_WITH(check_pickle(kProto2 + "}\xff.", kWhere), IoError, kWhere + ": unknown pickle opcode 0xff at byte 3");
  EXPECT_THROWS_WITH(check_pickle(raw("\x80\x09N."), kWhere), IoError,
                     kWhere + ": opcode PROTO at byte 0 asks for protocol 9 (pickle protocols go up to 5)");
  EXPECT_THROWS_WITH(check_pickle(kProto2 + "}", kWhere), IoError, kWhere + ": the pickle ends at byte 3 without a STOP opcode");
  EXPECT_THROWS_WITH(check_pickle("", kWhere), IoError, kWhere + ": the pickle ends at byte 0 without a STOP opcode");
}
