#include "agent/rsp/packets/thread.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace agent::rsp {

absl::StatusOr<SetThread> ParseSetThread(absl::string_view packet) {
  if (packet.size() < 3 || packet[0] != 'H' || (packet[1] != 'g' && packet[1] != 'c')) {
    return absl::InvalidArgumentError(absl::StrCat("bad H packet '", packet, "'"));
  }
  absl::StatusOr<ThreadId> id = ParseThreadId(packet.substr(2));
  if (!id.ok()) return id.status();
  return SetThread{packet[1], *id};
}

absl::StatusOr<ThreadId> ParseThreadAlive(absl::string_view packet) {
  if (packet.size() < 2 || packet[0] != 'T') {
    return absl::InvalidArgumentError(absl::StrCat("bad T packet '", packet, "'"));
  }
  return ParseThreadId(packet.substr(1));
}

}  // namespace agent::rsp
