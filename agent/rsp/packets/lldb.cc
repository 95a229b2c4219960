#include "agent/rsp/packets/lldb.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/rsp/encoding.h"

namespace agent::rsp {

std::string OffsetsReply(uint64_t bias) {
  return absl::StrFormat("Text=%x;Data=%x;Bss=%x", bias, bias, bias);
}

absl::StatusOr<uint64_t> ParseMemoryRegionInfo(absl::string_view packet) {
  if (!absl::ConsumePrefix(&packet, "qMemoryRegionInfo:")) {
    return absl::InvalidArgumentError("qMemoryRegionInfo needs an address");
  }
  return ParseHex(packet);
}

absl::StatusOr<int> ParseThreadStopInfo(absl::string_view packet) {
  if (!absl::ConsumePrefix(&packet, "qThreadStopInfo")) {
    return absl::InvalidArgumentError("not a qThreadStopInfo packet");
  }
  absl::StatusOr<int> tid = ParseHexInt(packet, "thread id");
  if (tid.ok() && *tid == 0) return absl::InvalidArgumentError("thread id 0 names no thread");
  return tid;
}

std::string MemoryRegionInfoReply(const MemoryRange& range) {
  std::string out = absl::StrFormat("start:%x;size:%x;", range.start, range.size);
  if (!range.mapped) return out;
  std::string perms;
  if (range.read) perms += 'r';
  if (range.write) perms += 'w';
  if (range.exec) perms += 'x';
  absl::StrAppend(&out, "permissions:", perms, ";");
  if (!range.name.empty()) absl::StrAppend(&out, "name:", HexEncode(range.name), ";");
  if (range.stack) absl::StrAppend(&out, "type:stack;");
  return out;
}

}  // namespace agent::rsp
