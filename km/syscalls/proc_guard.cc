#include "km/syscalls/proc_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <optional>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace km {
namespace {

// Whether /proc/<n> is km: its pid, or one of its threads' tids.
bool IsKm(int n) {
  return n == ::getpid() || ::access(absl::StrCat("/proc/self/task/", n).c_str(), F_OK) == 0;
}

// For a canonical path /proc/<km>[/task/<tid>]/REST, returns REST.
std::optional<std::string> KmProcRest(const std::string& canonical) {
  std::vector<std::string> parts = absl::StrSplit(canonical, '/', absl::SkipEmpty());
  if (parts.size() < 3 || parts[0] != "proc") return std::nullopt;
  int n;
  if (!absl::SimpleAtoi(parts[1], &n) || !IsKm(n)) return std::nullopt;
  size_t rest = 2;
  if (parts.size() >= 5 && parts[2] == "task") rest = 4;
  std::string out;
  for (size_t i = rest; i < parts.size(); i++) absl::StrAppend(&out, i == rest ? "" : "/", parts[i]);
  return out;
}

// The -errno for opening REST under km's /proc directory, or 0.
int CheckRest(const std::string& rest, FdTable& fds) {
  if (rest == "mem") return -EACCES;
  if (rest.rfind("fd/", 0) == 0) {
    int fd;
    if (absl::SimpleAtoi(rest.substr(3), &fd) && !fds.Owns(fd)) return -ENOENT;
  }
  return 0;
}

// dirfd-relative path to an absolute one, as the host kernel would resolve the start.
std::optional<std::string> Absolute(int dirfd, const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char base[PATH_MAX];
  if (dirfd == AT_FDCWD) {
    if (::getcwd(base, sizeof base) == nullptr) return std::nullopt;
  } else {
    const ssize_t n = ::readlink(absl::StrCat("/proc/self/fd/", dirfd).c_str(), base,
                                 sizeof base - 1);
    if (n < 0) return std::nullopt;
    base[n] = '\0';
  }
  return absl::StrCat(base, "/", path);
}

}  // namespace

int CheckOpenPath(int dirfd, const std::string& path, FdTable& fds) {
  std::optional<std::string> current = Absolute(dirfd, path);
  // Linux's own limit on symlinks followed in one lookup.
  for (int hops = 0; current.has_value() && hops < 40; hops++) {
    const size_t slash = current->rfind('/');
    const std::string dir = current->substr(0, slash == 0 ? 1 : slash);
    const std::string base = current->substr(slash + 1);
    char resolved[PATH_MAX];
    if (::realpath(dir.c_str(), resolved) == nullptr) return 0;  // the open will fail anyway
    const std::string full = absl::StrCat(resolved, resolved[1] == '\0' ? "" : "/", base);
    if (std::optional<std::string> rest = KmProcRest(full); rest.has_value()) {
      if (int e = CheckRest(*rest, fds); e != 0) return e;
    }
    // /proc/<km>/fd/N is itself a link: its target is what was checked above, not a path.
    char target[PATH_MAX];
    const ssize_t n = ::readlink(full.c_str(), target, sizeof target - 1);
    if (n < 0 || KmProcRest(full).has_value()) return 0;
    target[n] = '\0';
    current = target[0] == '/' ? std::string(target) : absl::StrCat(resolved, "/", target);
  }
  return 0;
}

int CheckOpenedFd(int fd) {
  struct statfs fs;
  if (::fstatfs(fd, &fs) != 0 || fs.f_type != PROC_SUPER_MAGIC) return 0;
  char target[PATH_MAX];
  const ssize_t n =
      ::readlink(absl::StrCat("/proc/self/fd/", fd).c_str(), target, sizeof target - 1);
  if (n < 0) return 0;
  target[n] = '\0';
  std::optional<std::string> rest = KmProcRest(target);
  return rest.has_value() && *rest == "mem" ? -EACCES : 0;
}

}  // namespace km
