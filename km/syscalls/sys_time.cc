// Clocks and sleeps, served by the host's. Sleeps block this guest thread's host thread only.
#include <sys/time.h>
#include <time.h>

#include "km/syscalls/guest_io.h"
#include "km/syscalls/handlers.h"
#include "km/syscalls/sys_common.h"

namespace km {
namespace {

clockid_t ClockArg(uint64_t arg) { return static_cast<clockid_t>(arg); }

// nanosleep-like: copies the request in, sleeps, copies the remainder out when interrupted.
template <typename Sleep>
int64_t GuestSleep(SyscallContext& ctx, uint64_t req_gva, uint64_t rem_gva, Sleep sleep) {
  struct timespec req;
  if (int e = CopyIn(ctx.mem(), req_gva, &req); e != 0) return e;
  struct timespec rem = {};
  const int r = sleep(&req, &rem);  // 0 or an errno value
  if (r == EINTR && rem_gva != 0) {
    if (int e = CopyOut(ctx.mem(), rem_gva, rem); e != 0) return e;
  }
  return -r;
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
  return GuestSleep(ctx, ctx.arg(0), ctx.arg(1), [](timespec* req, timespec* rem) {
    return ::nanosleep(req, rem) == 0 ? 0 : errno;
  });
}

int64_t SysClockNanosleep(SyscallContext& ctx) {
  const clockid_t clock = ClockArg(ctx.arg(0));
  const int flags = static_cast<int>(ctx.arg(1));
  // An absolute sleep has no remainder to report.
  const uint64_t rem = (flags & TIMER_ABSTIME) != 0 ? 0 : ctx.arg(3);
  return GuestSleep(ctx, ctx.arg(2), rem, [&](timespec* req, timespec* left) {
    return ::clock_nanosleep(clock, flags, req, left);
  });
}

}  // namespace km
