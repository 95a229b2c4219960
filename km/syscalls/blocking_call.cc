#include <errno.h>

#include "km/runtime/guest_thread.h"
#include "km/runtime/interruptible_syscall.h"
#include "km/syscalls/sys_common.h"

namespace km {

int64_t BlockingHostCall(SyscallContext& ctx, int64_t nr, uint64_t a1, uint64_t a2, uint64_t a3,
                         uint64_t a4, uint64_t a5, uint64_t a6) {
  for (;;) {
    const std::atomic<int>* interrupt = ctx.thread.ArmSyscallInterrupt();
    const int64_t r = InterruptibleSyscall(interrupt, nr, a1, a2, a3, a4, a5, a6);
    if (r != -EINTR && r != kNotStarted) return r;
    if (ctx.thread.SignalInterruptsSyscall()) {
      ctx.interrupted = true;
      ctx.interrupted_before_start = r == kNotStarted;
      return -EINTR;
    }
  }
}

}  // namespace km
