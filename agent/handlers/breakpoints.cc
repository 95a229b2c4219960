// Z and z: software and hardware breakpoints, write/read/access watchpoints.
#include "agent/handlers/handlers.h"
#include "agent/log.h"
#include "agent/rsp/packets/breakpoint.h"
#include "agent/rsp/packets/misc.h"

namespace agent {
namespace {

BreakpointKind KindOf(rsp::BreakpointType type) {
  switch (type) {
    case rsp::BreakpointType::kSoftware: return BreakpointKind::kSoftware;
    case rsp::BreakpointType::kHardware: return BreakpointKind::kHardware;
    case rsp::BreakpointType::kWatchWrite: return BreakpointKind::kWatchWrite;
    case rsp::BreakpointType::kWatchRead: return BreakpointKind::kWatchRead;
    case rsp::BreakpointType::kWatchAccess: return BreakpointKind::kWatchAccess;
  }
  return BreakpointKind::kSoftware;
}

}  // namespace

Response Handlers::Breakpoint(absl::string_view packet) {
  absl::StatusOr<rsp::BreakpointPacket> bp = rsp::ParseBreakpoint(packet);
  if (!bp.ok()) {
    Log(bp.status().message());
    return Response{{"E01"}};
  }
  const BreakpointKind kind = KindOf(bp->type);
  // Breakpoints are one address; km wants a length only for watchpoints.
  const uint64_t len =
      kind == BreakpointKind::kSoftware || kind == BreakpointKind::kHardware ? 1 : bp->kind;
  const BreakpointActions actions{bp->conditions, bp->commands, bp->persist_commands};
  absl::Status s = bp->insert ? breakpoints_.Insert(kind, bp->addr, len, actions)
                              : breakpoints_.Remove(kind, bp->addr, len);
  if (s.ok()) return Response{{"OK"}};
  Log(s.message());
  // Not supported by this engine: the empty reply lets gdb fall back (software watchpoints).
  if (absl::IsUnimplemented(s)) return Response{{""}};
  return Response{{"E01"}};
}

Response Handlers::CatchSyscalls(absl::string_view packet) {
  absl::StatusOr<rsp::CatchSyscalls> req = rsp::ParseCatchSyscalls(packet);
  if (!req.ok()) {
    Log(req.status().message());
    return Response{{"E01"}};
  }
  absl::Status s = target_.CatchSyscalls(req->enabled, req->numbers);
  if (!s.ok()) return Failed(s);
  return Response{{"OK"}};
}

}  // namespace agent
