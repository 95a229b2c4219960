// Event and timer descriptors: host eventfds and timerfds, the guest's like any fd it opens.
// Reading, writing and waiting on them are sys_fd.cc's and sys_poll.cc's.
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>

#include "km/syscalls/guest_io.h"
#include "km/syscalls/handlers.h"
#include "km/syscalls/sys_common.h"

namespace km {

int64_t SysEventfd(SyscallContext& ctx) {
  return AdoptNewFd(ctx, ::eventfd(static_cast<unsigned int>(ctx.arg(0)), 0));
}

int64_t SysEventfd2(SyscallContext& ctx) {
  return AdoptNewFd(
      ctx, ::eventfd(static_cast<unsigned int>(ctx.arg(0)), static_cast<int>(ctx.arg(1))));
}

int64_t SysTimerfdCreate(SyscallContext& ctx) {
  return AdoptNewFd(
      ctx, ::timerfd_create(static_cast<clockid_t>(ctx.arg(0)), static_cast<int>(ctx.arg(1))));
}

int64_t SysTimerfdSettime(SyscallContext& ctx) {
  const int fd = FdArg(ctx.arg(0));
  const int flags = static_cast<int>(ctx.arg(1));
  // Linux reads the new setting before it looks at the fd.
  struct itimerspec next;
  if (int e = CopyIn(ctx.mem(), ctx.arg(2), &next); e != 0) return e;
  return WithFd(ctx, fd, [&]() -> int64_t {
    struct itimerspec old;
    if (::timerfd_settime(fd, flags, &next, &old) != 0) return -errno;
    return ctx.arg(3) == 0 ? 0 : CopyOut(ctx.mem(), ctx.arg(3), old);
  });
}

int64_t SysTimerfdGettime(SyscallContext& ctx) {
  const int fd = FdArg(ctx.arg(0));
  return WithFd(ctx, fd, [&]() -> int64_t {
    struct itimerspec now;
    if (::timerfd_gettime(fd, &now) != 0) return -errno;
    return CopyOut(ctx.mem(), ctx.arg(1), now);
  });
}

}  // namespace km
