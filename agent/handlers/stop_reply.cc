// What a stop looks like on the wire: signal, thread, reason and the registers gdb reads first.
#include <csignal>

#include "agent/arch/amd64/registers.h"
#include "agent/arch/signals.h"
#include "agent/handlers/handlers.h"
#include "agent/rsp/encoding.h"
#include "agent/rsp/stop_reply.h"

namespace agent {

std::string Handlers::StopReply(const StopReport& report) {
  rsp::StopReply r;
  r.pid = info_.pid;
  r.multiprocess = multiprocess_;
  switch (report.kind) {
    case StopReport::Kind::kExited:
      r.kind = rsp::StopReply::Kind::kExited;
      r.exit_code = report.exit_status;
      return rsp::FormatStopReply(r);
    case StopReport::Kind::kTerminated:
      r.kind = rsp::StopReply::Kind::kTerminated;
      r.gdb_signal = arch::LinuxToGdbSignal(report.linux_signal);
      return rsp::FormatStopReply(r);
    case StopReport::Kind::kThread:
      break;
  }
  r.tid = report.tid;
  r.thread_name = NameForLldb(report.tid);
  r.gdb_signal = arch::LinuxToGdbSignal(SIGTRAP);
  switch (report.reason.kind) {
    case StopKind::kBreakpoint:
      r.reason = rsp::StopReply::Reason::kSwBreak;
      break;
    case StopKind::kHwBreakpoint:
      r.reason = rsp::StopReply::Reason::kHwBreak;
      break;
    case StopKind::kWatchpoint:
      r.watch_addr = report.reason.watch_addr;
      r.reason = report.reason.watch_kind == WatchKind::kRead     ? rsp::StopReply::Reason::kReadWatch
                 : report.reason.watch_kind == WatchKind::kAccess ? rsp::StopReply::Reason::kAccessWatch
                                                                  : rsp::StopReply::Reason::kWatch;
      break;
    case StopKind::kSignal:
      r.gdb_signal = arch::LinuxToGdbSignal(report.reason.linux_signal);
      break;
    case StopKind::kInterrupted:
      if (report.interrupted) r.gdb_signal = arch::LinuxToGdbSignal(SIGINT);
      if (report.requested) r.gdb_signal = 0;
      break;
    case StopKind::kSyscallEntry:
      r.reason = rsp::StopReply::Reason::kSyscallEntry;
      r.syscall = report.reason.syscall;
      break;
    case StopKind::kSyscallReturn:
      r.reason = rsp::StopReply::Reason::kSyscallReturn;
      r.syscall = report.reason.syscall;
      break;
    case StopKind::kHistoryBegin:
      r.reason = rsp::StopReply::Reason::kHistoryBegin;
      break;
    case StopKind::kExec:
      // A gdb that cannot follow an exec sees a SIGTRAP, as from a traced Linux process.
      if (exec_events_) {
        r.reason = rsp::StopReply::Reason::kExec;
        r.exec_path = ExecFilePath();
      }
      break;
    case StopKind::kStep:
      break;
  }
  // gdb reads these first at every stop: sending them saves its 'g' round trip for stepping.
  r.registers = {
      {amd64::kRbp, rsp::HexLittleEndian(report.regs.gpr[amd64::kRbp], 8)},
      {amd64::kRsp, rsp::HexLittleEndian(report.regs.gpr[amd64::kRsp], 8)},
      {amd64::kRip, rsp::HexLittleEndian(report.regs.rip, 8)},
  };
  return rsp::FormatStopReply(r);
}

}  // namespace agent
