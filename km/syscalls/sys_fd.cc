// Syscalls on descriptors. Guest fds are host fds: each call checks the fd is the guest's
// (FdTable) and hands guest buffers to the host kernel as host iovecs into guest memory.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "km/syscalls/guest_io.h"
#include "km/syscalls/handlers.h"
#include "km/syscalls/sys_common.h"

namespace km {
namespace {

// A pipe or terminal may block; a write to a pipe nobody reads raises SIGPIPE in the writer, as
// on Linux (km itself ignores SIGPIPE and gets EPIPE).
int64_t TransferIovecs(SyscallContext& ctx, int fd, const std::vector<iovec>& iov, int64_t offset,
                       bool to_guest) {
  const auto host_fd = static_cast<uint64_t>(fd);
  const uint64_t vec = Ptr(iov.data());
  const uint64_t n = iov.size();
  int64_t r;
  if (offset < 0) {
    r = BlockingHostCall(ctx, to_guest ? SYS_readv : SYS_writev, host_fd, vec, n);
  } else {
    // preadv's offset comes in two halves; on x86-64 the low one holds all 64 bits.
    r = BlockingHostCall(ctx, to_guest ? SYS_preadv : SYS_pwritev, host_fd, vec, n,
                         static_cast<uint64_t>(offset), 0);
  }
  if (r == -EPIPE && !to_guest) RaiseSigpipe(ctx);
  return r;
}

// Transfers between fd and the guest buffer [buf, buf + count) at offset (-1: the file
// position), reading into the guest when to_guest.
int64_t Transfer(SyscallContext& ctx, int fd, uint64_t buf, uint64_t count, int64_t offset,
                 bool to_guest) {
  return WithFd(ctx, fd, [&]() -> int64_t {
    std::vector<iovec> iov;
    int e = GuestBufferIovecs(ctx.mem(), buf, count, to_guest ? Access::kWrite : Access::kRead,
                              &iov, IOV_MAX);
    if (e != 0) return e;
    return TransferIovecs(ctx, fd, iov, offset, to_guest);
  });
}

}  // namespace

int64_t SysRead(SyscallContext& ctx) {
  const int fd = FdArg(ctx.arg(0));
  if (std::optional<uint64_t> mask = ctx.process.fds().SignalfdMask(fd)) {
    return WithFd(ctx, fd, [&] { return ReadSignalfd(ctx, fd, *mask, ctx.arg(1), ctx.arg(2)); });
  }
  return Transfer(ctx, fd, ctx.arg(1), ctx.arg(2), -1, /*to_guest=*/true);
}

int64_t SysWrite(SyscallContext& ctx) {
  return Transfer(ctx, FdArg(ctx.arg(0)), ctx.arg(1), ctx.arg(2), -1, /*to_guest=*/false);
}

int64_t SysPread64(SyscallContext& ctx) {
  const int64_t offset = static_cast<int64_t>(ctx.arg(3));
  if (offset < 0) return -EINVAL;
  return Transfer(ctx, FdArg(ctx.arg(0)), ctx.arg(1), ctx.arg(2), offset, /*to_guest=*/true);
}

int64_t SysPwrite64(SyscallContext& ctx) {
  const int64_t offset = static_cast<int64_t>(ctx.arg(3));
  if (offset < 0) return -EINVAL;
  return Transfer(ctx, FdArg(ctx.arg(0)), ctx.arg(1), ctx.arg(2), offset, /*to_guest=*/false);
}

namespace {

int64_t VectorTransfer(SyscallContext& ctx, bool to_guest) {
  return WithFd(ctx, FdArg(ctx.arg(0)), [&]() -> int64_t {
    std::vector<iovec> iov;
    int e = GuestIovecArray(ctx.mem(), ctx.arg(1), ctx.arg(2),
                            to_guest ? Access::kWrite : Access::kRead, &iov);
    if (e != 0) return e;
    return TransferIovecs(ctx, FdArg(ctx.arg(0)), iov, -1, to_guest);
  });
}

}  // namespace

int64_t SysReadv(SyscallContext& ctx) { return VectorTransfer(ctx, /*to_guest=*/true); }
int64_t SysWritev(SyscallContext& ctx) { return VectorTransfer(ctx, /*to_guest=*/false); }

int64_t SysClose(SyscallContext& ctx) { return ctx.process.fds().Close(FdArg(ctx.arg(0))); }

int64_t SysLseek(SyscallContext& ctx) {
  const int fd = FdArg(ctx.arg(0));
  return WithFd(ctx, fd, [&] {
    return HostResult(::lseek(fd, static_cast<off_t>(ctx.arg(1)), static_cast<int>(ctx.arg(2))));
  });
}

int64_t SysFstat(SyscallContext& ctx) {
  const int fd = FdArg(ctx.arg(0));
  return WithFd(ctx, fd, [&]() -> int64_t {
    // glibc's struct stat on x86-64 is the kernel's.
    struct stat st;
    if (::fstat(fd, &st) != 0) return -errno;
    return CopyOut(ctx.mem(), ctx.arg(1), st);
  });
}

namespace {

// The ioctls a payload may pass through: terminal queries and settings a program run from a
// shell uses (isatty, line buffering, window size, raw mode), with their argument sizes. Any
// other request could reach a device km opened for itself or make the host kernel write an
// unknown amount of memory, so it is refused as "not a terminal".
enum class IoctlArg { kNone, kValue, kIn, kOut };
struct IoctlSpec {
  unsigned long request;
  IoctlArg arg;
  size_t size;
};
// The kernel's struct termios (asm-generic/termbits.h), not glibc's larger one.
constexpr size_t kKernelTermiosSize = 36;
constexpr IoctlSpec kIoctls[] = {
    {TCGETS, IoctlArg::kOut, kKernelTermiosSize},
    {TCSETS, IoctlArg::kIn, kKernelTermiosSize},
    {TCSETSW, IoctlArg::kIn, kKernelTermiosSize},
    {TCSETSF, IoctlArg::kIn, kKernelTermiosSize},
    {TIOCGWINSZ, IoctlArg::kOut, sizeof(struct winsize)},
    {TIOCSWINSZ, IoctlArg::kIn, sizeof(struct winsize)},
    {TIOCGPGRP, IoctlArg::kOut, sizeof(int)},
    {FIONREAD, IoctlArg::kOut, sizeof(int)},
    {FIONBIO, IoctlArg::kIn, sizeof(int)},
    {FIOCLEX, IoctlArg::kNone, 0},
    {FIONCLEX, IoctlArg::kNone, 0},
    {TCSBRK, IoctlArg::kValue, 0},
    {TCXONC, IoctlArg::kValue, 0},
    {TCFLSH, IoctlArg::kValue, 0},
};

}  // namespace

int64_t SysIoctl(SyscallContext& ctx) {
  const int fd = FdArg(ctx.arg(0));
  const unsigned long request = static_cast<unsigned int>(ctx.arg(1));
  const uint64_t arg = ctx.arg(2);
  return WithFd(ctx, fd, [&]() -> int64_t {
    const IoctlSpec* spec = std::find_if(std::begin(kIoctls), std::end(kIoctls),
                                         [&](const IoctlSpec& s) { return s.request == request; });
    if (spec == std::end(kIoctls)) return -ENOTTY;
    uint8_t buf[64] = {};
    switch (spec->arg) {
      case IoctlArg::kNone:
        return HostResult(::ioctl(fd, request));
      case IoctlArg::kValue:
        return HostResult(::ioctl(fd, request, static_cast<unsigned long>(arg)));
      case IoctlArg::kIn:
        if (int e = CopyInBytes(ctx.mem(), arg, buf, spec->size); e != 0) return e;
        return HostResult(::ioctl(fd, request, buf));
      case IoctlArg::kOut: {
        const int64_t r = HostResult(::ioctl(fd, request, buf));
        if (r < 0) return r;
        if (int e = CopyOutBytes(ctx.mem(), arg, buf, spec->size); e != 0) return e;
        return r;
      }
    }
    return -ENOTTY;
  });
}

int64_t SysFcntl(SyscallContext& ctx) {
  const int fd = FdArg(ctx.arg(0));
  const int cmd = static_cast<int>(ctx.arg(1));
  const uint64_t arg = ctx.arg(2);
  return WithFd(ctx, fd, [&]() -> int64_t {
    switch (cmd) {
      case F_DUPFD:
      case F_DUPFD_CLOEXEC: {
        const int r = ::fcntl(fd, cmd, static_cast<int>(arg));
        if (r < 0) return -errno;
        ctx.process.fds().AdoptDupOf(r, fd);
        return r;
      }
      case F_GETFD:
      case F_GETFL:
      case F_GETPIPE_SZ:
        return HostResult(::fcntl(fd, cmd));
      case F_SETFD:
      case F_SETFL:
      case F_SETPIPE_SZ:
        return HostResult(::fcntl(fd, cmd, static_cast<int>(arg)));
      case F_GETLK:
      case F_SETLK:
      case F_SETLKW: {
        struct flock lock;
        if (int e = CopyIn(ctx.mem(), arg, &lock); e != 0) return e;
        if (::fcntl(fd, cmd, &lock) != 0) return -errno;
        return cmd == F_GETLK ? CopyOut(ctx.mem(), arg, lock) : 0;
      }
      default:
        return -EINVAL;
    }
  });
}

int64_t SysDup(SyscallContext& ctx) {
  const int fd = FdArg(ctx.arg(0));
  return WithFd(ctx, fd, [&]() -> int64_t {
    const int r = ::dup(fd);
    if (r < 0) return -errno;
    ctx.process.fds().AdoptDupOf(r, fd);
    return r;
  });
}

int64_t SysDup2(SyscallContext& ctx) {
  const int oldfd = FdArg(ctx.arg(0));
  const int newfd = FdArg(ctx.arg(1));
  if (oldfd == newfd) return ctx.process.fds().Owns(oldfd) ? newfd : -EBADF;
  return ctx.process.fds().DupOnto(oldfd, newfd, 0);
}

int64_t SysDup3(SyscallContext& ctx) {
  const int oldfd = FdArg(ctx.arg(0));
  const int newfd = FdArg(ctx.arg(1));
  const int flags = static_cast<int>(ctx.arg(2));
  if (oldfd == newfd || (flags & ~O_CLOEXEC) != 0) return -EINVAL;
  return ctx.process.fds().DupOnto(oldfd, newfd, flags);
}

namespace {

int64_t MakePipe(SyscallContext& ctx, uint64_t fds_gva, int flags) {
  int fds[2];
  if (::pipe2(fds, flags) != 0) return -errno;
  return AdoptNewFdPair(ctx, fds, fds_gva);
}

}  // namespace

int64_t SysPipe(SyscallContext& ctx) { return MakePipe(ctx, ctx.arg(0), 0); }
int64_t SysPipe2(SyscallContext& ctx) {
  return MakePipe(ctx, ctx.arg(0), static_cast<int>(ctx.arg(1)));
}

int64_t SysGetdents64(SyscallContext& ctx) {
  const int fd = FdArg(ctx.arg(0));
  // A smaller buffer than asked is fine: getdents returns what fits and the caller loops.
  const size_t count = std::min<uint64_t>(static_cast<unsigned int>(ctx.arg(2)), 64 * 1024);
  return WithFd(ctx, fd, [&]() -> int64_t {
    std::vector<uint8_t> buf(count);
    const int64_t r = HostResult(::syscall(SYS_getdents64, fd, buf.data(), count));
    if (r <= 0) return r;
    if (int e = CopyOutBytes(ctx.mem(), ctx.arg(1), buf.data(), r); e != 0) return e;
    return r;
  });
}

int64_t SysFchdir(SyscallContext& ctx) {
  const int fd = FdArg(ctx.arg(0));
  return WithFd(ctx, fd, [&] { return HostResult(::fchdir(fd)); });
}

int64_t SysFsync(SyscallContext& ctx) {
  const int fd = FdArg(ctx.arg(0));
  return WithFd(ctx, fd, [&] { return HostResult(::fsync(fd)); });
}

int64_t SysFtruncate(SyscallContext& ctx) {
  const int fd = FdArg(ctx.arg(0));
  return WithFd(ctx, fd,
                [&] { return HostResult(::ftruncate(fd, static_cast<off_t>(ctx.arg(1)))); });
}

}  // namespace km
