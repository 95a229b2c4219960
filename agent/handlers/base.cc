// The connection's basics: feature negotiation, the stop status, detach and kill.
#include <csignal>

#include "absl/strings/str_format.h"
#include "agent/handlers/handlers.h"
#include "agent/log.h"
#include "agent/rsp/packets/misc.h"

namespace agent {

Response Failed(const absl::Status& s) {
  Log(s.message());
  return Response{{"E01"}};
}

Handlers::~Handlers() = default;

void Handlers::Disconnect() {
  if (detached_ || payload_gone()) return;
  if (absl::Status s = target_.Detach(); !s.ok()) Log(s.message());
  detached_ = true;
}

std::string Handlers::SupportedFeatures(bool multiprocess, bool reverse) {
  // gdb's reverse-* commands work only with a target that offers bs or bc. Tracing: gdb sends
  // tracepoint conditions only with ConditionalTracepoints; with traceframe-info it reads what
  // a frame did not collect from the executable's read-only sections. Not offered: QTDPsrc,
  // disconnected tracing, fast and static tracepoints, changes to a running trace.
  return absl::StrFormat(
      "PacketSize=%x;QStartNoAckMode+;qXfer:features:read+;qXfer:auxv:read+;"
      "qXfer:exec-file:read+;qXfer:threads:read+;qXfer:siginfo:read+;vContSupported+;swbreak+;hwbreak+;QNonStop+;"
      "ConditionalBreakpoints+;BreakpointCommands+;QCatchSyscalls+;QPassSignals+;"
      "QProgramSignals+;ConditionalTracepoints+;qXfer:traceframe-info:read+;QTBuffer:size+;"
      "tracenz+;exec-events+;%s%s",
      kPacketSize, reverse ? "ReverseStep+;ReverseContinue+;" : "",
      multiprocess ? "multiprocess+" : "multiprocess-");
}

Response Handlers::QSupported(absl::string_view packet) {
  const std::vector<rsp::Feature> gdb_features = rsp::ParseQSupported(packet);
  multiprocess_ = rsp::GdbSupports(gdb_features, "multiprocess");
  exec_events_ = rsp::GdbSupports(gdb_features, "exec-events");
  return Response{{SupportedFeatures(multiprocess_, info_.recording)}};
}

Response Handlers::StopStatus() { return Response{{StopReply(run_.last_report())}}; }

Response Handlers::Detach(absl::string_view packet) {
  absl::StatusOr<std::optional<int>> pid = rsp::ParseDetach(packet);
  if (!pid.ok()) {
    Log(pid.status().message());
    return Response{{"E01"}};
  }
  // km removes every breakpoint and resumes every thread when the session ends (but for those
  // whose commands persist: the breakpoint table never defers their removal).
  absl::Status s = target_.Detach();
  if (!s.ok()) {
    Log(s.message());
    return Response{{"E01"}};
  }
  detached_ = true;
  breakpoints_.Clear();
  return Response{{"OK"}};
}

Response Handlers::Kill(absl::string_view packet) {
  const bool vkill = packet != "k";
  if (vkill) {
    absl::StatusOr<int> pid = rsp::ParseVKill(packet);
    if (!pid.ok()) return Response{{"E01"}};
  }
  absl::Status s = non_stop_ ? non_stop_->Kill() : run_.Kill();
  if (!s.ok()) Log(s.message());
  // 'k' has no reply for gdb, which may read on as if it had none; lldb waits for the exit
  // status lldb-server sends, and without it reports a failed kill after its packet timeout.
  if (!vkill) return lldb_client_ ? Response{{absl::StrFormat("X%02x", SIGKILL)}} : Response{};
  return Response{{s.ok() ? "OK" : "E01"}};
}

}  // namespace agent
