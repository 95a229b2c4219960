// qXfer reads: the target description, the auxiliary vector, the executable's path, the thread
// list and the current thread's siginfo.
#include <signal.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/arch/amd64/target_xml.h"
#include "agent/arch/siginfo.h"
#include "agent/handlers/handlers.h"
#include "agent/log.h"
#include "agent/rsp/packets/qxfer.h"

namespace agent {

std::string Handlers::ExecFilePath() {
  if (absl::StartsWith(info_.payload_path, "/")) return info_.payload_path;
  // km got a relative path: it is relative to km's working directory, not the agent's.
  char cwd[4096];
  const ssize_t n = readlink(absl::StrFormat("/proc/%d/cwd", info_.pid).c_str(), cwd, sizeof cwd);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof cwd) return info_.payload_path;
  return absl::StrCat(absl::string_view(cwd, static_cast<size_t>(n)), "/", info_.payload_path);
}

absl::StatusOr<std::string> Handlers::Siginfo() {
  absl::StatusOr<ThreadRecord*> t = threads().FindStopped(GeneralThread());
  if (!t.ok()) return t.status();
  const StopReason& r = (*t)->stop->reason;
  switch (r.kind) {
    case StopKind::kSignal:
      if (r.signal_code > 0) return arch::FaultSiginfo(r.linux_signal, r.signal_code, r.fault_addr);
      return arch::SentSiginfo(r.linux_signal, r.signal_code, r.sender_pid, r.sender_uid);
    case StopKind::kBreakpoint:
      return arch::FaultSiginfo(SIGTRAP, arch::kTrapBrkpt, 0);
    case StopKind::kStep:
      return arch::FaultSiginfo(SIGTRAP, arch::kTrapTrace, 0);
    case StopKind::kHwBreakpoint:
    case StopKind::kWatchpoint:
      return arch::FaultSiginfo(SIGTRAP, arch::kTrapHwbkpt, r.watch_addr);
    default:
      return absl::NotFoundError(
          absl::StrFormat("thread %d stopped without a signal: no siginfo", GeneralThread()));
  }
}

Response Handlers::Xfer(absl::string_view packet) {
  absl::StatusOr<rsp::XferRead> req = rsp::ParseXferRead(packet);
  if (!req.ok()) {
    Log(req.status().message());
    return Response{{""}};
  }
  if (req->object == "features") {
    if (req->annex != "target.xml") return Response{{"E00"}};
    return Response{{rsp::XferReply(amd64::TargetXml(info_.avx), req->offset, req->length)}};
  }
  if (req->object == "auxv") {
    return Response{{rsp::XferReply(info_.auxv, req->offset, req->length)}};
  }
  if (req->object == "exec-file") {
    return Response{{rsp::XferReply(ExecFilePath(), req->offset, req->length)}};
  }
  if (req->object == "siginfo") {
    absl::StatusOr<std::string> info = Siginfo();
    if (!info.ok()) {
      Log(info.status().message());
      return Response{{"E01"}};
    }
    return Response{{rsp::XferReply(*info, req->offset, req->length)}};
  }
  if (req->object == "threads") {
    // Built once per read sequence so the pieces gdb asks for come from one document.
    if (req->offset == 0 || threads_xml_.empty()) {
      absl::StatusOr<std::string> xml = ThreadsXml();
      if (!xml.ok()) {
        Log(xml.status().message());
        return Response{{"E01"}};
      }
      threads_xml_ = *std::move(xml);
    }
    return Response{{rsp::XferReply(threads_xml_, req->offset, req->length)}};
  }
  return Response{{""}};
}

}  // namespace agent
