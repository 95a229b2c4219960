// execve and execveat: the payload becomes another program. A km runs one payload for its
// whole life, so km replaces itself: a host execve of km's own binary with the new program as
// its payload. What Linux keeps across execve is handed to the next km: the pid (the host's),
// the descriptors without close-on-exec, the calling thread's signal mask and the signals set
// to be ignored; km's own descriptors are closed. Only what km can run is accepted (a static
// x86-64 ELF, or a #! script whose interpreter is one): anything else fails in the payload with
// ENOEXEC and a line on stderr saying why. A payload's program never runs outside km.
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "km/elf_loader.h"
#include "km/runtime/host_fds.h"
#include "km/runtime/signal_state.h"
#include "km/syscalls/guest_io.h"
#include "km/syscalls/handlers.h"
#include "km/syscalls/sys_common.h"

namespace km {
namespace {

// Linux's limits on what execve copies: one string (MAX_ARG_STRLEN) and the whole of argv and
// envp (a quarter of the default 8 MiB stack limit).
constexpr uint64_t kMaxArgString = 32 * 4096;
constexpr uint64_t kMaxArgTotal = 2 << 20;
// Linux reads a #! line up to this many bytes (BINPRM_BUF_SIZE).
constexpr size_t kShebangLine = 256;

// A NULL-terminated array of guest string pointers (argv, envp); a null array is empty.
int ReadStringArray(const GuestMemory& mem, uint64_t gva, uint64_t* total,
                    std::vector<std::string>* out) {
  if (gva == 0) return 0;
  for (uint64_t i = 0;; i++) {
    uint64_t ptr;
    if (CopyIn(mem, gva + i * sizeof(uint64_t), &ptr) != 0) return -EFAULT;
    if (ptr == 0) return 0;
    absl::StatusOr<std::string> s = mem.ReadCString(ptr, kMaxArgString);
    if (!s.ok()) return s.status().code() == absl::StatusCode::kOutOfRange ? -E2BIG : -EFAULT;
    *total += s->size() + 1 + sizeof(uint64_t);
    if (*total > kMaxArgTotal) return -E2BIG;
    out->push_back(*std::move(s));
  }
}

// Whether km can run path as a payload: 0, or the errno execve fails with.
int CheckRunnable(const std::string& path) {
  if (::access(path.c_str(), X_OK) != 0) return -errno;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return -errno;
  if (!S_ISREG(st.st_mode)) return -EACCES;
  if (absl::Status s = CheckElf(path); !s.ok()) {
    std::fprintf(stderr, "km: execve: %s\n", std::string(s.message()).c_str());
    return -ENOEXEC;
  }
  return 0;
}

// A "#!interpreter [arg]" script: argv becomes interpreter, [arg], the script's path, then the
// arguments after argv[0], as Linux's binfmt_script makes it. Returns 0 if path is no script.
int ApplyShebang(const std::string& path, std::string* program, std::vector<std::string>* argv) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  char buf[kShebangLine];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n < 2 || buf[0] != '#' || buf[1] != '!') return 0;
  std::string line(buf + 2, static_cast<size_t>(n) - 2);
  line = line.substr(0, line.find('\n'));
  absl::string_view rest = absl::StripAsciiWhitespace(line);
  const size_t space = rest.find_first_of(" \t");
  const std::string interpreter(rest.substr(0, space));
  if (interpreter.empty()) return -ENOEXEC;
  std::vector<std::string> out{interpreter};
  if (space != absl::string_view::npos) {
    absl::string_view arg = absl::StripAsciiWhitespace(rest.substr(space));
    if (!arg.empty()) out.emplace_back(arg);
  }
  out.push_back(path);
  for (size_t i = 1; i < argv->size(); i++) out.push_back((*argv)[i]);
  *argv = std::move(out);
  *program = interpreter;
  return 0;
}

int64_t Exec(SyscallContext& ctx, std::string path, uint64_t argv_gva, uint64_t envp_gva) {
  uint64_t total = 0;
  std::vector<std::string> argv, envp;
  if (int r = ReadStringArray(ctx.mem(), argv_gva, &total, &argv); r != 0) return r;
  if (int r = ReadStringArray(ctx.mem(), envp_gva, &total, &envp); r != 0) return r;
  if (path.empty()) return -ENOENT;
  // The payload's program, not km, as readlink tells the payload (busybox runs its applets so).
  if (path == "/proc/self/exe" || path == "/proc/thread-self/exe" ||
      path == absl::StrCat("/proc/", ::getpid(), "/exe")) {
    char exe[PATH_MAX];
    if (::realpath(ctx.process.image().path.c_str(), exe) == nullptr) return -ENOENT;
    path = exe;
  }
  std::string program = path;
  if (argv.empty()) argv.push_back(path);
  if (int r = ApplyShebang(path, &program, &argv); r != 0) return r;
  // A script must be executable itself (CheckRunnable sees to the program that runs).
  if (program != path && ::access(path.c_str(), X_OK) != 0) return -errno;
  if (int r = CheckRunnable(program); r != 0) return r;

  char self[PATH_MAX];
  const ssize_t len = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0) return -ENOEXEC;
  self[len] = '\0';

  Process& process = ctx.process;
  // A debugger follows the exec into the next km (it is told, and the thread waits for it):
  // from here on the exec cannot fail but for the host's execve itself.
  ExecDebug debug;
  bool debugger_told = false;
  if (DebugObserver* observer = process.debug_observer()) {
    debugger_told = observer->BeforeExec(ctx.thread, program);
    if (!ctx.thread.ParkWhileRequested()) {
      ctx.end_thread = true;
      return 0;
    }
    debug = observer->ForExec();
  }
  FdTable& fds = process.fds();
  std::vector<int> inherited;
  for (int fd : OpenHostFds()) {
    // A signalfd is km's own eventfd underneath: the next km could not serve it.
    if (!fds.Owns(fd) || fds.SignalfdMask(fd).has_value()) {
      ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    } else if ((::fcntl(fd, F_GETFD) & FD_CLOEXEC) == 0) {
      inherited.push_back(fd);
    }
  }
  uint64_t ignored = 0;
  for (int signo = 1; signo <= kMaxSignal; signo++) {
    if (process.signals().Get(signo).handler == reinterpret_cast<uint64_t>(SIG_IGN)) {
      ignored |= SignalBit(signo);
    }
  }

  std::vector<std::string> km_argv = {
      self,
      absl::StrCat("--accel=", std::string(process.engine().name())),
      absl::StrCat("--memory=", process.memory().phys().size),
      absl::StrCat("--core_pattern=", process.core_pattern()),
      absl::StrCat("--argv0=", argv[0]),
      absl::StrCat("--inherited_fds=", absl::StrJoin(inherited, ",")),
      absl::StrFormat("--inherited_sigmask=%#x", ctx.thread.signal_state().blocked.load()),
      absl::StrFormat("--inherited_sigign=%#x", ignored),
  };
  if (process.die_by_signal()) km_argv.push_back("--die_by_signal");
  if (!debug.socket_path.empty()) {
    km_argv.push_back(absl::StrCat("--debug-socket=", debug.socket_path));
    if (debug.hold) km_argv.push_back("--debug-wait");
  }
  km_argv.push_back("--");
  km_argv.push_back(program);
  for (size_t i = 1; i < argv.size(); i++) km_argv.push_back(argv[i]);
  std::vector<char*> host_argv, host_envp;
  for (std::string& s : km_argv) host_argv.push_back(s.data());
  host_argv.push_back(nullptr);
  for (std::string& s : envp) host_envp.push_back(s.data());
  host_envp.push_back(nullptr);
  std::fflush(nullptr);
  ::execve(self, host_argv.data(), host_envp.data());
  const int err = errno;
  if (debugger_told) {
    // The debugger was told this process became the program: past Linux's point of no return
    // too, a failure ends the process with SIGSEGV.
    process.End({128 + SIGSEGV, SIGSEGV,
                 absl::StrFormat("km: execve of %s failed after the debugger's exec stop: %s",
                                 self, strerror(err))});
    ctx.end_thread = true;
    return 0;
  }
  return -err;
}

}  // namespace

int64_t SysExecve(SyscallContext& ctx) {
  std::string path;
  if (int r = ReadPath(ctx.mem(), ctx.arg(0), &path); r != 0) return r;
  return Exec(ctx, std::move(path), ctx.arg(1), ctx.arg(2));
}

int64_t SysExecveat(SyscallContext& ctx) {
  const int dirfd = static_cast<int>(ctx.arg(0));
  const int flags = static_cast<int>(ctx.arg(4));
  if ((flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) != 0) return -EINVAL;
  std::string path;
  if (int r = ReadPath(ctx.mem(), ctx.arg(1), &path); r != 0) return r;
  if (path.empty() && (flags & AT_EMPTY_PATH) == 0) return -ENOENT;
  if (dirfd != AT_FDCWD && (path.empty() || path[0] != '/')) {
    // The fd's own path names the file or directory it is open on, as the kernel resolves it.
    if (!ctx.process.fds().Owns(dirfd)) return -EBADF;
    path = path.empty() ? absl::StrCat("/proc/self/fd/", dirfd)
                        : absl::StrCat("/proc/self/fd/", dirfd, "/", path);
  }
  if ((flags & AT_SYMLINK_NOFOLLOW) != 0) {
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode) && !path.starts_with("/proc/")) {
      return -ELOOP;
    }
  }
  return Exec(ctx, std::move(path), ctx.arg(2), ctx.arg(3));
}

}  // namespace km
