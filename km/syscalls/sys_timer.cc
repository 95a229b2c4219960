// Timers: alarm, setitimer/getitimer (ITIMER_REAL) and the POSIX timer_* calls, served by the
// payload's timers (km/runtime/payload_timers.h), which send their signals to the payload.
#include <signal.h>
#include <sys/time.h>
#include <time.h>

#include <optional>

#include "km/runtime/payload_timers.h"
#include "km/runtime/process.h"
#include "km/syscalls/guest_io.h"
#include "km/syscalls/handlers.h"
#include "km/syscalls/sys_common.h"
#include "km/syscalls/timespec.h"

namespace km {
namespace {

constexpr int64_t kNanosPerMicro = 1000;

// struct sigevent as the x86-64 kernel reads it.
struct KernelSigevent {
  uint64_t value;
  int32_t signo;
  int32_t notify;
  int32_t tid;  // SIGEV_THREAD_ID
  uint8_t pad[44];
};
static_assert(sizeof(KernelSigevent) == 64);

bool ValidTimeval(const timeval& t) {
  return t.tv_sec >= 0 && t.tv_usec >= 0 && t.tv_usec < 1000000;
}
int64_t Nanos(const timeval& t) { return t.tv_sec * kNanosPerSecond + t.tv_usec * kNanosPerMicro; }
// Rounded up, as Linux reports an interval timer (never 0 for a timer still armed).
timeval ToTimeval(int64_t ns) {
  const int64_t us = (ns + kNanosPerMicro - 1) / kNanosPerMicro;
  return {us / 1000000, us % 1000000};
}

itimerval ToItimerval(const PayloadTimers::Setting& s) {
  return {ToTimeval(s.interval), ToTimeval(s.value)};
}
itimerspec ToItimerspec(const PayloadTimers::Setting& s) {
  return {ToTimespec(s.interval), ToTimespec(s.value)};
}

int TimerId(uint64_t arg) { return static_cast<int>(arg); }

}  // namespace

int64_t SysAlarm(SyscallContext& ctx) {
  const auto seconds = static_cast<uint32_t>(ctx.arg(0));
  const PayloadTimers::Setting old =
      ctx.process.timers().SetReal({static_cast<int64_t>(seconds) * kNanosPerSecond, 0});
  // Linux rounds to the nearest second, and never answers 0 for an alarm still pending.
  int64_t left = (old.value + kNanosPerSecond / 2) / kNanosPerSecond;
  if (left == 0 && old.value != 0) left = 1;
  return left;
}

int64_t SysSetitimer(SyscallContext& ctx) {
  if (ctx.arg(0) != ITIMER_REAL) {
    // ITIMER_VIRTUAL and ITIMER_PROF count CPU time, which km does not keep per payload.
    return -EINVAL;
  }
  itimerval next = {};  // none: disarm, as Linux does
  if (ctx.arg(1) != 0) {
    if (int e = CopyIn(ctx.mem(), ctx.arg(1), &next); e != 0) return e;
    if (!ValidTimeval(next.it_value) || !ValidTimeval(next.it_interval)) return -EINVAL;
  }
  const PayloadTimers::Setting old =
      ctx.process.timers().SetReal({Nanos(next.it_value), Nanos(next.it_interval)});
  if (ctx.arg(2) != 0) return CopyOut(ctx.mem(), ctx.arg(2), ToItimerval(old));
  return 0;
}

int64_t SysGetitimer(SyscallContext& ctx) {
  if (ctx.arg(0) != ITIMER_REAL) return -EINVAL;
  return CopyOut(ctx.mem(), ctx.arg(1), ToItimerval(ctx.process.timers().GetReal()));
}

int64_t SysTimerCreate(SyscallContext& ctx) {
  const auto clock = static_cast<clockid_t>(ctx.arg(0));
  std::optional<PayloadTimers::Notify> notify;  // none: SIGALRM with the timer's id
  if (ctx.arg(1) != 0) {
    KernelSigevent event;
    if (int e = CopyIn(ctx.mem(), ctx.arg(1), &event); e != 0) return e;
    notify = {.how = event.notify, .signo = event.signo, .value = event.value, .tid = event.tid};
    switch (event.notify) {
      case SIGEV_NONE:
      case SIGEV_SIGNAL:
        break;
      case SIGEV_THREAD_ID:
        if (ctx.process.FindThread(event.tid) == nullptr) return -EINVAL;
        break;
      default:  // SIGEV_THREAD is libc's, never the kernel's
        return -EINVAL;
    }
  }
  // Checked before the timer exists, so that a bad pointer leaves nothing behind.
  int32_t probe = 0;
  if (int e = CopyIn(ctx.mem(), ctx.arg(2), &probe); e != 0) return e;
  if (int e = CopyOut(ctx.mem(), ctx.arg(2), probe); e != 0) return e;
  const int id = ctx.process.timers().Create(clock, notify);
  if (id < 0) return id;
  return CopyOut(ctx.mem(), ctx.arg(2), static_cast<int32_t>(id));
}

int64_t SysTimerSettime(SyscallContext& ctx) {
  const int flags = static_cast<int>(ctx.arg(1));
  if ((flags & ~TIMER_ABSTIME) != 0) return -EINVAL;
  itimerspec next;
  if (int e = CopyIn(ctx.mem(), ctx.arg(2), &next); e != 0) return e;
  if (!ValidTimespec(next.it_value) || !ValidTimespec(next.it_interval)) return -EINVAL;
  PayloadTimers::Setting old;
  const int r = ctx.process.timers().Set(TimerId(ctx.arg(0)), (flags & TIMER_ABSTIME) != 0,
                                         {Nanos(next.it_value), Nanos(next.it_interval)}, &old);
  if (r != 0) return r;
  if (ctx.arg(3) != 0) return CopyOut(ctx.mem(), ctx.arg(3), ToItimerspec(old));
  return 0;
}

int64_t SysTimerGettime(SyscallContext& ctx) {
  PayloadTimers::Setting now;
  if (int r = ctx.process.timers().Get(TimerId(ctx.arg(0)), &now); r != 0) return r;
  return CopyOut(ctx.mem(), ctx.arg(1), ToItimerspec(now));
}

int64_t SysTimerGetoverrun(SyscallContext& ctx) {
  return ctx.process.timers().Overrun(TimerId(ctx.arg(0)));
}

int64_t SysTimerDelete(SyscallContext& ctx) {
  return ctx.process.timers().Delete(TimerId(ctx.arg(0)));
}

}  // namespace km
