#include "agent/rsp/packets/breakpoint.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/rsp/encoding.h"

namespace agent::rsp {

absl::StatusOr<BreakpointPacket> ParseBreakpoint(absl::string_view packet) {
  if (packet.size() < 2 || (packet[0] != 'Z' && packet[0] != 'z')) {
    return absl::InvalidArgumentError(absl::StrCat("not a breakpoint packet: '", packet, "'"));
  }
  // Anything after ';' (conditions, commands) is not offered, so not used.
  const absl::string_view fields_text = packet.substr(1).substr(0, packet.substr(1).find(';'));
  std::vector<absl::string_view> fields = absl::StrSplit(fields_text, ',');
  if (fields.size() != 3 || fields[0].size() != 1 || fields[0][0] < '0' || fields[0][0] > '4') {
    return absl::InvalidArgumentError(absl::StrCat("bad breakpoint packet '", packet, "'"));
  }
  absl::StatusOr<uint64_t> addr = ParseHex(fields[1]);
  if (!addr.ok()) return addr.status();
  absl::StatusOr<uint64_t> kind = ParseHex(fields[2]);
  if (!kind.ok()) return kind.status();
  return BreakpointPacket{packet[0] == 'Z', static_cast<BreakpointType>(fields[0][0] - '0'),
                          *addr, *kind};
}

}  // namespace agent::rsp
