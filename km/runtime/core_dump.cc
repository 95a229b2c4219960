#include "km/runtime/core_dump.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "km/guest_memory.h"
#include "km/runtime/core_file.h"
#include "km/runtime/guest_thread.h"
#include "km/runtime/process.h"

namespace km {
namespace {

// The thread's state for the core; false if it can no longer be read (it exited meanwhile).
bool ReadThread(GuestThread& thread, CoreThread* out) {
  out->tid = thread.tid();
  out->in_syscall = thread.state() == ThreadState::kInSyscall;
  if (!thread.GetRegs(&out->regs).ok()) return false;
  if (!thread.WithVcpu([out](Vcpu& vcpu) { return vcpu.GetFpu(&out->fpu); }).ok()) return false;
  out->pending = thread.PendingSignals();
  out->blocked = thread.signal_state().blocked.load();
  return true;
}

std::vector<CoreMapping> Mappings(const GuestMemory& mem) {
  std::vector<CoreMapping> mappings;
  for (const Region& r : mem.Regions()) {
    // Like Linux's default coredump_filter, the payload's unwritable text stays out: gdb reads
    // it from the executable (and a debugger's int3s in km's copy stay out of the core).
    const bool dumped =
        !(r.kind == RegionKind::kText && (r.prot & kProtWrite) == 0) && r.prot != kProtNone;
    mappings.push_back({r.gva, r.size, r.prot, dumped ? mem.phys().host + r.gpa : nullptr});
  }
  return mappings;
}

}  // namespace

bool SignalDumpsCore(int signo) {
  switch (signo) {
    case SIGQUIT:
    case SIGILL:
    case SIGTRAP:
    case SIGABRT:
    case SIGBUS:
    case SIGFPE:
    case SIGSEGV:
    case SIGXCPU:
    case SIGXFSZ:
    case SIGSYS:
      return true;
    default:
      return false;
  }
}

std::string CorePath(std::string_view pattern, int pid, std::string_view name, int64_t time) {
  std::string path;
  for (size_t i = 0; i < pattern.size(); i++) {
    if (pattern[i] != '%') {
      path += pattern[i];
      continue;
    }
    if (++i == pattern.size()) break;
    switch (pattern[i]) {
      case '%':
        path += '%';
        break;
      case 'p':
        absl::StrAppend(&path, pid);
        break;
      case 'e':
        path += name;
        break;
      case 't':
        absl::StrAppend(&path, time);
        break;
      default:
        break;
    }
  }
  return path;
}

CoreProcess CollectCore(Process& process, GuestThread& first,
                        const std::vector<GuestThread*>& others, const SignalInfo& signal) {
  CoreProcess core;
  core.pid = ::getpid();
  core.ppid = ::getppid();
  core.pgrp = ::getpgrp();
  core.sid = ::getsid(0);
  core.uid = ::getuid();
  core.gid = ::getgid();
  core.name = process.name();
  core.argv = process.argv();
  core.signal = signal;
  core.auxv = process.auxv();
  core.avx = process.engine().caps().avx;
  std::vector<GuestThread*> ordered = others;
  std::sort(ordered.begin(), ordered.end(),
            [](GuestThread* a, GuestThread* b) { return a->tid() < b->tid(); });
  ordered.insert(ordered.begin(), &first);
  for (GuestThread* thread : ordered) {
    CoreThread t;
    if (ReadThread(*thread, &t)) core.threads.push_back(t);
  }
  core.mappings = Mappings(process.memory());
  return core;
}

absl::StatusOr<uint64_t> WriteCoreTo(const std::string& path, const CoreProcess& core,
                                     uint64_t limit) {
  const int flags = O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
  const int fd = ::open(path.c_str(), flags, 0600);
  if (fd < 0) return absl::ErrnoToStatus(errno, path);
  struct stat st;
  absl::StatusOr<uint64_t> written;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    written = absl::FailedPreconditionError(absl::StrCat(path, " is not a regular file"));
  } else {
    written = WriteCoreFile(fd, core, limit);
    if (!written.ok()) {
      written = absl::Status(written.status().code(),
                             absl::StrCat(path, ": ", written.status().message()));
    }
  }
  ::close(fd);
  return written;
}

std::string DumpCore(Process& process, GuestThread& dying, const SignalInfo& signal,
                     const std::vector<std::shared_ptr<GuestThread>>& threads) {
  struct rlimit limit;
  ::getrlimit(RLIMIT_CORE, &limit);
  if (process.core_pattern().empty() || limit.rlim_cur < kPageSize) return "";
  const std::string path = CorePath(process.core_pattern(), ::getpid(), process.name(),
                                    static_cast<int64_t>(std::time(nullptr)));
  std::vector<GuestThread*> others;
  for (const auto& thread : threads) {
    if (thread.get() == &dying) continue;
    thread->Pause();
    others.push_back(thread.get());
  }
  const uint64_t max = limit.rlim_cur == RLIM_INFINITY ? UINT64_MAX : limit.rlim_cur;
  absl::StatusOr<uint64_t> written =
      WriteCoreTo(path, CollectCore(process, dying, others, signal), max);
  if (!written.ok()) return absl::StrCat("core not dumped: ", written.status().message());
  return absl::StrCat("core dumped to ", path);
}

}  // namespace km
