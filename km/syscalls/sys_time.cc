// Clocks and sleeps, served by the host's. Sleeps block this guest thread's host thread only,
// until their time is up or a signal for the thread cuts them short.
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#include <algorithm>

#include "km/syscalls/guest_io.h"
#include "km/syscalls/handlers.h"
#include "km/syscalls/sys_common.h"
#include "km/syscalls/timespec.h"

namespace km {
namespace {

clockid_t ClockArg(uint64_t arg) { return static_cast<clockid_t>(arg); }

// nanosleep and clock_nanosleep: sleeps on `clock` until the request (relative unless
// TIMER_ABSTIME) is over or a signal for the thread cuts it short, then writes what was left
// of a relative request to rem_gva (if not 0). A relative sleep becomes a deadline first, so a
// sleep that goes again after a host interrupt that concerned no signal still ends on time.
int64_t GuestSleep(SyscallContext& ctx, clockid_t clock, int flags, uint64_t req_gva,
                   uint64_t rem_gva) {
  struct timespec req;
  if (int e = CopyIn(ctx.mem(), req_gva, &req); e != 0) return e;
  if (!ValidTimespec(req)) return -EINVAL;
  struct timespec deadline = req;
  const bool relative = (flags & TIMER_ABSTIME) == 0;
  if (relative) {
    struct timespec now;
    if (::clock_gettime(clock, &now) != 0) return -errno;
    deadline = DeadlineAfter(now, req);
  }
  // Linux never restarts a sleep after a handler, SA_RESTART or not.
  ctx.restartable = false;
  const int64_t r = BlockingHostCall(ctx, SYS_clock_nanosleep, static_cast<uint64_t>(clock),
                                     TIMER_ABSTIME, Ptr(&deadline), 0);
  if (r == -EINTR && relative && rem_gva != 0 && !ctx.interrupted_before_start) {
    struct timespec now;
    ::clock_gettime(clock, &now);
    if (int e = CopyOut(ctx.mem(), rem_gva, TimeLeft(now, deadline)); e != 0) return e;
  }
  return r;
}

}  // namespace

int64_t SysClockGettime(SyscallContext& ctx) {
  struct timespec ts;
  if (::clock_gettime(ClockArg(ctx.arg(0)), &ts) != 0) return -errno;
  return CopyOut(ctx.mem(), ctx.arg(1), ts);
}

int64_t SysClockGetres(SyscallContext& ctx) {
  struct timespec ts;
  if (::clock_getres(ClockArg(ctx.arg(0)), &ts) != 0) return -errno;
  return ctx.arg(1) == 0 ? 0 : CopyOut(ctx.mem(), ctx.arg(1), ts);
}

int64_t SysGettimeofday(SyscallContext& ctx) {
  struct timeval tv;
  ::gettimeofday(&tv, nullptr);
  if (ctx.arg(0) != 0) {
    if (int e = CopyOut(ctx.mem(), ctx.arg(0), tv); e != 0) return e;
  }
  if (ctx.arg(1) != 0) {
    // The kernel's timezone is all zero on any modern system.
    const struct timezone tz = {};
    if (int e = CopyOut(ctx.mem(), ctx.arg(1), tz); e != 0) return e;
  }
  return 0;
}

int64_t SysTime(SyscallContext& ctx) {
  const int64_t now = ::time(nullptr);
  if (ctx.arg(0) != 0) {
    if (int e = CopyOut(ctx.mem(), ctx.arg(0), now); e != 0) return e;
  }
  return now;
}

int64_t SysNanosleep(SyscallContext& ctx) {
  // Linux measures nanosleep on CLOCK_MONOTONIC.
  return GuestSleep(ctx, CLOCK_MONOTONIC, 0, ctx.arg(0), ctx.arg(1));
}

int64_t SysClockNanosleep(SyscallContext& ctx) {
  return GuestSleep(ctx, ClockArg(ctx.arg(0)), static_cast<int>(ctx.arg(1)), ctx.arg(2),
                    ctx.arg(3));
}

}  // namespace km
