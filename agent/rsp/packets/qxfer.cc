#include "agent/rsp/packets/qxfer.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/rsp/encoding.h"

namespace agent::rsp {

absl::StatusOr<XferRead> ParseXferRead(absl::string_view packet) {
  if (!absl::ConsumePrefix(&packet, "qXfer:")) {
    return absl::InvalidArgumentError(absl::StrCat("not a qXfer packet: '", packet, "'"));
  }
  // OBJECT:read:ANNEX:OFFSET,LENGTH; the annex may not contain ':' (gdb hex-encodes none here).
  std::vector<absl::string_view> parts = absl::StrSplit(packet, absl::MaxSplits(':', 3));
  if (parts.size() != 4 || parts[1] != "read") {
    return absl::InvalidArgumentError(absl::StrCat("unsupported qXfer request 'qXfer:", packet, "'"));
  }
  std::vector<absl::string_view> range = absl::StrSplit(parts[3], ',');
  if (range.size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat("bad qXfer range '", parts[3], "'"));
  }
  absl::StatusOr<uint64_t> offset = ParseHex(range[0]);
  if (!offset.ok()) return offset.status();
  absl::StatusOr<uint64_t> length = ParseHex(range[1]);
  if (!length.ok()) return length.status();
  return XferRead{std::string(parts[0]), std::string(parts[2]), *offset, *length};
}

std::string XferReply(absl::string_view document, uint64_t offset, uint64_t length) {
  if (offset >= document.size()) return "l";
  absl::string_view chunk = document.substr(offset, length);
  const bool last = offset + chunk.size() >= document.size();
  return absl::StrCat(last ? "l" : "m", EscapeBinary(chunk));
}

std::string XmlEscape(absl::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20) out.push_back(c);
    }
  }
  return out;
}

}  // namespace agent::rsp
