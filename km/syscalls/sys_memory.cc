// Memory syscalls over GuestMemory. File-backed mmap is supported for MAP_PRIVATE only, by
// reading the file into fresh anonymous guest memory (what MAP_PRIVATE lets a process see as long
// as nobody else writes the file); MAP_SHARED of a file is -ENODEV. mremap is -ENOMEM: musl's
// realloc then moves the data itself.
#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "km/syscalls/guest_io.h"
#include "km/syscalls/handlers.h"
#include "km/syscalls/sys_common.h"

namespace km {
namespace {

constexpr uint64_t kUserTop = 1ull << 47;
constexpr uint32_t kProtMask = kProtRead | kProtWrite | kProtExec;

bool PageAligned(uint64_t x) { return (x & (kPageSize - 1)) == 0; }
uint64_t PageUp(uint64_t x) { return (x + kPageSize - 1) & ~(kPageSize - 1); }

int64_t Errno(const absl::Status& s) { return -ErrnoFromStatus(s); }

// Picks where the mapping goes and maps [addr, addr + size) with prot.
absl::StatusOr<uint64_t> PlaceMapping(GuestMemory& mem, uint64_t hint, uint64_t size,
                                      uint32_t prot, int flags, const std::string& name) {
  if ((flags & MAP_FIXED) != 0) {
    // MAP_FIXED replaces whatever was there.
    if (absl::Status s = mem.Unmap(hint, size); !s.ok()) return s;
    if (absl::Status s = mem.Map(hint, size, prot, RegionKind::kMmap, name); !s.ok()) return s;
    return hint;
  }
  if ((flags & MAP_FIXED_NOREPLACE) != 0) {
    if (absl::Status s = mem.Map(hint, size, prot, RegionKind::kMmap, name); !s.ok()) return s;
    return hint;
  }
  if (hint != 0) {
    const uint64_t at = hint & ~(kPageSize - 1);
    if (mem.Map(at, size, prot, RegionKind::kMmap, name).ok()) return at;
  }
  return mem.MapAnywhere(size, prot, RegionKind::kMmap, name);
}

// Fills the fresh mapping [addr, addr + size) from fd at offset; bytes past the end of the file
// stay zero.
int64_t FillFromFile(GuestMemory& mem, int fd, uint64_t addr, uint64_t size, off_t offset) {
  uint64_t done = 0;
  while (done < size) {
    absl::StatusOr<uint8_t*> host = mem.HostPointer(addr + done, size - done, Access::kWrite);
    if (!host.ok()) return Errno(host.status());
    const ssize_t n = ::pread(fd, *host, size - done, offset + static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) break;
    done += n;
  }
  return 0;
}

int64_t MapFile(SyscallContext& ctx, uint64_t hint, uint64_t size, uint32_t prot, int flags,
                int fd, off_t offset) {
  return WithFd(ctx, fd, [&]() -> int64_t {
    struct stat st;
    if (::fstat(fd, &st) != 0) return -errno;
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) return -ENODEV;
    const int accmode = ::fcntl(fd, F_GETFL) & O_ACCMODE;
    if (accmode == O_WRONLY) return -EACCES;
    char path[PATH_MAX];
    const ssize_t n = ::readlink(absl::StrCat("/proc/self/fd/", fd).c_str(), path, sizeof path);
    const std::string name = n > 0 ? std::string(path, n) : std::string();
    GuestMemory& mem = ctx.mem();
    // Writable while it is filled; the payload's protection afterwards.
    absl::StatusOr<uint64_t> addr =
        PlaceMapping(mem, hint, size, kProtRead | kProtWrite, flags, name);
    if (!addr.ok()) return Errno(addr.status());
    if (int64_t e = FillFromFile(mem, fd, *addr, size, offset); e != 0) {
      mem.Unmap(*addr, size).IgnoreError();
      return e;
    }
    if (prot != (kProtRead | kProtWrite)) {
      if (absl::Status s = mem.Protect(*addr, size, prot); !s.ok()) {
        mem.Unmap(*addr, size).IgnoreError();
        return Errno(s);
      }
    }
    // The engine may hold translations of code that was at this address before.
    if ((prot & kProtExec) != 0) ctx.process.engine().CodeModified(*addr, size);
    return static_cast<int64_t>(*addr);
  });
}

}  // namespace

int64_t SysBrk(SyscallContext& ctx) {
  return static_cast<int64_t>(ctx.process.program_break().Brk(ctx.arg(0)));
}

int64_t SysMmap(SyscallContext& ctx) {
  const uint64_t hint = ctx.arg(0);
  const uint64_t len = ctx.arg(1);
  const uint32_t prot = static_cast<uint32_t>(ctx.arg(2));
  const int flags = static_cast<int>(ctx.arg(3));
  const int fd = FdArg(ctx.arg(4));
  const uint64_t offset = ctx.arg(5);
  if (len == 0 || (prot & ~kProtMask) != 0 || !PageAligned(offset)) return -EINVAL;
  const int type = flags & MAP_TYPE;
  if (type != MAP_PRIVATE && type != MAP_SHARED && type != MAP_SHARED_VALIDATE) return -EINVAL;
  if ((flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) != 0 && !PageAligned(hint)) return -EINVAL;
  if (len > kUserTop) return -ENOMEM;
  const uint64_t size = PageUp(len);
  if ((flags & MAP_ANONYMOUS) == 0) {
    if (type != MAP_PRIVATE) return -ENODEV;
    if (offset > static_cast<uint64_t>(INT64_MAX) - size) return -EOVERFLOW;
    return MapFile(ctx, hint, size, prot, flags, fd, static_cast<off_t>(offset));
  }
  // A shared anonymous mapping is only shared with children, and a payload has none: private
  // memory behaves the same.
  absl::StatusOr<uint64_t> addr = PlaceMapping(ctx.mem(), hint, size, prot, flags, "");
  if (!addr.ok()) return Errno(addr.status());
  if ((prot & kProtExec) != 0 && (flags & MAP_FIXED) != 0) {
    ctx.process.engine().CodeModified(*addr, size);
  }
  return static_cast<int64_t>(*addr);
}

int64_t SysMunmap(SyscallContext& ctx) {
  const uint64_t addr = ctx.arg(0);
  const uint64_t len = ctx.arg(1);
  if (!PageAligned(addr) || len == 0 || len > kUserTop) return -EINVAL;
  return Errno(ctx.mem().Unmap(addr, len));
}

int64_t SysMprotect(SyscallContext& ctx) {
  const uint64_t addr = ctx.arg(0);
  const uint64_t len = ctx.arg(1);
  const uint32_t prot = static_cast<uint32_t>(ctx.arg(2));
  if (!PageAligned(addr) || (prot & ~kProtMask) != 0) return -EINVAL;
  if (len == 0) return 0;
  if (len > kUserTop) return -ENOMEM;
  if (absl::Status s = ctx.mem().Protect(addr, len, prot); !s.ok()) return Errno(s);
  // Code is being made executable (a JIT, a loader): drop stale translations.
  if ((prot & kProtExec) != 0) ctx.process.engine().CodeModified(addr, PageUp(len));
  return 0;
}

int64_t SysMadvise(SyscallContext& ctx) {
  const uint64_t addr = ctx.arg(0);
  const uint64_t len = ctx.arg(1);
  const int advice = static_cast<int>(ctx.arg(2));
  if (!PageAligned(addr) || len > kUserTop) return -EINVAL;
  if (len == 0 || advice != MADV_DONTNEED) return 0;  // advice km has no use for
  // MADV_DONTNEED on private memory: the pages read back as zero. Chunks that are zero already
  // are not written, so that untouched memory stays unbacked on the host.
  static const uint8_t kZeros[64 * 1024] = {};
  std::vector<uint8_t> chunk(sizeof kZeros);
  const uint64_t end = addr + PageUp(len);
  for (uint64_t at = addr; at < end;) {
    const uint64_t n = std::min<uint64_t>(sizeof kZeros, end - at);
    if (ctx.mem().ReadIgnoringProt(at, chunk.data(), n) != n) return -ENOMEM;
    if (memcmp(chunk.data(), kZeros, n) != 0 && ctx.mem().WriteIgnoringProt(at, kZeros, n) != n) {
      return -ENOMEM;
    }
    at += n;
  }
  return 0;
}

int64_t SysMremap(SyscallContext&) { return -ENOMEM; }

}  // namespace km
