// The byte-level encodings of the GDB Remote Serial Protocol: checksums, hex, the '}' escape of
// binary data and run-length encoding. No packet knowledge here.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace agent::rsp {

// The modulo-256 sum of the bytes between '$' and '#'.
uint8_t Checksum(absl::string_view body);

// Bytes as lowercase hex, two digits each ("\x01\xab" -> "01ab").
std::string HexEncode(absl::string_view bytes);
// The reverse; fails on an odd length or a non-hex digit.
absl::StatusOr<std::string> HexDecode(absl::string_view hex);
// One hex digit's value, or -1.
int HexDigit(char c);

// An unsigned hex number as gdb writes addresses and lengths ("7fff0" or "0"); at most 16
// digits, no prefix, not empty.
absl::StatusOr<uint64_t> ParseHex(absl::string_view text);
// A hex number that fits an int, as pids, thread ids and syscall numbers do; what names it in
// the error ("pid 100000000 out of range").
absl::StatusOr<int> ParseHexInt(absl::string_view text, absl::string_view what);
// A signed hex number ("-1" or "1f") as in thread ids.
absl::StatusOr<int64_t> ParseSignedHex(absl::string_view text);

// Binary data in a packet: '#', '$', '}' and '*' become '}' followed by the byte xor 0x20.
std::string EscapeBinary(absl::string_view bytes);
// The reverse; fails on a trailing lone '}'.
absl::StatusOr<std::string> UnescapeBinary(absl::string_view escaped);

// Expands "X*N" run-length sequences as stubs may send them in replies: the repeat count is
// the character after '*' minus 29.
absl::StatusOr<std::string> RunLengthDecode(absl::string_view body);

// A little-endian integer of `size` bytes as hex, the way registers travel.
std::string HexLittleEndian(uint64_t value, int size);

}  // namespace agent::rsp
