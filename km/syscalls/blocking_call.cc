#include <errno.h>

#include <algorithm>

#include "km/runtime/guest_thread.h"
#include "km/runtime/interruptible_syscall.h"
#include "km/syscalls/sys_common.h"

namespace km {
namespace {

// before_try runs before the first try and before each one after a host interrupt that
// concerned no signal the thread takes.
template <typename BeforeTry>
int64_t Tries(SyscallContext& ctx, BeforeTry before_try, int64_t nr, uint64_t a1, uint64_t a2,
              uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6) {
  for (;;) {
    before_try();
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

}  // namespace

int64_t BlockingHostCall(SyscallContext& ctx, int64_t nr, uint64_t a1, uint64_t a2, uint64_t a3,
                         uint64_t a4, uint64_t a5, uint64_t a6) {
  return Tries(ctx, [] {}, nr, a1, a2, a3, a4, a5, a6);
}

int64_t BlockingHostCallUntil(SyscallContext& ctx, absl::Duration deadline, timespec* timeout,
                              int64_t nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                              uint64_t a5, uint64_t a6) {
  auto refresh = [&] {
    if (timeout != nullptr) {
      *timeout = absl::ToTimespec(std::max(absl::ZeroDuration(), deadline - MonotonicNow()));
    }
  };
  return Tries(ctx, refresh, nr, a1, a2, a3, a4, a5, a6);
}

}  // namespace km
