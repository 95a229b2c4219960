// A file's metadata and contents as a whole: mode, owner, times, links, size, locks, copies
// between descriptors, file system queries and syncs. All forwarded to the host once the paths,
// fds and pointers are checked, so the payload sees the host's files as a native process would.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "km/runtime/guest_thread.h"
#include "km/syscalls/guest_io.h"
#include "km/syscalls/handlers.h"
#include "km/syscalls/proc_guard.h"
#include "km/syscalls/sys_common.h"

namespace km {
namespace {

// WithPathAt for a call that changes or reaches the file itself (its mode, owner, times or
// size, a new link to it): like open, it must not get at km's own files through /proc, e.g.
// truncate("/proc/self/fd/N") of a descriptor of km's. An empty path (AT_EMPTY_PATH) names
// dirfd, which WithDirFd has already found to be the guest's. Metadata reads (statx, statfs)
// are not checked, as stat is not: they give no power over km.
template <typename F>
int64_t WithReachedPathAt(SyscallContext& ctx, int dirfd, uint64_t gva, F f) {
  return WithPathAt(ctx, dirfd, gva, [&](const char* path) -> int64_t {
    if (path[0] != '\0') {
      if (int e = CheckOpenPath(dirfd, path, ctx.process.fds()); e != 0) return e;
    }
    return f(path);
  });
}

// uid and gid arguments are 32 bits; -1 leaves one unchanged.
uid_t IdArg(uint64_t arg) { return static_cast<uid_t>(arg); }

int64_t ChownAt(SyscallContext& ctx, int dirfd, uint64_t path_gva, uint64_t uid, uint64_t gid,
                int flags) {
  return WithReachedPathAt(ctx, dirfd, path_gva, [&](const char* path) {
    return HostResult(::fchownat(dirfd, path, IdArg(uid), IdArg(gid), flags));
  });
}

int64_t LinkAt(SyscallContext& ctx, int olddirfd, uint64_t old_gva, int newdirfd, uint64_t new_gva,
               int flags) {
  return WithReachedPathAt(ctx, olddirfd, old_gva, [&](const char* oldpath) {
    std::string newpath;
    if (int e = ReadPath(ctx.mem(), new_gva, &newpath); e != 0) return int64_t{e};
    return WithDirFd(ctx, newdirfd, newpath, [&] {
      return HostResult(::linkat(olddirfd, oldpath, newdirfd, newpath.c_str(), flags));
    });
  });
}

// The target is only text stored in the link: opening through it is checked then.
int64_t SymlinkAt(SyscallContext& ctx, uint64_t target_gva, int newdirfd, uint64_t link_gva) {
  std::string target;
  if (int e = ReadPath(ctx.mem(), target_gva, &target); e != 0) return e;
  return WithPathAt(ctx, newdirfd, link_gva, [&](const char* link) {
    return HostResult(::symlinkat(target.c_str(), newdirfd, link));
  });
}

}  // namespace

int64_t SysChmod(SyscallContext& ctx) {
  return WithReachedPathAt(ctx, AT_FDCWD, ctx.arg(0), [&](const char* path) {
    return HostResult(::chmod(path, static_cast<mode_t>(ctx.arg(1))));
  });
}

int64_t SysFchmod(SyscallContext& ctx) {
  const int fd = FdArg(ctx.arg(0));
  return WithFd(ctx, fd, [&] { return HostResult(::fchmod(fd, static_cast<mode_t>(ctx.arg(1)))); });
}

// The syscall has no flags argument (libc emulates AT_SYMLINK_NOFOLLOW around it).
int64_t SysFchmodat(SyscallContext& ctx) {
  const int dirfd = FdArg(ctx.arg(0));
  return WithReachedPathAt(ctx, dirfd, ctx.arg(1), [&](const char* path) {
    return HostResult(::syscall(SYS_fchmodat, dirfd, path, static_cast<mode_t>(ctx.arg(2))));
  });
}

int64_t SysChown(SyscallContext& ctx) {
  return ChownAt(ctx, AT_FDCWD, ctx.arg(0), ctx.arg(1), ctx.arg(2), 0);
}

int64_t SysLchown(SyscallContext& ctx) {
  return ChownAt(ctx, AT_FDCWD, ctx.arg(0), ctx.arg(1), ctx.arg(2), AT_SYMLINK_NOFOLLOW);
}

int64_t SysFchownat(SyscallContext& ctx) {
  return ChownAt(ctx, FdArg(ctx.arg(0)), ctx.arg(1), ctx.arg(2), ctx.arg(3),
                 static_cast<int>(ctx.arg(4)));
}

int64_t SysFchown(SyscallContext& ctx) {
  const int fd = FdArg(ctx.arg(0));
  return WithFd(ctx, fd,
                [&] { return HostResult(::fchown(fd, IdArg(ctx.arg(1)), IdArg(ctx.arg(2)))); });
}

int64_t SysUtimensat(SyscallContext& ctx) {
  const int dirfd = FdArg(ctx.arg(0));
  const uint64_t path_gva = ctx.arg(1);
  const int flags = static_cast<int>(ctx.arg(3));
  struct timespec times[2];
  const struct timespec* host_times = nullptr;  // both "now"
  if (ctx.arg(2) != 0) {
    if (int e = CopyIn(ctx.mem(), ctx.arg(2), &times); e != 0) return e;
    // As Linux: with nothing to change, the path is not even looked at.
    if (times[0].tv_nsec == UTIME_OMIT && times[1].tv_nsec == UTIME_OMIT) return 0;
    host_times = times;
  }
  // A null path names dirfd itself: futimens(fd) is utimensat(fd, NULL).
  if (path_gva == 0 && dirfd != AT_FDCWD) {
    return WithFd(ctx, dirfd, [&] {
      return HostResult(::syscall(SYS_utimensat, dirfd, nullptr, host_times, flags));
    });
  }
  return WithReachedPathAt(ctx, dirfd, path_gva, [&](const char* path) {
    return HostResult(::syscall(SYS_utimensat, dirfd, path, host_times, flags));
  });
}

int64_t SysStatfs(SyscallContext& ctx) {
  return WithPathAt(ctx, AT_FDCWD, ctx.arg(0), [&](const char* path) -> int64_t {
    struct statfs fs;
    if (::statfs(path, &fs) != 0) return -errno;
    return CopyOut(ctx.mem(), ctx.arg(1), fs);
  });
}

int64_t SysFstatfs(SyscallContext& ctx) {
  const int fd = FdArg(ctx.arg(0));
  return WithFd(ctx, fd, [&]() -> int64_t {
    struct statfs fs;
    if (::fstatfs(fd, &fs) != 0) return -errno;
    return CopyOut(ctx.mem(), ctx.arg(1), fs);
  });
}

int64_t SysStatx(SyscallContext& ctx) {
  const int dirfd = FdArg(ctx.arg(0));
  const int flags = static_cast<int>(ctx.arg(2));
  const auto mask = static_cast<unsigned int>(ctx.arg(3));
  auto statx_at = [&](const char* path) -> int64_t {
    struct statx stx;
    if (::syscall(SYS_statx, dirfd, path, flags, mask, &stx) != 0) return -errno;
    return CopyOut(ctx.mem(), ctx.arg(4), stx);
  };
  // Since Linux 6.11 a null path with AT_EMPTY_PATH names dirfd, as "" does; before, it is a
  // fault. The host's kernel says which.
  if (ctx.arg(1) == 0 && (flags & AT_EMPTY_PATH) != 0) {
    return WithDirFd(ctx, dirfd, "", [&] { return statx_at(nullptr); });
  }
  return WithPathAt(ctx, dirfd, ctx.arg(1), statx_at);
}

int64_t SysLink(SyscallContext& ctx) {
  return LinkAt(ctx, AT_FDCWD, ctx.arg(0), AT_FDCWD, ctx.arg(1), 0);
}

int64_t SysLinkat(SyscallContext& ctx) {
  return LinkAt(ctx, FdArg(ctx.arg(0)), ctx.arg(1), FdArg(ctx.arg(2)), ctx.arg(3),
                static_cast<int>(ctx.arg(4)));
}

int64_t SysSymlink(SyscallContext& ctx) { return SymlinkAt(ctx, ctx.arg(0), AT_FDCWD, ctx.arg(1)); }

int64_t SysSymlinkat(SyscallContext& ctx) {
  return SymlinkAt(ctx, ctx.arg(0), FdArg(ctx.arg(1)), ctx.arg(2));
}

int64_t SysTruncate(SyscallContext& ctx) {
  return WithReachedPathAt(ctx, AT_FDCWD, ctx.arg(0), [&](const char* path) {
    return HostResult(::truncate(path, static_cast<off_t>(ctx.arg(1))));
  });
}

int64_t SysFallocate(SyscallContext& ctx) {
  const int fd = FdArg(ctx.arg(0));
  return WithFd(ctx, fd, [&] {
    return HostResult(::fallocate(fd, static_cast<int>(ctx.arg(1)), static_cast<off_t>(ctx.arg(2)),
                                  static_cast<off_t>(ctx.arg(3))));
  });
}

// Waits for another holder of the lock: a signal cuts that short, as on Linux.
int64_t SysFlock(SyscallContext& ctx) {
  const int fd = FdArg(ctx.arg(0));
  return WithFd(ctx, fd, [&] {
    return BlockingHostCall(ctx, SYS_flock, static_cast<uint64_t>(fd),
                            static_cast<unsigned int>(ctx.arg(1)));
  });
}

// Linux reads *offset first and writes the new offset back whatever the result.
int64_t SysSendfile(SyscallContext& ctx) {
  const int out_fd = FdArg(ctx.arg(0));
  const int in_fd = FdArg(ctx.arg(1));
  const uint64_t offset_gva = ctx.arg(2);
  off_t offset = 0;
  if (offset_gva != 0) {
    if (int e = CopyIn(ctx.mem(), offset_gva, &offset); e != 0) return e;
  }
  return WithFd(ctx, in_fd, [&] {
    return WithFd(ctx, out_fd, [&]() -> int64_t {
      // Writing to a pipe or socket may block.
      const int64_t r = BlockingHostCall(
          ctx, SYS_sendfile, static_cast<uint64_t>(out_fd), static_cast<uint64_t>(in_fd),
          offset_gva == 0 ? 0 : Ptr(&offset), ctx.arg(3));
      if (r == -EPIPE) RaiseSigpipe(ctx);
      if (offset_gva != 0 && CopyOut(ctx.mem(), offset_gva, offset) != 0) return -EFAULT;
      return r;
    });
  });
}

// Linux checks the fds, then reads the offsets, and writes them back only after a copy.
int64_t SysCopyFileRange(SyscallContext& ctx) {
  const int fd_in = FdArg(ctx.arg(0));
  const uint64_t off_in_gva = ctx.arg(1);
  const int fd_out = FdArg(ctx.arg(2));
  const uint64_t off_out_gva = ctx.arg(3);
  return WithFd(ctx, fd_in, [&] {
    return WithFd(ctx, fd_out, [&]() -> int64_t {
      off_t off_in = 0;
      off_t off_out = 0;
      if (off_in_gva != 0) {
        if (int e = CopyIn(ctx.mem(), off_in_gva, &off_in); e != 0) return e;
      }
      if (off_out_gva != 0) {
        if (int e = CopyIn(ctx.mem(), off_out_gva, &off_out); e != 0) return e;
      }
      const int64_t r = HostResult(::copy_file_range(
          fd_in, off_in_gva == 0 ? nullptr : &off_in, fd_out, off_out_gva == 0 ? nullptr : &off_out,
          ctx.arg(4), static_cast<unsigned>(ctx.arg(5))));
      if (r <= 0) return r;
      if (off_in_gva != 0 && CopyOut(ctx.mem(), off_in_gva, off_in) != 0) return -EFAULT;
      if (off_out_gva != 0 && CopyOut(ctx.mem(), off_out_gva, off_out) != 0) return -EFAULT;
      return r;
    });
  });
}

int64_t SysSync(SyscallContext&) {
  ::sync();
  return 0;
}

int64_t SysSyncfs(SyscallContext& ctx) {
  const int fd = FdArg(ctx.arg(0));
  return WithFd(ctx, fd, [&] { return HostResult(::syncfs(fd)); });
}

// Advice only, but forwarded: the host checks it (EINVAL, ESPIPE on a pipe) as Linux would.
int64_t SysFadvise64(SyscallContext& ctx) {
  const int fd = FdArg(ctx.arg(0));
  return WithFd(ctx, fd, [&] {
    return HostResult(::syscall(SYS_fadvise64, fd, static_cast<off_t>(ctx.arg(1)),
                                static_cast<off_t>(ctx.arg(2)), static_cast<int>(ctx.arg(3))));
  });
}

}  // namespace km
