// Small helpers shared by the syscall handlers.
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "km/runtime/fd_table.h"
#include "km/runtime/guest_thread.h"
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

// BlockingHostCall for a host call with a relative timeout at *timeout, which its arguments point
// to: before each try it is set to what is left until deadline (on CLOCK_MONOTONIC, zero once
// past), so that a call issued again after a host interrupt that concerned no signal still ends
// on time. timeout nullptr: the call has none.
int64_t BlockingHostCallUntil(SyscallContext& ctx, absl::Duration deadline, timespec* timeout,
                              int64_t nr, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
                              uint64_t a4 = 0, uint64_t a5 = 0, uint64_t a6 = 0);

// CLOCK_MONOTONIC's time: Linux measures the timeouts of poll, select and epoll_wait on it.
inline absl::Duration MonotonicNow() {
  struct timespec now;
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return absl::DurationFromTimespec(now);
}

// What Linux does to a thread whose write to a pipe or stream socket nobody reads fails with
// EPIPE (km itself ignores SIGPIPE and only gets the error).
inline void RaiseSigpipe(SyscallContext& ctx) {
  ctx.thread.SendSignal({.signo = SIGPIPE, .code = SI_USER, .sender_pid = ::getpid(),
                         .sender_uid = ::getuid()});
}

// The result of a host call that made a new fd for the guest (socket, accept, eventfd...): the
// fd, now the guest's, or -errno.
inline int64_t AdoptNewFd(SyscallContext& ctx, int fd) {
  if (fd < 0) return -errno;
  ctx.process.fds().Adopt(fd);
  return fd;
}

// pipe2, socketpair: the new pair, copied out to the guest's int[2] at gva and then the
// guest's; on a fault both are closed and the call fails with EFAULT.
inline int64_t AdoptNewFdPair(SyscallContext& ctx, const int (&fds)[2], uint64_t gva) {
  if (int e = CopyOutBytes(ctx.mem(), gva, fds, sizeof fds); e != 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return e;
  }
  ctx.process.fds().Adopt(fds[0]);
  ctx.process.fds().Adopt(fds[1]);
  return 0;
}

// A host pointer as a raw syscall argument.
inline uint64_t Ptr(const void* p) { return reinterpret_cast<uint64_t>(p); }

// The size of a kernel sigset, which the signal-taking calls must be given.
inline constexpr uint64_t kSigsetSize = 8;

// read(2) of a signalfd (sys_signalfd.cc), with a use of fd held.
int64_t ReadSignalfd(SyscallContext& ctx, int fd, uint64_t mask, uint64_t buf, uint64_t count);

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
