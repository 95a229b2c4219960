#include "agent/rsp/stop_reply.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/rsp/encoding.h"
#include "agent/rsp/packets/thread_id.h"

namespace agent::rsp {

std::string FormatStopReply(const StopReply& reply) {
  const std::string process =
      reply.multiprocess ? absl::StrFormat(";process:%x", reply.pid) : std::string();
  switch (reply.kind) {
    case StopReply::Kind::kExited:
      return absl::StrFormat("W%02x%s", reply.exit_code & 0xff, process);
    case StopReply::Kind::kTerminated:
      return absl::StrFormat("X%02x%s", reply.gdb_signal & 0xff, process);
    case StopReply::Kind::kStopped:
      break;
  }
  std::string out = absl::StrFormat("T%02x", reply.gdb_signal & 0xff);
  for (const auto& [regnum, hex] : reply.registers) absl::StrAppendFormat(&out, "%02x:%s;", regnum, hex);
  absl::StrAppend(&out, "thread:", FormatThreadId(reply.pid, reply.tid, reply.multiprocess), ";");
  if (!reply.thread_name.empty()) absl::StrAppend(&out, "hexname:", HexEncode(reply.thread_name), ";");
  switch (reply.reason) {
    case StopReply::Reason::kNone: break;
    case StopReply::Reason::kSwBreak: absl::StrAppend(&out, "swbreak:;"); break;
    case StopReply::Reason::kHwBreak: absl::StrAppend(&out, "hwbreak:;"); break;
    case StopReply::Reason::kWatch: absl::StrAppendFormat(&out, "watch:%x;", reply.watch_addr); break;
    case StopReply::Reason::kReadWatch: absl::StrAppendFormat(&out, "rwatch:%x;", reply.watch_addr); break;
    case StopReply::Reason::kAccessWatch: absl::StrAppendFormat(&out, "awatch:%x;", reply.watch_addr); break;
    case StopReply::Reason::kSyscallEntry: absl::StrAppendFormat(&out, "syscall_entry:%x;", reply.syscall); break;
    case StopReply::Reason::kSyscallReturn: absl::StrAppendFormat(&out, "syscall_return:%x;", reply.syscall); break;
    case StopReply::Reason::kHistoryBegin: absl::StrAppend(&out, "replaylog:begin;"); break;
    case StopReply::Reason::kExec: absl::StrAppend(&out, "exec:", HexEncode(reply.exec_path), ";"); break;
  }
  return out;
}

}  // namespace agent::rsp
