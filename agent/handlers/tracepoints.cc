// Tracepoints: gdb's definitions stay in the agent until QTStart sends them to km as one run;
// the run's status, and each tracepoint's hits and each variable's value, come from km.
#include "absl/strings/str_format.h"
#include "agent/handlers/handlers.h"
#include "agent/log.h"
#include "agent/rsp/packets/trace.h"

namespace agent {
namespace {

rsp::TraceStatusReply::Stop StopOf(const TraceStatus& s) {
  using Stop = rsp::TraceStatusReply::Stop;
  if (!s.ever_run) return Stop::kNotRun;
  switch (s.stop_reason) {
    case TraceStopReason::kRequested: return Stop::kRequested;
    case TraceStopReason::kPassCount: return Stop::kPassCount;
    case TraceStopReason::kBufferFull: return Stop::kBufferFull;
    case TraceStopReason::kDisconnected: return Stop::kDisconnected;
    case TraceStopReason::kError: return Stop::kError;
    case TraceStopReason::kNone: break;
  }
  return Stop::kUnknown;
}

rsp::TraceStatusReply ReplyOf(const TraceStatus& s) {
  rsp::TraceStatusReply r;
  r.running = s.running;
  r.stop = StopOf(s);
  r.tracepoint = s.stopping_tracepoint;
  r.error = s.error;
  r.frames = s.frames;
  r.frames_created = s.frames_created;
  r.buffer_free = s.buffer_free;
  r.buffer_size = s.buffer_size;
  r.circular = s.circular;
  r.start_time_us = static_cast<uint64_t>(s.start_time_us);
  r.stop_time_us = static_cast<uint64_t>(s.stop_time_us);
  return r;
}

}  // namespace

Response Handlers::DefineTracepoint(absl::string_view packet) {
  absl::StatusOr<rsp::TracepointPacket> definition = rsp::ParseTracepoint(packet);
  if (!definition.ok()) return Failed(definition.status());
  if (absl::Status s = trace_definitions_.Add(*definition); !s.ok()) return Failed(s);
  return Response{{"OK"}};
}

Response Handlers::DefineTraceVariable(absl::string_view packet) {
  absl::StatusOr<rsp::TraceVariableDefinition> variable = rsp::ParseTraceVariable(packet);
  if (!variable.ok()) return Failed(variable.status());
  trace_definitions_.AddVariable(*variable);
  return Response{{"OK"}};
}

Response Handlers::InitTrace() {
  trace_definitions_.Clear();
  trace_frame_.reset();
  return Response{{"OK"}};
}

Response Handlers::SetTraceBuffer(absl::string_view packet) {
  absl::StatusOr<rsp::TraceBufferSetting> setting = rsp::ParseTraceBuffer(packet);
  if (!setting.ok()) return Failed(setting.status());
  trace_definitions_.SetBuffer(*setting);
  return Response{{"OK"}};
}

Response Handlers::SetDisconnectedTracing(absl::string_view packet) {
  absl::StatusOr<bool> on = rsp::ParseDisconnectedTracing(packet);
  if (!on.ok()) return Failed(on.status());
  if (*on) {
    return Failed(absl::UnimplementedError(
        "disconnected tracing is not supported: km ends the trace run with the session"));
  }
  return Response{{"OK"}};
}

Response Handlers::StartTracing() {
  if (absl::Status s = target_.StartTrace(trace_definitions_.setup()); !s.ok()) return Failed(s);
  // The new run replaced the frames.
  trace_frame_.reset();
  return Response{{"OK"}};
}

Response Handlers::StopTracing() {
  if (absl::Status s = target_.StopTrace(); !s.ok()) return Failed(s);
  return Response{{"OK"}};
}

Response Handlers::ReportTraceStatus() {
  absl::StatusOr<TraceStatus> status = target_.GetTraceStatus();
  if (!status.ok()) {
    // A km without tracing: the empty reply tells gdb this target does not trace, where an
    // error would fail gdb's connection (it asks as it connects).
    if (absl::IsUnimplemented(status.status())) return Response{{""}};
    return Failed(status.status());
  }
  return Response{{rsp::FormatTraceStatus(ReplyOf(*status))}};
}

Response Handlers::ReportTracepointHits(absl::string_view packet) {
  absl::StatusOr<rsp::TracepointQuery> query = rsp::ParseTracepointQuery(packet);
  if (!query.ok()) return Failed(query.status());
  absl::StatusOr<TraceStatus> status = target_.GetTraceStatus();
  if (!status.ok()) return Failed(status.status());
  for (const TracepointStatus& t : status->tracepoints) {
    if (t.number == query->number && t.address == query->address) {
      return Response{{rsp::FormatTracepointHits(t.hits, t.bytes)}};
    }
  }
  return Failed(absl::NotFoundError(absl::StrFormat(
      "km's trace run has no tracepoint %d at 0x%x", query->number, query->address)));
}

Response Handlers::UploadTraceVariables() {
  // The one km computes itself (by its name), as gdbserver offers it.
  return Response{{rsp::FormatTraceVariableUpload(1, 0, /*builtin=*/true,
                                                  rsp::kTraceTimestampVariable)}};
}

Response Handlers::ReportTraceVariable(absl::string_view packet) {
  absl::StatusOr<uint32_t> number = rsp::ParseTraceVariableQuery(packet);
  if (!number.ok()) return Failed(number.status());
  // In a trace frame: what the frame recorded; else the run's current value.
  absl::StatusOr<TraceStatus> status;
  const std::vector<TraceVariableValue>* values = nullptr;
  if (trace_frame_) {
    values = &trace_frame_->variables;
  } else {
    status = target_.GetTraceStatus();
    if (!status.ok()) return Failed(status.status());
    values = &status->variables;
  }
  for (const TraceVariableValue& v : *values) {
    if (v.number == *number) return Response{{rsp::FormatTraceVariableValue(v.value)}};
  }
  return Response{{"U"}};
}

}  // namespace agent
