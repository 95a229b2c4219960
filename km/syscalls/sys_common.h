// Small helpers shared by the syscall handlers.
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "km/runtime/fd_table.h"
#include "km/runtime/process.h"
#include "km/syscalls/dispatch.h"
#include "km/syscalls/guest_io.h"

namespace km {

// A host call's result as a syscall return: the value, or -errno.
inline int64_t HostResult(int64_t r) { return r < 0 ? -errno : r; }

// A host syscall that may block as long as the guest likes (a read on a pipe, a futex wait). A
// signal for the thread cuts it short: -EINTR, with ctx.interrupted set (and
// ctx.interrupted_before_start if it never began). A host interrupt that turns out to concern no
// signal the thread takes (it was blocked meanwhile) makes it go again.
int64_t BlockingHostCall(SyscallContext& ctx, int64_t nr, uint64_t a1 = 0, uint64_t a2 = 0,
                         uint64_t a3 = 0, uint64_t a4 = 0, uint64_t a5 = 0, uint64_t a6 = 0);

// The guest's fd arguments are C ints (the kernel reads the low 32 bits).
inline int FdArg(uint64_t arg) { return static_cast<int>(arg); }

// Runs f() while holding a use of the guest fd, or returns -EBADF.
template <typename F>
int64_t WithFd(SyscallContext& ctx, int fd, F f) {
  FdTable::Ref ref;
  if (int e = ctx.process.fds().Acquire(fd, &ref); e != 0) return e;
  return f();
}

// The same for a dirfd argument of the *at calls: AT_FDCWD, or an fd the guest owns. An
// absolute path ignores dirfd, as Linux does.
template <typename F>
int64_t WithDirFd(SyscallContext& ctx, int dirfd, const std::string& path, F f) {
  if (dirfd == AT_FDCWD || (!path.empty() && path[0] == '/')) return f();
  return WithFd(ctx, dirfd, f);
}

// Reads the path at gva and runs f(path) with dirfd checked.
template <typename F>
int64_t WithPathAt(SyscallContext& ctx, int dirfd, uint64_t gva, F f) {
  std::string path;
  if (int e = ReadPath(ctx.mem(), gva, &path); e != 0) return e;
  return WithDirFd(ctx, dirfd, path, [&]() -> int64_t { return f(path.c_str()); });
}

// pid arguments name the payload when 0 or its own pid / one of its tids.
inline bool IsSelf(SyscallContext& ctx, int64_t pid) {
  return pid == 0 || pid == ::getpid() || ctx.process.FindThread(static_cast<int>(pid)) != nullptr;
}

}  // namespace km
