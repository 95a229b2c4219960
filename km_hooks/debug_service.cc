#include "km_hooks/debug_service.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace km_hooks {
namespace {

// One read may not make km allocate without bound.
constexpr uint64_t kMaxTransfer = 16 << 20;
// A Resume holds a gRPC server thread while it waits for its stop.
constexpr uint32_t kMaxStopWaitMs = 100;
// Linux's x86-64 syscall numbers end well below this (the x32 ones start at 512).
constexpr int64_t kMaxSyscallNumber = 1023;

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

// Linux signal numbers as a mask, bit signo - 1 each.
absl::StatusOr<uint64_t> SignalMask(const google::protobuf::RepeatedField<int32_t>& signals) {
  uint64_t mask = 0;
  for (int32_t signo : signals) {
    if (signo < 1 || signo > 64) {
      return absl::InvalidArgumentError(
          absl::StrFormat("signal %d is not a Linux signal", signo));
    }
    mask |= uint64_t{1} << (signo - 1);
  }
  return mask;
}

}  // namespace

grpc::Status DebugService::GetTarget(grpc::ServerContext*, const v1::GetTargetRequest*,
                                     v1::Target* out) {
  *out = controller_.Target();
  return grpc::Status::OK;
}

grpc::Status DebugService::ListThreads(grpc::ServerContext*, const v1::ListThreadsRequest*,
                                       v1::ListThreadsResponse* out) {
  for (v1::Thread& t : controller_.Threads()) *out->add_threads() = std::move(t);
  return grpc::Status::OK;
}

grpc::Status DebugService::Attach(grpc::ServerContext*, const v1::AttachRequest* req,
                                  v1::AttachResponse* out) {
  bool took_over = false;
  absl::StatusOr<std::string> session = sessions_.Attach(req->client_name(), &took_over);
  if (!session.ok()) return ToGrpc(session.status());
  if (took_over) controller_.SessionEnded();
  controller_.SessionStarted();
  out->set_session(*session);
  return grpc::Status::OK;
}

void DebugService::EndSession(const std::string& session,
                              std::optional<uint64_t> deliverable_signals) {
  if (sessions_.End(session)) controller_.SessionEnded(deliverable_signals);
}

grpc::Status DebugService::Detach(grpc::ServerContext*, const v1::DetachRequest* req,
                                  v1::DetachResponse*) {
  absl::Status s = sessions_.Check(req->session());
  if (!s.ok()) return ToGrpc(s);
  std::optional<uint64_t> deliverable;
  if (req->has_program_signals()) {
    absl::StatusOr<uint64_t> mask = SignalMask(req->program_signals().signals());
    if (!mask.ok()) return ToGrpc(mask.status());
    deliverable = *mask;
  }
  EndSession(req->session(), deliverable);
  return grpc::Status::OK;
}

grpc::Status DebugService::Events(grpc::ServerContext* ctx, const v1::EventsRequest* req,
                                  grpc::ServerWriter<v1::Event>* writer) {
  absl::Status s = sessions_.Check(req->session());
  if (!s.ok()) return ToGrpc(s);
  sessions_.StreamOpened(req->session());
  const std::vector<v1::Event> initial = controller_.OpenStream();
  // Tells the client the stream is open: from now on no event is lost to it, and the threads
  // already stopped come first (a client may wait for this before it acts).
  writer->SendInitialMetadata();
  for (const v1::Event& ev : initial) {
    if (!writer->Write(ev)) {
      EndSession(req->session());
      return grpc::Status::OK;
    }
  }
  // The stream is the session's lifeline: when it ends (the client died or hung up), the
  // session ends and the payload is let go.
  while (!ctx->IsCancelled() && sessions_.Check(req->session()).ok()) {
    v1::Event ev;
    if (!controller_.events().Pop(&ev, absl::Milliseconds(100))) continue;
    if (!writer->Write(ev)) break;
    if (ev.has_process_exited()) {
      controller_.ExitDelivered();
      return grpc::Status::OK;
    }
  }
  EndSession(req->session());
  return grpc::Status::OK;
}

grpc::Status DebugService::Stop(grpc::ServerContext*, const v1::StopRequest* req,
                                v1::StopResponse* out) {
  absl::Status s = sessions_.Check(req->session());
  if (!s.ok()) return ToGrpc(s);
  auto stopped = controller_.Stop({req->tids().begin(), req->tids().end()});
  if (!stopped.ok()) return ToGrpc(stopped.status());
  for (v1::StopEvent& ev : *stopped) *out->add_stopped() = std::move(ev);
  return grpc::Status::OK;
}

grpc::Status DebugService::Resume(grpc::ServerContext*, const v1::ResumeRequest* req,
                                  v1::ResumeResponse* out) {
  absl::Status s = sessions_.Check(req->session());
  if (!s.ok()) return ToGrpc(s);
  for (const v1::ThreadAction& a : req->actions()) {
    if (a.signal() < 0 || a.signal() > 64) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrFormat("signal %d is not a Linux signal", a.signal()));
    }
  }
  const uint32_t wait_ms = std::min(req->wait_for_stop_ms(), kMaxStopWaitMs);
  // Armed before anything runs: a step can be over before Resume returns.
  const uint64_t ticket = wait_ms > 0 ? controller_.events().Arm() : 0;
  s = controller_.Resume({req->actions().begin(), req->actions().end()});
  if (ticket == 0) return ToGrpc(s);
  if (!s.ok()) {
    controller_.events().GiveBack(ticket);
    return ToGrpc(s);
  }
  std::optional<EventQueue::HandedStop> handed =
      controller_.events().TakeHanded(ticket, absl::Milliseconds(wait_ms));
  if (handed) {
    *out->mutable_stop() = std::move(handed->stop);
    out->set_stream_events_before(handed->stream_events_before);
    if (req->stop_others()) StopOthers(out->mutable_stop(), out);
    if (req->list_threads()) {
      for (v1::Thread& t : controller_.Threads()) *out->add_threads() = std::move(t);
    }
  }
  return grpc::Status::OK;
}

void DebugService::StopOthers(v1::StopEvent* stop, v1::ResumeResponse* out) {
  // With no tids Stop cannot fail; were it to, the client stops the others itself.
  absl::StatusOr<std::vector<v1::StopEvent>> stopped = controller_.Stop({});
  if (!stopped.ok()) return;
  for (v1::StopEvent& e : *stopped) {
    if (e.tid() == stop->tid()) {
      stop->set_stack_addr(e.stack_addr());
      stop->set_stack(e.stack());
    }
    *out->add_stopped() = std::move(e);
  }
}

grpc::Status DebugService::ReadRegisters(grpc::ServerContext*, const v1::ReadRegistersRequest* req,
                                         v1::Registers* out) {
  auto regs = controller_.ReadRegisters(req->tid(), req->fpu());
  if (!regs.ok()) return ToGrpc(regs.status());
  *out = std::move(*regs);
  return grpc::Status::OK;
}

grpc::Status DebugService::WriteRegisters(grpc::ServerContext*,
                                          const v1::WriteRegistersRequest* req,
                                          v1::WriteRegistersResponse*) {
  absl::Status s = sessions_.Check(req->session());
  if (!s.ok()) return ToGrpc(s);
  return ToGrpc(controller_.WriteRegisters(req->tid(), req->registers()));
}

grpc::Status DebugService::ReadMemory(grpc::ServerContext*, const v1::ReadMemoryRequest* req,
                                      v1::ReadMemoryResponse* out) {
  if (req->len() > kMaxTransfer) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrFormat("read of %d bytes: at most %d at a time", req->len(),
                                        kMaxTransfer));
  }
  std::string data = controller_.ReadMemory(req->addr(), req->len());
  if (data.empty() && req->len() > 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrFormat("guest address 0x%x is not mapped", req->addr()));
  }
  out->set_data(std::move(data));
  return grpc::Status::OK;
}

grpc::Status DebugService::WriteMemory(grpc::ServerContext*, const v1::WriteMemoryRequest* req,
                                       v1::WriteMemoryResponse* out) {
  absl::Status s = sessions_.Check(req->session());
  if (!s.ok()) return ToGrpc(s);
  auto n = controller_.WriteMemory(req->addr(), req->data());
  if (!n.ok()) return ToGrpc(n.status());
  out->set_written(*n);
  return grpc::Status::OK;
}

grpc::Status DebugService::InsertBreakpoint(grpc::ServerContext*, const v1::BreakpointRequest* req,
                                            v1::BreakpointResponse*) {
  absl::Status s = sessions_.Check(req->session());
  if (!s.ok()) return ToGrpc(s);
  BreakpointActions actions{{req->conditions().begin(), req->conditions().end()},
                            {req->commands().begin(), req->commands().end()},
                            req->persist_commands()};
  return ToGrpc(
      controller_.InsertBreakpoint(req->kind(), req->addr(), req->len(), std::move(actions)));
}

grpc::Status DebugService::RemoveBreakpoint(grpc::ServerContext*, const v1::BreakpointRequest* req,
                                            v1::BreakpointResponse*) {
  absl::Status s = sessions_.Check(req->session());
  if (!s.ok()) return ToGrpc(s);
  return ToGrpc(controller_.RemoveBreakpoint(req->kind(), req->addr(), req->len()));
}

grpc::Status DebugService::CatchSyscalls(grpc::ServerContext*, const v1::CatchSyscallsRequest* req,
                                         v1::CatchSyscallsResponse*) {
  absl::Status s = sessions_.Check(req->session());
  if (!s.ok()) return ToGrpc(s);
  for (int64_t n : req->numbers()) {
    if (n < 0 || n > kMaxSyscallNumber) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrFormat("%d is not an x86-64 syscall number", n));
    }
  }
  controller_.CatchSyscalls(req->enabled(), {req->numbers().begin(), req->numbers().end()});
  return grpc::Status::OK;
}

grpc::Status DebugService::PassSignals(grpc::ServerContext*, const v1::PassSignalsRequest* req,
                                       v1::PassSignalsResponse*) {
  absl::Status s = sessions_.Check(req->session());
  if (!s.ok()) return ToGrpc(s);
  absl::StatusOr<uint64_t> mask = SignalMask(req->signals());
  if (!mask.ok()) return ToGrpc(mask.status());
  controller_.PassSignals(*mask);
  return grpc::Status::OK;
}

grpc::Status DebugService::ProgramSignals(grpc::ServerContext*,
                                          const v1::ProgramSignalsRequest* req,
                                          v1::ProgramSignalsResponse*) {
  absl::Status s = sessions_.Check(req->session());
  if (!s.ok()) return ToGrpc(s);
  absl::StatusOr<uint64_t> mask = SignalMask(req->signals());
  if (!mask.ok()) return ToGrpc(mask.status());
  controller_.ProgramSignals(*mask);
  return grpc::Status::OK;
}

grpc::Status DebugService::SetRecording(grpc::ServerContext*, const v1::SetRecordingRequest* req,
                                        v1::RecordingStatus* out) {
  absl::Status s = sessions_.Check(req->session());
  if (!s.ok()) return ToGrpc(s);
  absl::StatusOr<v1::RecordingStatus> status =
      controller_.SetRecording(req->enabled(), req->max_instructions());
  if (!status.ok()) return ToGrpc(status.status());
  *out = std::move(*status);
  return grpc::Status::OK;
}

grpc::Status DebugService::GetRecording(grpc::ServerContext*, const v1::GetRecordingRequest*,
                                        v1::RecordingStatus* out) {
  *out = controller_.GetRecording();
  return grpc::Status::OK;
}

grpc::Status DebugService::WriteCore(grpc::ServerContext*, const v1::WriteCoreRequest* req,
                                     v1::WriteCoreResponse* out) {
  absl::Status s = sessions_.Check(req->session());
  if (!s.ok()) return ToGrpc(s);
  absl::StatusOr<v1::WriteCoreResponse> written = controller_.WriteCore(req->path(), req->tid());
  if (!written.ok()) return ToGrpc(written.status());
  *out = std::move(*written);
  return grpc::Status::OK;
}

grpc::Status DebugService::StartTrace(grpc::ServerContext*, const v1::StartTraceRequest* req,
                                      v1::TraceStatus* out) {
  absl::Status s = sessions_.Check(req->session());
  if (!s.ok()) return ToGrpc(s);
  absl::StatusOr<v1::TraceStatus> status = controller_.StartTrace(*req);
  if (!status.ok()) return ToGrpc(status.status());
  *out = std::move(*status);
  return grpc::Status::OK;
}

grpc::Status DebugService::StopTrace(grpc::ServerContext*, const v1::StopTraceRequest* req,
                                     v1::TraceStatus* out) {
  absl::Status s = sessions_.Check(req->session());
  if (!s.ok()) return ToGrpc(s);
  *out = controller_.StopTrace();
  return grpc::Status::OK;
}

grpc::Status DebugService::GetTraceStatus(grpc::ServerContext*, const v1::GetTraceStatusRequest*,
                                          v1::TraceStatus* out) {
  *out = controller_.TraceStatus();
  return grpc::Status::OK;
}

grpc::Status DebugService::FindTraceFrame(grpc::ServerContext*,
                                          const v1::FindTraceFrameRequest* req,
                                          v1::TraceFrame* out) {
  *out = controller_.FindTraceFrame(*req);
  return grpc::Status::OK;
}

}  // namespace km_hooks
