// Who and where the payload runs: km's pid, the host's user, a Linux x86_64 uname, the host's
// CPUs, limits and randomness.
#include <sched.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "km/layout.h"
#include "km/runtime/guest_thread.h"
#include "km/syscalls/guest_io.h"
#include "km/syscalls/handlers.h"
#include "km/syscalls/sys_common.h"

namespace km {
namespace {

// The limits a payload reads: the host's, except the stack, which is km's fixed guest stack.
void GuestRlimit(int resource, struct rlimit* lim) {
  ::getrlimit(resource, lim);
  if (resource == RLIMIT_STACK) lim->rlim_cur = lim->rlim_max = kStackSize;
}

// New limits are checked and not applied (they would bind km, not the payload), except
// RLIMIT_CORE: km's own is the one km reads when it writes the payload's core (core_dump.h).
int SetGuestRlimit(int resource, const struct rlimit& lim) {
  if (lim.rlim_cur > lim.rlim_max) return -EINVAL;
  if (resource != RLIMIT_CORE) return 0;
  return ::setrlimit(RLIMIT_CORE, &lim) == 0 ? 0 : -errno;
}

}  // namespace

int64_t SysGetpid(SyscallContext&) { return ::getpid(); }
int64_t SysGettid(SyscallContext& ctx) { return ctx.thread.tid(); }
int64_t SysGetppid(SyscallContext&) { return ::getppid(); }
int64_t SysGetuid(SyscallContext&) { return ::getuid(); }
int64_t SysGeteuid(SyscallContext&) { return ::geteuid(); }
int64_t SysGetgid(SyscallContext&) { return ::getgid(); }
int64_t SysGetegid(SyscallContext&) { return ::getegid(); }

int64_t SysUname(SyscallContext& ctx) {
  struct utsname u;
  if (::uname(&u) != 0) return -errno;
  strncpy(u.sysname, "Linux", sizeof u.sysname);
  strncpy(u.machine, "x86_64", sizeof u.machine);
  return CopyOut(ctx.mem(), ctx.arg(0), u);
}

int64_t SysSchedGetaffinity(SyscallContext& ctx) {
  if (!IsSelf(ctx, static_cast<int>(ctx.arg(0)))) return -ESRCH;
  const uint64_t len = ctx.arg(1);
  if (len == 0 || len % sizeof(unsigned long) != 0) return -EINVAL;
  std::vector<uint8_t> mask(std::min<uint64_t>(len, 8192));
  // The raw syscall returns the size the kernel wrote, which musl passes on.
  const int64_t r = HostResult(::syscall(SYS_sched_getaffinity, 0, mask.size(), mask.data()));
  if (r < 0) return r;
  if (int e = CopyOutBytes(ctx.mem(), ctx.arg(2), mask.data(), r); e != 0) return e;
  return r;
}

int64_t SysSchedYield(SyscallContext&) {
  ::sched_yield();
  return 0;
}

int64_t SysGetrandom(SyscallContext& ctx) {
  // Linux returns at most this much from one call; a short count is allowed.
  const uint64_t len = std::min<uint64_t>(ctx.arg(1), 1 << 20);
  std::vector<uint8_t> buf(len);
  const int64_t r = HostResult(::getrandom(buf.data(), len, static_cast<unsigned>(ctx.arg(2))));
  if (r <= 0) return r;
  if (int e = CopyOutBytes(ctx.mem(), ctx.arg(0), buf.data(), r); e != 0) return e;
  return r;
}

int64_t SysPrlimit64(SyscallContext& ctx) {
  if (!IsSelf(ctx, static_cast<int>(ctx.arg(0)))) return -ESRCH;
  const int resource = static_cast<int>(ctx.arg(1));
  if (resource < 0 || resource >= RLIM_NLIMITS) return -EINVAL;
  struct rlimit old;
  GuestRlimit(resource, &old);
  if (ctx.arg(2) != 0) {
    struct rlimit lim;
    if (int e = CopyIn(ctx.mem(), ctx.arg(2), &lim); e != 0) return e;
    if (int e = SetGuestRlimit(resource, lim); e != 0) return e;
  }
  if (ctx.arg(3) != 0) return CopyOut(ctx.mem(), ctx.arg(3), old);
  return 0;
}

int64_t SysGetrlimit(SyscallContext& ctx) {
  const int resource = static_cast<int>(ctx.arg(0));
  if (resource < 0 || resource >= RLIM_NLIMITS) return -EINVAL;
  struct rlimit lim;
  GuestRlimit(resource, &lim);
  return CopyOut(ctx.mem(), ctx.arg(1), lim);
}

int64_t SysSetrlimit(SyscallContext& ctx) {
  const int resource = static_cast<int>(ctx.arg(0));
  if (resource < 0 || resource >= RLIM_NLIMITS) return -EINVAL;
  struct rlimit lim;
  if (int e = CopyIn(ctx.mem(), ctx.arg(1), &lim); e != 0) return e;
  return SetGuestRlimit(resource, lim);
}

int64_t SysSysinfo(SyscallContext& ctx) {
  struct sysinfo info;
  if (::sysinfo(&info) != 0) return -errno;
  // The payload's RAM is its guest memory, not the host's.
  const uint64_t guest = ctx.mem().phys().size;
  const uint64_t unit = info.mem_unit == 0 ? 1 : info.mem_unit;
  info.totalram = std::min<uint64_t>(info.totalram, guest / unit);
  info.freeram = std::min<uint64_t>(info.freeram, info.totalram);
  return CopyOut(ctx.mem(), ctx.arg(0), info);
}

}  // namespace km
