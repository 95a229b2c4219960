// Syscalls that name files. Paths are read from guest memory (EFAULT, ENAMETOOLONG) and passed
// to the host: the payload sees the host's file system, as a native process would.
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "km/syscalls/guest_io.h"
#include "km/syscalls/handlers.h"
#include "km/syscalls/proc_guard.h"
#include "km/syscalls/sys_common.h"

namespace km {
namespace {

int64_t OpenAt(SyscallContext& ctx, int dirfd, uint64_t path_gva, int flags, mode_t mode) {
  return WithPathAt(ctx, dirfd, path_gva, [&](const char* path) -> int64_t {
    if (int e = CheckOpenPath(dirfd, path, ctx.process.fds()); e != 0) return e;
    const int fd = ::openat(dirfd, path, flags, mode);
    if (fd < 0) return -errno;
    if (int e = CheckOpenedFd(fd); e != 0) {
      ::close(fd);
      return e;
    }
    ctx.process.fds().Adopt(fd);
    return fd;
  });
}

int64_t StatAt(SyscallContext& ctx, int dirfd, uint64_t path_gva, uint64_t st_gva, int flags) {
  return WithPathAt(ctx, dirfd, path_gva, [&](const char* path) -> int64_t {
    struct stat st;
    if (::fstatat(dirfd, path, &st, flags) != 0) return -errno;
    return CopyOut(ctx.mem(), st_gva, st);
  });
}

int64_t RenameAt(SyscallContext& ctx, int olddirfd, uint64_t old_gva, int newdirfd,
                 uint64_t new_gva, unsigned int flags) {
  std::string newpath;
  if (int e = ReadPath(ctx.mem(), new_gva, &newpath); e != 0) return e;
  return WithPathAt(ctx, olddirfd, old_gva, [&](const char* oldpath) -> int64_t {
    return WithDirFd(ctx, newdirfd, newpath, [&] {
      return HostResult(::renameat2(olddirfd, oldpath, newdirfd, newpath.c_str(), flags));
    });
  });
}

int64_t ReadlinkAt(SyscallContext& ctx, int dirfd, uint64_t path_gva, uint64_t buf_gva,
                   int64_t bufsiz) {
  if (bufsiz <= 0) return -EINVAL;
  return WithPathAt(ctx, dirfd, path_gva, [&](const char* path) -> int64_t {
    char target[PATH_MAX];
    ssize_t n;
    // The payload is the program running, not km: what a native run would see.
    const std::string p = path;
    char exe[PATH_MAX];
    if ((p == "/proc/self/exe" || p == "/proc/thread-self/exe") &&
        ::realpath(ctx.process.image().path.c_str(), exe) != nullptr) {
      n = static_cast<ssize_t>(std::min(strlen(exe), sizeof target));
      memcpy(target, exe, n);
    } else {
      n = ::readlinkat(dirfd, path, target, sizeof target);
      if (n < 0) return -errno;
    }
    n = std::min<int64_t>(n, bufsiz);
    if (int e = CopyOutBytes(ctx.mem(), buf_gva, target, n); e != 0) return e;
    return n;
  });
}

int DirFdArg(uint64_t arg) { return static_cast<int>(arg); }

}  // namespace

int64_t SysOpen(SyscallContext& ctx) {
  return OpenAt(ctx, AT_FDCWD, ctx.arg(0), static_cast<int>(ctx.arg(1)),
                static_cast<mode_t>(ctx.arg(2)));
}

int64_t SysOpenat(SyscallContext& ctx) {
  return OpenAt(ctx, DirFdArg(ctx.arg(0)), ctx.arg(1), static_cast<int>(ctx.arg(2)),
                static_cast<mode_t>(ctx.arg(3)));
}

int64_t SysStat(SyscallContext& ctx) { return StatAt(ctx, AT_FDCWD, ctx.arg(0), ctx.arg(1), 0); }

int64_t SysLstat(SyscallContext& ctx) {
  return StatAt(ctx, AT_FDCWD, ctx.arg(0), ctx.arg(1), AT_SYMLINK_NOFOLLOW);
}

int64_t SysNewfstatat(SyscallContext& ctx) {
  return StatAt(ctx, DirFdArg(ctx.arg(0)), ctx.arg(1), ctx.arg(2), static_cast<int>(ctx.arg(3)));
}

int64_t SysAccess(SyscallContext& ctx) {
  return WithPathAt(ctx, AT_FDCWD, ctx.arg(0), [&](const char* path) {
    return HostResult(::faccessat(AT_FDCWD, path, static_cast<int>(ctx.arg(1)), 0));
  });
}

int64_t SysFaccessat(SyscallContext& ctx) {
  const int dirfd = DirFdArg(ctx.arg(0));
  return WithPathAt(ctx, dirfd, ctx.arg(1), [&](const char* path) {
    return HostResult(::syscall(SYS_faccessat, dirfd, path, static_cast<int>(ctx.arg(2))));
  });
}

int64_t SysFaccessat2(SyscallContext& ctx) {
  const int dirfd = DirFdArg(ctx.arg(0));
  return WithPathAt(ctx, dirfd, ctx.arg(1), [&](const char* path) {
    return HostResult(::syscall(SYS_faccessat2, dirfd, path, static_cast<int>(ctx.arg(2)),
                                static_cast<int>(ctx.arg(3))));
  });
}

int64_t SysUnlink(SyscallContext& ctx) {
  return WithPathAt(ctx, AT_FDCWD, ctx.arg(0),
                    [&](const char* path) { return HostResult(::unlink(path)); });
}

int64_t SysUnlinkat(SyscallContext& ctx) {
  const int dirfd = DirFdArg(ctx.arg(0));
  return WithPathAt(ctx, dirfd, ctx.arg(1), [&](const char* path) {
    return HostResult(::unlinkat(dirfd, path, static_cast<int>(ctx.arg(2))));
  });
}

int64_t SysMkdir(SyscallContext& ctx) {
  return WithPathAt(ctx, AT_FDCWD, ctx.arg(0), [&](const char* path) {
    return HostResult(::mkdir(path, static_cast<mode_t>(ctx.arg(1))));
  });
}

int64_t SysMkdirat(SyscallContext& ctx) {
  const int dirfd = DirFdArg(ctx.arg(0));
  return WithPathAt(ctx, dirfd, ctx.arg(1), [&](const char* path) {
    return HostResult(::mkdirat(dirfd, path, static_cast<mode_t>(ctx.arg(2))));
  });
}

int64_t SysRmdir(SyscallContext& ctx) {
  return WithPathAt(ctx, AT_FDCWD, ctx.arg(0),
                    [&](const char* path) { return HostResult(::rmdir(path)); });
}

int64_t SysRename(SyscallContext& ctx) {
  return RenameAt(ctx, AT_FDCWD, ctx.arg(0), AT_FDCWD, ctx.arg(1), 0);
}

int64_t SysRenameat(SyscallContext& ctx) {
  return RenameAt(ctx, DirFdArg(ctx.arg(0)), ctx.arg(1), DirFdArg(ctx.arg(2)), ctx.arg(3), 0);
}

int64_t SysRenameat2(SyscallContext& ctx) {
  return RenameAt(ctx, DirFdArg(ctx.arg(0)), ctx.arg(1), DirFdArg(ctx.arg(2)), ctx.arg(3),
                  static_cast<unsigned int>(ctx.arg(4)));
}

int64_t SysReadlink(SyscallContext& ctx) {
  return ReadlinkAt(ctx, AT_FDCWD, ctx.arg(0), ctx.arg(1), static_cast<int>(ctx.arg(2)));
}

int64_t SysReadlinkat(SyscallContext& ctx) {
  return ReadlinkAt(ctx, DirFdArg(ctx.arg(0)), ctx.arg(1), ctx.arg(2),
                    static_cast<int>(ctx.arg(3)));
}

int64_t SysGetcwd(SyscallContext& ctx) {
  char cwd[PATH_MAX];
  if (::getcwd(cwd, sizeof cwd) == nullptr) return -errno;
  const uint64_t len = strlen(cwd) + 1;
  if (ctx.arg(1) < len) return -ERANGE;
  if (int e = CopyOutBytes(ctx.mem(), ctx.arg(0), cwd, len); e != 0) return e;
  return static_cast<int64_t>(len);
}

int64_t SysChdir(SyscallContext& ctx) {
  return WithPathAt(ctx, AT_FDCWD, ctx.arg(0),
                    [&](const char* path) { return HostResult(::chdir(path)); });
}

}  // namespace km
