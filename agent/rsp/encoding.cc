#include "agent/rsp/encoding.h"

#include <array>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace agent::rsp {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

bool NeedsEscape(char c) { return c == '#' || c == '$' || c == '}' || c == '*'; }

}  // namespace

uint8_t Checksum(absl::string_view body) {
  uint8_t sum = 0;
  for (char c : body) sum += static_cast<uint8_t>(c);
  return sum;
}

std::string HexEncode(absl::string_view bytes) {
  // Both digits of a byte at once from a table, into a buffer sized up front: memory reads put
  // 64 KiB through here per packet, and a push_back per digit was a tenth of the agent's time.
  static constexpr std::array<char, 512> kPairs = [] {
    std::array<char, 512> pairs{};
    for (int b = 0; b < 256; b++) {
      pairs[2 * b] = kHexDigits[b >> 4];
      pairs[2 * b + 1] = kHexDigits[b & 0xf];
    }
    return pairs;
  }();
  std::string out(bytes.size() * 2, '\0');
  char* p = out.data();
  for (char c : bytes) {
    std::memcpy(p, &kPairs[2 * static_cast<uint8_t>(c)], 2);
    p += 2;
  }
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::StatusOr<std::string> HexDecode(absl::string_view hex) {
  if (hex.size() % 2 != 0) {
    return absl::InvalidArgumentError(absl::StrCat("odd-length hex data '", hex, "'"));
  }
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = HexDigit(hex[i]), lo = HexDigit(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError(absl::StrCat("bad hex data '", hex, "'"));
    }
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

absl::StatusOr<uint64_t> ParseHex(absl::string_view text) {
  if (text.empty() || text.size() > 16) {
    return absl::InvalidArgumentError(absl::StrCat("bad hex number '", text, "'"));
  }
  uint64_t value = 0;
  for (char c : text) {
    const int d = HexDigit(c);
    if (d < 0) return absl::InvalidArgumentError(absl::StrCat("bad hex number '", text, "'"));
    value = value << 4 | static_cast<uint64_t>(d);
  }
  return value;
}

absl::StatusOr<int> ParseHexInt(absl::string_view text, absl::string_view what) {
  absl::StatusOr<uint64_t> n = ParseHex(text);
  if (!n.ok()) return n.status();
  if (*n > 0x7fffffff) {
    return absl::InvalidArgumentError(absl::StrCat(what, " ", text, " out of range"));
  }
  return static_cast<int>(*n);
}

absl::StatusOr<int64_t> ParseSignedHex(absl::string_view text) {
  const bool negative = !text.empty() && text[0] == '-';
  if (negative) text.remove_prefix(1);
  absl::StatusOr<uint64_t> magnitude = ParseHex(text);
  if (!magnitude.ok()) return magnitude.status();
  if (*magnitude > static_cast<uint64_t>(INT64_MAX)) {
    return absl::InvalidArgumentError(absl::StrCat("hex number '", text, "' out of range"));
  }
  const int64_t value = static_cast<int64_t>(*magnitude);
  return negative ? -value : value;
}

std::string EscapeBinary(absl::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 8);
  for (char c : bytes) {
    if (NeedsEscape(c)) {
      out.push_back('}');
      out.push_back(static_cast<char>(c ^ 0x20));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

absl::StatusOr<std::string> UnescapeBinary(absl::string_view escaped) {
  std::string out;
  out.reserve(escaped.size());
  for (size_t i = 0; i < escaped.size(); ++i) {
    if (escaped[i] != '}') {
      out.push_back(escaped[i]);
      continue;
    }
    if (++i == escaped.size()) {
      return absl::InvalidArgumentError("binary data ends in the middle of an escape");
    }
    out.push_back(static_cast<char>(escaped[i] ^ 0x20));
  }
  return out;
}

absl::StatusOr<std::string> RunLengthDecode(absl::string_view body) {
  std::string out;
  out.reserve(body.size());
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '*') {
      out.push_back(body[i]);
      continue;
    }
    if (out.empty() || i + 1 == body.size()) {
      return absl::InvalidArgumentError("run-length marker without a byte to repeat or a count");
    }
    const int count = static_cast<uint8_t>(body[++i]) - 29;
    if (count < 0) {
      return absl::InvalidArgumentError(absl::StrCat("bad run-length count ", count));
    }
    out.append(static_cast<size_t>(count), out.back());
  }
  return out;
}

std::string HexLittleEndian(uint64_t value, int size) {
  std::string out;
  out.reserve(static_cast<size_t>(size) * 2);
  for (int i = 0; i < size; ++i) {
    const uint8_t b = static_cast<uint8_t>(i < 8 ? value >> (8 * i) : 0);
    out.push_back(kHexDigits[b >> 4]);
    out.push_back(kHexDigits[b & 0xf]);
  }
  return out;
}

}  // namespace agent::rsp
