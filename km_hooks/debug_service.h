// The km.debug.v1.Debug gRPC service: request validation and session checks, then the
// controller does the work.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "km_hooks/debug_controller.h"
#include "km_hooks/session.h"
#include "proto/km_debug.grpc.pb.h"

namespace km_hooks {

class DebugService final : public v1::Debug::Service {
 public:
  DebugService(DebugController& controller, absl::Duration session_grace)
      : controller_(controller), sessions_(session_grace) {}

  grpc::Status GetTarget(grpc::ServerContext*, const v1::GetTargetRequest*,
                         v1::Target* out) override;
  grpc::Status ListThreads(grpc::ServerContext*, const v1::ListThreadsRequest*,
                           v1::ListThreadsResponse* out) override;
  grpc::Status Attach(grpc::ServerContext*, const v1::AttachRequest* req,
                      v1::AttachResponse* out) override;
  grpc::Status Detach(grpc::ServerContext*, const v1::DetachRequest* req,
                      v1::DetachResponse*) override;
  grpc::Status Events(grpc::ServerContext* ctx, const v1::EventsRequest* req,
                      grpc::ServerWriter<v1::Event>* writer) override;
  grpc::Status Stop(grpc::ServerContext*, const v1::StopRequest* req,
                    v1::StopResponse* out) override;
  grpc::Status Resume(grpc::ServerContext*, const v1::ResumeRequest* req,
                      v1::ResumeResponse*) override;
  grpc::Status ReadRegisters(grpc::ServerContext*, const v1::ReadRegistersRequest* req,
                             v1::Registers* out) override;
  grpc::Status WriteRegisters(grpc::ServerContext*, const v1::WriteRegistersRequest* req,
                              v1::WriteRegistersResponse*) override;
  grpc::Status ReadMemory(grpc::ServerContext*, const v1::ReadMemoryRequest* req,
                          v1::ReadMemoryResponse* out) override;
  grpc::Status WriteMemory(grpc::ServerContext*, const v1::WriteMemoryRequest* req,
                           v1::WriteMemoryResponse* out) override;
  grpc::Status InsertBreakpoint(grpc::ServerContext*, const v1::BreakpointRequest* req,
                                v1::BreakpointResponse*) override;
  grpc::Status RemoveBreakpoint(grpc::ServerContext*, const v1::BreakpointRequest* req,
                                v1::BreakpointResponse*) override;
  grpc::Status CatchSyscalls(grpc::ServerContext*, const v1::CatchSyscallsRequest* req,
                             v1::CatchSyscallsResponse*) override;
  grpc::Status PassSignals(grpc::ServerContext*, const v1::PassSignalsRequest* req,
                           v1::PassSignalsResponse*) override;
  grpc::Status ProgramSignals(grpc::ServerContext*, const v1::ProgramSignalsRequest* req,
                              v1::ProgramSignalsResponse*) override;
  grpc::Status SetRecording(grpc::ServerContext*, const v1::SetRecordingRequest* req,
                            v1::RecordingStatus* out) override;
  grpc::Status GetRecording(grpc::ServerContext*, const v1::GetRecordingRequest*,
                            v1::RecordingStatus* out) override;
  grpc::Status WriteCore(grpc::ServerContext*, const v1::WriteCoreRequest* req,
                         v1::WriteCoreResponse* out) override;
  grpc::Status StartTrace(grpc::ServerContext*, const v1::StartTraceRequest* req,
                          v1::TraceStatus* out) override;
  grpc::Status StopTrace(grpc::ServerContext*, const v1::StopTraceRequest* req,
                         v1::TraceStatus* out) override;
  grpc::Status GetTraceStatus(grpc::ServerContext*, const v1::GetTraceStatusRequest*,
                              v1::TraceStatus* out) override;
  grpc::Status FindTraceFrame(grpc::ServerContext*, const v1::FindTraceFrameRequest* req,
                              v1::TraceFrame* out) override;

 private:
  void EndSession(const std::string& session,
                  std::optional<uint64_t> deliverable_signals = std::nullopt);
  // All-stop at a stop answered inside Resume: stops every other thread, lists them all in out,
  // and rereads the stop's stack bytes, which another thread may have written since.
  void StopOthers(v1::StopEvent* stop, v1::ResumeResponse* out);

  DebugController& controller_;
  Sessions sessions_;
};

}  // namespace km_hooks
