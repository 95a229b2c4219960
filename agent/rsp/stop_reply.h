// Stop replies: T (a thread stopped), W (exited) and X (killed by a signal).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace agent::rsp {

struct StopReply {
  enum class Kind { kStopped, kExited, kTerminated };
  enum class Reason {
    kNone, kSwBreak, kHwBreak, kWatch, kReadWatch, kAccessWatch, kSyscallEntry, kSyscallReturn,
    kHistoryBegin,  // reverse execution can go back no further ("replaylog:begin")
    kExec,          // the process became exec_path's program ("exec:HEX")
  };

  Kind kind = Kind::kStopped;
  int gdb_signal = 0;  // kStopped, kTerminated: gdb's signal number
  int exit_code = 0;   // kExited
  int pid = 0;
  int tid = 0;         // kStopped
  bool multiprocess = false;
  Reason reason = Reason::kNone;
  uint64_t watch_addr = 0;
  int64_t syscall = 0;  // kSyscallEntry, kSyscallReturn
  std::string exec_path;  // kExec
  // Registers sent along ("expedited") so gdb need not ask: number and hex value.
  std::vector<std::pair<int, std::string>> registers;
  // lldb's "hexname" key: the thread's name, sent only when set (gdb skips keys it does not know,
  // but has its names from qXfer:threads).
  std::string thread_name;
};

std::string FormatStopReply(const StopReply& reply);

}  // namespace agent::rsp
