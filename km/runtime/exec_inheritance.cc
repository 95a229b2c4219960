#include "km/runtime/exec_inheritance.h"

#include <fcntl.h>
#include <signal.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "km/runtime/signal_state.h"

namespace km {

void InheritAcrossExec(Process& process, const std::string& fds, uint64_t sigmask,
                       uint64_t sigign) {
  for (absl::string_view part : absl::StrSplit(fds, ',', absl::SkipEmpty())) {
    int fd;
    if (absl::SimpleAtoi(part, &fd) && fd >= 0 && ::fcntl(fd, F_GETFD) >= 0) {
      process.fds().Adopt(fd);
    }
  }
  process.main_thread()->signal_state().blocked = sigmask & ~kUnblockableSignals;
  for (int signo = 1; signo <= kMaxSignal; signo++) {
    if ((sigign & SignalBit(signo)) != 0 && (kUnblockableSignals & SignalBit(signo)) == 0) {
      process.signals().Set(signo, KernelSigaction{.handler = reinterpret_cast<uint64_t>(SIG_IGN)});
    }
  }
}

}  // namespace km
