// The shared format utilities (util/format.h) and the check helpers (util/error.h).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "legodnn/util/error.h"
#include "legodnn/util/format.h"
#include "test_util.h"

using namespace legodnn;
using nlohmann::json;
namespace fs = std::filesystem;
using legodnn::testing::TempDir;

namespace {

void write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}
}  // namespace

TEST(Format, PathContainmentAcceptsPlainRelativePaths) {
  for (const char* ok : {"frame.pt", "blocks/b0_d1.pt", "s0.2", "a/b/c", "..x", "x..", ".hidden", "a/.b"})
    EXPECT_EQ(path_containment_problem(ok), "") << ok;
  EXPECT_EQ(resolve_inside("/repo", "blocks/b0.pt"), "/repo/blocks/b0.pt");
}

TEST(Format, PathContainmentRefusesEveryEscape) {
  EXPECT_EQ(path_containment_problem(""), "it is empty");
  EXPECT_EQ(path_containment_problem("/etc/passwd"), "it is absolute");
  EXPECT_EQ(path_containment_problem(".."), "it has a \"..\" component");
  EXPECT_EQ(path_containment_problem("../x.pt"), "it has a \"..\" component");
  EXPECT_EQ(path_containment_problem("a/../b"), "it has a \"..\" component");
  EXPECT_EQ(path_containment_problem("a/.."), "it has a \"..\" component");
  EXPECT_EQ(path_containment_problem("."), "it has a \".\" component");
  EXPECT_EQ(path_containment_problem("./x"), "it has a \".\" component");
  EXPECT_EQ(path_containment_problem("a/./b"), "it has a \".\" component");
  EXPECT_EQ(path_containment_problem("a//b"), "it has an empty component");
  EXPECT_EQ(path_containment_problem("a/"), "it has an empty component");
  EXPECT_EQ(path_containment_problem(std::string("a\0b", 3)), "it holds a NUL character");
  EXPECT_THROWS_WITH(resolve_inside("/repo", "a/../../b"), IoError,
                     "/repo: \"a/../../b\" is not a relative path inside the folder (it has a \"..\" component)");
}

TEST(Format, FieldReaderAppliesThePathPolicy) {
  FieldReader f("set/baseline.json");
  const json j = {{"v", {{"dir", "a/../b"}}}, {"w", {{"dir", "ok/x"}}}};
  EXPECT_THROWS_WITH(f.relative_path(j["v"], "v", "dir", "the set's folder"), IoError,
                     "set/baseline.json: v.dir: \"a/../b\" is not a relative path inside the set's folder");
  EXPECT_EQ(f.relative_path(j["w"], "w", "dir", "the set's folder"), "ok/x");
}

TEST(Format, ShapeStringsHaveNoTrailingComma) {
  EXPECT_EQ(shape_string({}), "[]");
  EXPECT_EQ(shape_string({10}), "[10]");
  EXPECT_EQ(shape_string({1, 28, 28}), "[1,28,28]");
  EXPECT_EQ(shape_string({-1, 3}), "[-1,3]");
}

TEST(Format, ChecksumsRoundTrip) {
  for (std::uint32_t crc : {0u, 1u, 0xdeadbeefu, 0xffffffffu, 0x00abcdefu}) {
    const std::string s = format_checksum(crc);
    EXPECT_EQ(s.size(), 14u) << s;
    EXPECT_TRUE(is_checksum(s)) << s;
    std::uint32_t back = 7;
    ASSERT_TRUE(parse_checksum(s, back)) << s;
    EXPECT_EQ(back, crc);
  }
  EXPECT_EQ(format_checksum(0xdeadbeefu), "crc32:deadbeef");
  std::uint32_t untouched = 7;
  for (const char* bad : {"", "crc32:", "crc32:DEADBEEF", "crc32:deadbee", "crc32:deadbeef0", "md5:deadbeef",
                          "crc32:deadbeeg", "crc32: eadbeef"}) {
    EXPECT_FALSE(is_checksum(bad)) << bad;
    EXPECT_FALSE(parse_checksum(bad, untouched)) << bad;
  }
  EXPECT_EQ(untouched, 7u);
  // zlib's crc32 of "123456789" is the standard check value.
  EXPECT_EQ(Crc32().update("123456789").checksum(), "crc32:cbf43926");
  EXPECT_EQ(Crc32().update("1234").update("56789").value(), 0xcbf43926u);
  TempDir tmp;
  write(tmp.path + "/f", "123456789");
  EXPECT_EQ(file_checksum(tmp.path + "/f"), "crc32:cbf43926");
  FieldReader f("m.json");
  const json j = {{"c", "crc32:XYZ"}};
  EXPECT_THROWS_WITH(f.checksum(j, "", "c"), IoError, "m.json: c: expected \"crc32:\" and 8 lower-case hex digits");
}

TEST(Format, ReadJsonFileNamesTheFile) {
  TempDir tmp;
  const std::string good = tmp.path + "/good.json";
  write(good, R"({"a": [1, [2, [3]]], "b": "x"})");
  EXPECT_EQ(read_json_file(good)["b"], "x");
  const std::string bad = tmp.path + "/bad.json";
  write(bad, R"({"a": )");
  EXPECT_THROWS_WITH(read_json_file(bad), IoError, bad + ": not valid JSON (");
  EXPECT_THROWS_WITH(read_json_file(tmp.path + "/none.json"), IoError, tmp.path + "/none.json: cannot open");
}

TEST(Format, DeeplyNestedJsonIsAnErrorNotAStackOverflow) {
  TempDir tmp;
  const std::string path = tmp.path + "/deep.json";
  write(path, std::string(100000, '[') + std::string(100000, ']'));
  EXPECT_THROWS_WITH(read_json_file(path), IoError, path + ": nested deeper than 64 levels");
  // The limit itself: 64 levels load, 65 do not.
  write(path, std::string(64, '[') + std::string(64, ']'));
  EXPECT_NO_THROW(read_json_file(path));
  write(path, "{\"a\":" + std::string(64, '[') + std::string(64, ']') + "}");
  EXPECT_THROWS_WITH(read_json_file(path), IoError, "nested deeper than 64 levels");
  JsonLimits shallow;
  shallow.max_depth = 2;
  write(path, R"({"a": {"b": 1}})");
  EXPECT_NO_THROW(read_json_file(path, shallow));
  write(path, R"({"a": {"b": [1]}})");
  EXPECT_THROWS_WITH(read_json_file(path, shallow), IoError, "nested deeper than 2 levels");
}

TEST(Format, OversizedJsonIsRefusedBeforeReading) {
  TempDir tmp;
  const std::string path = tmp.path + "/big.json";
  write(path, "[" + std::string(100, ' ') + "1]");
  JsonLimits small;
  small.max_bytes = 64;
  EXPECT_THROWS_WITH(read_json_file(path, small), IoError, path + ": 103 bytes, more than the 64");
  EXPECT_NO_THROW(read_json_file(path));
}

TEST(Format, FieldReaderNamesFileAndField) {
  FieldReader f("x/manifest.json");
  const json j = {{"n", "three"}, {"s", {1, 0}}, {"e", json::array()}, {"i", 5}, {"x", 1.5}};
  EXPECT_THROWS_WITH(f.get(j, "blocks[1]", "missing"), IoError, "x/manifest.json: blocks[1].missing: missing");
  EXPECT_THROWS_WITH(f.integer(j, "", "n", 0), IoError, "x/manifest.json: n: expected an integer, got string \"three\"");
  EXPECT_THROWS_WITH(f.integer(j, "", "i", 6), IoError, "i: must be at least 6, got 5");
  EXPECT_THROWS_WITH(f.number(j, "", "x", 0.0, 1.0), IoError, "x: 1.5 is outside [0.0, 1.0]");
  EXPECT_THROWS_WITH(f.shape(j, "", "s"), IoError, "s: expected a list of positive integers, got [1,0]");
  EXPECT_THROWS_WITH(f.shape(j, "", "e"), IoError, "e: must not be empty");
  EXPECT_EQ(f.find(j, "", "absent", JsonKind::Object), nullptr);
  EXPECT_THROWS_WITH(f.find(j, "", "i", JsonKind::Object), IoError, "i: expected an object, got number 5");
  EXPECT_EQ(FieldReader::index(FieldReader::join("blocks", "descendants"), 2), "blocks.descendants[2]");
}

TEST(Checks, MessageIsBuiltOnlyOnFailure) {
  int built = 0;
  auto part = [&] {
    ++built;
    return std::string("built");
  };
  LEGODNN_CHECK(1 + 1 == 2, OptionError, "never ", part());
  EXPECT_EQ(built, 0);
  EXPECT_THROWS_WITH(LEGODNN_CHECK(false, OptionError, "value ", 3, " of ", std::size_t{7}, ' ', part(), " ", 0.5),
                     OptionError, "value 3 of 7 built 0.500000");
  EXPECT_EQ(built, 1);
}

TEST(Checks, InternalAssertionSaysItIsABug) {
  LEGODNN_INTERNAL_ASSERT(true, "fine");
  EXPECT_THROWS_WITH(LEGODNN_INTERNAL_ASSERT(2 < 1, "two is ", 2), InternalError, "internal error (a bug in legodnn)");
  EXPECT_THROWS_WITH(LEGODNN_INTERNAL_ASSERT(2 < 1, "two is ", 2), InternalError, "'2 < 1' does not hold: two is 2");
  try {
    LEGODNN_INTERNAL_ASSERT(false);
  } catch (const InternalError& e) {
    EXPECT_NE(std::string(e.what()).find("test_format.cpp:"), std::string::npos) << e.what();
  }
}
