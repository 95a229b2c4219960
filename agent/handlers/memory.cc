// m, M and X, through the stop's memory cache. A read that runs into unmapped memory returns
// what was readable, as gdb expects.
#include "absl/strings/str_format.h"
#include "agent/handlers/handlers.h"
#include "agent/log.h"
#include "agent/rsp/encoding.h"
#include "agent/rsp/packets/memory.h"

namespace agent {
namespace {

// gdb's errno-style error for memory it cannot touch (EFAULT).
constexpr char kFault[] = "E0e";

}  // namespace

Response Handlers::ReadMemory(absl::string_view packet) {
  absl::StatusOr<rsp::MemoryRead> req = rsp::ParseMemoryRead(packet.substr(1));
  if (!req.ok()) {
    Log(req.status().message());
    return Response{{"E01"}};
  }
  // The reply is hex: two characters a byte must fit in one packet.
  const uint64_t len = std::min<uint64_t>(req->length, (kPacketSize - 4) / 2);
  if (len == 0) return Response{{""}};
  absl::StatusOr<std::string> data = memory_.Read(req->addr, len);
  if (!data.ok()) {
    if (Verbose()) Log(data.status().message());
    return Response{{kFault}};
  }
  return Response{{rsp::HexEncode(*data)}};
}

Response Handlers::WriteMemory(absl::string_view packet) {
  absl::StatusOr<rsp::MemoryWrite> req = packet[0] == 'X'
                                             ? rsp::ParseMemoryWriteBinary(packet.substr(1))
                                             : rsp::ParseMemoryWriteHex(packet.substr(1));
  if (!req.ok()) {
    Log(req.status().message());
    return Response{{"E01"}};
  }
  // An empty X is gdb probing whether X works at all.
  if (req->data.empty()) return Response{{"OK"}};
  absl::Status s = memory_.Write(req->addr, req->data);
  if (!s.ok()) {
    Log(s.message());
    return Response{{kFault}};
  }
  return Response{{"OK"}};
}

}  // namespace agent
