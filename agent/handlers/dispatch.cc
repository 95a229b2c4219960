// Which handler answers which packet. Unknown packets get the empty reply, which gdb reads as
// "not supported".
#include "absl/strings/match.h"
#include "agent/handlers/handlers.h"
#include "agent/handlers/host_files.h"
#include "agent/log.h"

namespace agent {

Handlers::Handlers(Target& target, TargetInfo info)
    : target_(target),
      info_(std::move(info)),
      breakpoints_(target),
      memory_(target),
      run_(target, breakpoints_),
      host_files_(std::make_shared<HostFiles>()) {}

absl::Status Handlers::Begin() { return run_.Begin(info_.pid).status(); }

Response Handlers::Handle(absl::string_view packet) {
  if (detached_) return Response{{"E01"}};
  return Dispatch(packet);
}

Response Handlers::Dispatch(absl::string_view p) {
  using absl::StartsWith;
  if (p.empty()) return Response{{""}};
  if (trace_frame_) {
    if (std::optional<Response> r = DispatchTraceFrame(p)) return *std::move(r);
  }
  if (non_stop_) {
    if (std::optional<Response> r = DispatchNonStop(p)) return *std::move(r);
  }
  switch (p[0]) {
    case '?': return StopStatus();
    case 'g': return ReadAllRegisters();
    case 'G': return WriteAllRegisters(p);
    case 'p': return ReadOneRegister(p);
    case 'P': return WriteOneRegister(p);
    case 'm': return ReadMemory(p);
    case 'M':
    case 'X': return WriteMemory(p);
    case 'Z':
    case 'z': return Breakpoint(p);
    case 'H': return SetThread(p);
    case 'T': return ThreadAlive(p);
    case 'c':
    case 'C':
    case 's':
    case 'S': return LegacyResume(p);
    case 'D': return Detach(p);
    case 'k': return Kill(p);
    default: break;
  }
  if (StartsWith(p, "qSupported")) return QSupported(p);
  if (p == "QStartNoAckMode") return Response{{"OK"}};
  if (StartsWith(p, "QNonStop:")) return SetNonStop(p);
  if (StartsWith(p, "QCatchSyscalls:")) return CatchSyscalls(p);
  if (StartsWith(p, "QPassSignals:")) return PassSignals(p);
  if (StartsWith(p, "QProgramSignals:")) return ProgramSignals(p);
  if (p == "qAttached" || StartsWith(p, "qAttached:")) return Response{{"1"}};
  if (p == "qC") return CurrentThread();
  if (p == "qfThreadInfo") return ThreadInfo(/*first=*/true);
  if (p == "qsThreadInfo") return ThreadInfo(/*first=*/false);
  if (StartsWith(p, "qXfer:traceframe-info:")) return TraceframeInfo(p);
  if (StartsWith(p, "qXfer:")) return Xfer(p);
  if (StartsWith(p, "qRcmd,")) return Monitor(p);
  if (p == "qSymbol::") return Response{{"OK"}};
  if (p == "vCont?") return VContQuery();
  if (StartsWith(p, "vCont;")) return VCont(p);
  if (p == "bs" || p == "bc") return ReverseResume(p);
  if (StartsWith(p, "vFile:")) return VFile(p);
  if (StartsWith(p, "vKill;")) return Kill(p);
  if (p == "qHostInfo") return HostInfo();
  if (p == "qOffsets") return Offsets();
  if (StartsWith(p, "qMemoryRegionInfo")) return MemoryRegionInfo(p);
  if (StartsWith(p, "qThreadStopInfo")) return ThreadStopInfo(p);
  if (StartsWith(p, "QTDP:")) return DefineTracepoint(p);
  if (StartsWith(p, "QTDV:")) return DefineTraceVariable(p);
  if (p == "QTinit") return InitTrace();
  if (StartsWith(p, "QTBuffer:")) return SetTraceBuffer(p);
  if (StartsWith(p, "QTDisconnected:")) return SetDisconnectedTracing(p);
  // Read-only ranges: gdb reads them from the executable itself (qXfer:traceframe-info).
  // Notes: km keeps none.
  if (StartsWith(p, "QTro:") || StartsWith(p, "QTNotes:")) return Response{{"OK"}};
  if (p == "QTStart") return StartTracing();
  if (p == "QTStop") return StopTracing();
  if (p == "qTStatus") return ReportTraceStatus();
  if (StartsWith(p, "qTP:")) return ReportTracepointHits(p);
  if (StartsWith(p, "qTV:")) return ReportTraceVariable(p);
  if (StartsWith(p, "QTFrame:")) return SelectTraceFrame(p);
  // km gives no tracepoints back: a gdb that connects later has none to upload.
  if (p == "qTfP" || p == "qTsP" || p == "qTsV") return Response{{"l"}};
  if (p == "qTfV") return UploadTraceVariables();
  return Response{{""}};
}

}  // namespace agent
