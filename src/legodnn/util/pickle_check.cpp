#include "legodnn/util/pickle_check.h"

#include <array>
#include <cstdint>

#include "legodnn/util/error.h"
#include "legodnn/util/zip.h"

namespace legodnn {
namespace {

// How an opcode's argument is laid out (Python's pickletools names these argument descriptors).
enum class Arg : std::uint8_t {
  None,
  Fixed1, Fixed2, Fixed4, Fixed8,  // an integer or float of that many bytes
  Line, TwoLines,                  // protocol 0 text, up to a newline (GLOBAL and INST: two)
  Len1, Len4, SignedLen4, Len8,    // a little-endian length, then that many bytes
};
// What the opcode does to the memo (the table PUT fills and GET reads).
enum class Memo : std::uint8_t { None, Put, Get, Append };

struct Op {
  const char* name = nullptr;  // nullptr: not an opcode
  Arg arg = Arg::None;
  Memo memo = Memo::None;
};

// Every opcode of pickle protocols 0 to 5. torch.save and torch::pickle_save write protocol 2;
// the rest costs one line each and keeps a file written by another pickler from being refused
// for an opcode LibTorch may well read.
std::array<Op, 256> make_ops() {
  std::array<Op, 256> t{};
  auto op = [&t](unsigned char c, const char* name, Arg arg = Arg::None, Memo memo = Memo::None) {
    t[c] = Op{name, arg, memo};
  };
  // Protocol 0 and 1.
  op('(', "MARK"); op('.', "STOP"); op('0', "POP"); op('1', "POP_MARK"); op('2', "DUP");
  op('F', "FLOAT", Arg::Line); op('I', "INT", Arg::Line); op('L', "LONG", Arg::Line);
  op('J', "BININT", Arg::Fixed4); op('K', "BININT1", Arg::Fixed1); op('M', "BININT2", Arg::Fixed2);
  op('N', "NONE"); op('P', "PERSID", Arg::Line); op('Q', "BINPERSID"); op('R', "REDUCE");
  op('S', "STRING", Arg::Line); op('T', "BINSTRING", Arg::SignedLen4); op('U', "SHORT_BINSTRING", Arg::Len1);
  op('V', "UNICODE", Arg::Line); op('X', "BINUNICODE", Arg::Len4);
  op('a', "APPEND"); op('b', "BUILD"); op('c', "GLOBAL", Arg::TwoLines); op('d', "DICT"); op('}', "EMPTY_DICT");
  op('e', "APPENDS"); op('g', "GET", Arg::Line, Memo::Get); op('h', "BINGET", Arg::Fixed1, Memo::Get);
  op('i', "INST", Arg::TwoLines); op('j', "LONG_BINGET", Arg::Fixed4, Memo::Get); op('l', "LIST");
  op(']', "EMPTY_LIST"); op('o', "OBJ"); op('p', "PUT", Arg::Line, Memo::Put);
  op('q', "BINPUT", Arg::Fixed1, Memo::Put); op('r', "LONG_BINPUT", Arg::Fixed4, Memo::Put);
  op('s', "SETITEM"); op('t', "TUPLE"); op(')', "EMPTY_TUPLE"); op('u', "SETITEMS"); op('G', "BINFLOAT", Arg::Fixed8);
  // Protocol 2.
  op(0x80, "PROTO", Arg::Fixed1); op(0x81, "NEWOBJ"); op(0x82, "EXT1", Arg::Fixed1); op(0x83, "EXT2", Arg::Fixed2);
  op(0x84, "EXT4", Arg::Fixed4); op(0x85, "TUPLE1"); op(0x86, "TUPLE2"); op(0x87, "TUPLE3");
  op(0x88, "NEWTRUE"); op(0x89, "NEWFALSE"); op(0x8a, "LONG1", Arg::Len1); op(0x8b, "LONG4", Arg::SignedLen4);
  // Protocol 3.
  op('B', "BINBYTES", Arg::Len4); op('C', "SHORT_BINBYTES", Arg::Len1);
  // Protocol 4.
  op(0x8c, "SHORT_BINUNICODE", Arg::Len1); op(0x8d, "BINUNICODE8", Arg::Len8); op(0x8e, "BINBYTES8", Arg::Len8);
  op(0x8f, "EMPTY_SET"); op(0x90, "ADDITEMS"); op(0x91, "FROZENSET"); op(0x92, "NEWOBJ_EX");
  op(0x93, "STACK_GLOBAL"); op(0x94, "MEMOIZE", Arg::None, Memo::Append); op(0x95, "FRAME", Arg::Fixed8);
  // Protocol 5.
  op(0x96, "BYTEARRAY8", Arg::Len8); op(0x97, "NEXT_BUFFER"); op(0x98, "READONLY_BUFFER");
  return t;
}

const std::array<Op, 256>& ops() {
  static const std::array<Op, 256> table = make_ops();
  return table;
}

std::uint64_t little_endian(std::string_view p, std::size_t at, int n) {
  std::uint64_t v = 0;
  for (int k = n - 1; k >= 0; --k) v = (v << 8) | static_cast<unsigned char>(p[at + static_cast<std::size_t>(k)]);
  return v;
}

std::string hex_byte(unsigned char c) {
  const char* digits = "0123456789abcdef";
  return std::string("0x") + digits[c >> 4] + digits[c & 15];
}

}  // namespace

std::size_t check_pickle(std::string_view p, const std::string& where) {
  const auto& table = ops();
  std::uint64_t memo_size = 0;  // picklers number memo entries densely from 0
  std::size_t count = 0;
  std::size_t at = 0;
  while (at < p.size()) {
    const std::size_t start = at;
    const unsigned char code = static_cast<unsigned char>(p[at++]);
    const Op& op = table[code];
    if (!op.name) throw IoError(where + ": unknown pickle opcode " + hex_byte(code) + " at byte " + std::to_string(start));
    ++count;
    // Built only for an error: a tensor file's pickle has thousands of opcodes.
    auto what = [&] { return where + ": opcode " + op.name + " at byte " + std::to_string(start); };
    auto need = [&](std::uint64_t n, const char* of) {
      const std::size_t left = p.size() - at;
      if (n > left)
        throw IoError(what() + " " + of + " " + std::to_string(n) + " bytes, the record has " + std::to_string(left) + " left");
    };
    std::uint64_t value = 0;  // the integer argument, for PROTO, FRAME and the memo opcodes
    bool has_value = false;
    switch (op.arg) {
      case Arg::None: break;
      case Arg::Fixed1: case Arg::Fixed2: case Arg::Fixed4: case Arg::Fixed8: {
        const int n = op.arg == Arg::Fixed1 ? 1 : op.arg == Arg::Fixed2 ? 2 : op.arg == Arg::Fixed4 ? 4 : 8;
        need(static_cast<std::uint64_t>(n), "needs");
        value = little_endian(p, at, n);
        has_value = true;
        at += static_cast<std::size_t>(n);
        break;
      }
      case Arg::Line: case Arg::TwoLines: {
        const std::size_t arg = at;
        for (int lines = op.arg == Arg::Line ? 1 : 2; lines > 0; --lines) {
          const std::size_t nl = p.find('\n', at);
          if (nl == std::string_view::npos) throw IoError(what() + ": its text argument has no newline before the record ends");
          at = nl + 1;
        }
        if (op.memo != Memo::None) {  // a decimal memo index
          const std::string_view digits = p.substr(arg, at - 1 - arg);
          if (digits.empty() || digits.size() > 19 || digits.find_first_not_of("0123456789") != std::string_view::npos)
            throw IoError(what() + ": memo index '" + std::string(digits.substr(0, 20)) + "' is not a decimal number");
          for (char c : digits) value = value * 10 + static_cast<std::uint64_t>(c - '0');
          has_value = true;
        }
        break;
      }
      case Arg::Len1: case Arg::Len4: case Arg::SignedLen4: case Arg::Len8: {
        const int n = op.arg == Arg::Len1 ? 1 : op.arg == Arg::Len8 ? 8 : 4;
        need(static_cast<std::uint64_t>(n), "needs");
        std::uint64_t len = little_endian(p, at, n);
        at += static_cast<std::size_t>(n);
        if (op.arg == Arg::SignedLen4 && len >= 0x80000000u)
          throw IoError(what() + " claims a negative length (" + std::to_string(static_cast<std::int64_t>(len) - 0x100000000LL) + ")");
        need(len, "claims");
        at += static_cast<std::size_t>(len);
        break;
      }
    }
    if (code == 0x80 && value > 5)
      throw IoError(what() + " asks for protocol " + std::to_string(value) + " (pickle protocols go up to 5)");
    if (code == 0x95) need(value, "claims a frame of");  // the frame's opcodes follow it
    if (op.memo == Memo::Put && has_value) {
      // A PUT far ahead of the memo built so far would make an unpickler grow its memo to that index.
      if (value > memo_size)
        throw IoError(what() + " puts memo entry " + std::to_string(value) + ", but only " + std::to_string(memo_size) +
                      " entries exist (a pickler numbers them from 0)");
      if (value == memo_size) ++memo_size;
    } else if (op.memo == Memo::Get && value >= memo_size) {
      throw IoError(what() + " reads memo entry " + std::to_string(value) + ", but only " + std::to_string(memo_size) +
                    " entries were put");
    } else if (op.memo == Memo::Append) {
      ++memo_size;
    }
    if (code == '.') return count;
  }
  throw IoError(where + ": the pickle ends at byte " + std::to_string(p.size()) + " without a STOP opcode");
}

std::size_t check_tensor_file_pickles(const std::string& bytes, const std::string& source) {
  std::size_t checked = 0;
  for (const auto& r : zip_records(bytes, source)) {
    if (r.name.size() < 4 || r.name.compare(r.name.size() - 4, 4, ".pkl") != 0) continue;
    const std::string where = source + ": damaged tensor file: record '" + r.name + "'";
    if (r.method != 0) throw IoError(where + ": a compressed pickle record (tensor files hold stored records only)");
    check_pickle(std::string_view(bytes).substr(static_cast<std::size_t>(r.data_offset), static_cast<std::size_t>(r.size)), where);
    ++checked;
  }
  return checked;
}

}  // namespace legodnn
