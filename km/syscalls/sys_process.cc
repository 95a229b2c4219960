// The payload as a process: km is that process, so the host's view of km answers (usage, group,
// session, umask, groups, priority, scheduling), forwarded from the calling guest thread's own
// host thread where Linux makes a call per-thread. The payload's children (fork) are km's own host
// children, each a km of its own, so waits for them are the host's. Any other call naming
// another process is refused as if the payload were alone on the machine: it must never reach
// one.
#include <linux/membarrier.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <vector>

#include "km/syscalls/guest_io.h"
#include "km/syscalls/handlers.h"
#include "km/syscalls/sys_common.h"

namespace km {

int64_t SysWait4(SyscallContext& ctx) {
  const int pid = static_cast<int>(ctx.arg(0));
  const uint64_t status_gva = ctx.arg(1);
  const int options = static_cast<int>(ctx.arg(2));
  const uint64_t usage_gva = ctx.arg(3);
  constexpr int kKnown = WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WCLONE | __WALL;
  if ((options & ~kKnown) != 0) return -EINVAL;
  if (pid == INT_MIN) return -ESRCH;
  int status = 0;
  struct rusage usage = {};
  const int64_t r = BlockingHostCall(ctx, SYS_wait4, static_cast<uint64_t>(pid),
                                     reinterpret_cast<uint64_t>(&status),
                                     static_cast<uint64_t>(options),
                                     reinterpret_cast<uint64_t>(&usage));
  // Linux writes the status and the usage only for a child it reaps (or reports).
  if (r > 0) {
    if (status_gva != 0 && CopyOut(ctx.mem(), status_gva, status) != 0) return -EFAULT;
    if (usage_gva != 0 && CopyOut(ctx.mem(), usage_gva, usage) != 0) return -EFAULT;
  }
  return r;
}

int64_t SysWaitid(SyscallContext& ctx) {
  const int which = static_cast<int>(ctx.arg(0));
  const int id = static_cast<int>(ctx.arg(1));
  const uint64_t info_gva = ctx.arg(2);
  const int options = static_cast<int>(ctx.arg(3));
  const uint64_t usage_gva = ctx.arg(4);
  constexpr int kKnown =
      WNOHANG | WNOWAIT | WEXITED | WSTOPPED | WCONTINUED | __WNOTHREAD | __WCLONE | __WALL;
  if ((options & ~kKnown) != 0 || (options & (WEXITED | WSTOPPED | WCONTINUED)) == 0) {
    return -EINVAL;
  }
  if (which == P_PIDFD) {
    // No guest fd is a pidfd: km serves neither pidfd_open nor CLONE_PIDFD.
    return (id < 0 || ctx.process.fds().Owns(id)) ? -EINVAL : -EBADF;
  }
  if ((which == P_PID && id <= 0) || (which == P_PGID && id < 0) ||
      (which != P_ALL && which != P_PID && which != P_PGID)) {
    return -EINVAL;
  }
  siginfo_t info = {};
  struct rusage usage = {};
  const int64_t r = BlockingHostCall(
      ctx, SYS_waitid, static_cast<uint64_t>(which), static_cast<uint64_t>(id),
      reinterpret_cast<uint64_t>(&info), static_cast<uint64_t>(options),
      reinterpret_cast<uint64_t>(&usage));
  if (r == 0) {
    // The host filled (or, under WNOHANG with nothing to report, zeroed) the siginfo.
    if (info_gva != 0 && CopyOut(ctx.mem(), info_gva, info) != 0) return -EFAULT;
    if (usage_gva != 0 && CopyOut(ctx.mem(), usage_gva, usage) != 0) return -EFAULT;
    return 0;
  }
  // Linux clears the siginfo's fields it reports (si_signo, si_errno, si_code; si_pid, si_uid,
  // si_status after a 4-byte hole) whatever the result.
  if (info_gva != 0) {
    const int32_t zeros[3] = {};
    if (CopyOutBytes(ctx.mem(), info_gva, zeros, sizeof zeros) != 0 ||
        CopyOutBytes(ctx.mem(), info_gva + 16, zeros, sizeof zeros) != 0) {
      return -EFAULT;
    }
  }
  return r;
}

int64_t SysGetrusage(SyscallContext& ctx) {
  const int who = static_cast<int>(ctx.arg(0));
  struct rusage usage = {};
  switch (who) {
    case RUSAGE_SELF:
    case RUSAGE_THREAD:  // asked on the guest thread's own host thread
    case RUSAGE_CHILDREN:  // the payload's children are km's
      if (::getrusage(who, &usage) != 0) return -errno;
      break;
    default:
      return -EINVAL;
  }
  return CopyOut(ctx.mem(), ctx.arg(1), usage);
}

int64_t SysTimes(SyscallContext& ctx) {
  struct tms t;
  const clock_t ticks = ::times(&t);
  t.tms_cutime = t.tms_cstime = 0;  // as getrusage's RUSAGE_CHILDREN
  if (ctx.arg(0) != 0) {
    if (int e = CopyOut(ctx.mem(), ctx.arg(0), t); e != 0) return e;
  }
  return ticks;
}

int64_t SysGetpgrp(SyscallContext&) { return ::getpgrp(); }

int64_t SysGetpgid(SyscallContext& ctx) {
  if (!IsSelf(ctx, static_cast<int>(ctx.arg(0)))) return -ESRCH;
  return HostResult(::getpgid(0));
}

int64_t SysGetsid(SyscallContext& ctx) {
  if (!IsSelf(ctx, static_cast<int>(ctx.arg(0)))) return -ESRCH;
  return HostResult(::getsid(0));
}

// Only km's own membership changes: the session or group it leads or joins.
int64_t SysSetsid(SyscallContext&) { return HostResult(::setsid()); }

int64_t SysSetpgid(SyscallContext& ctx) {
  const int pid = static_cast<int>(ctx.arg(0));
  const int pgid = static_cast<int>(ctx.arg(1));
  if (pgid < 0) return -EINVAL;
  if (!IsSelf(ctx, pid)) return -ESRCH;
  // A tid other than km's pid is not a group leader: the host says EINVAL, as Linux would.
  return HostResult(::setpgid(pid, pgid));
}

int64_t SysUmask(SyscallContext& ctx) { return ::umask(static_cast<mode_t>(ctx.arg(0)) & 0777); }

int64_t SysGetgroups(SyscallContext& ctx) {
  const int size = static_cast<int>(ctx.arg(0));
  if (size < 0) return -EINVAL;
  std::vector<gid_t> groups(std::max(::getgroups(0, nullptr), 0));
  const int n = ::getgroups(static_cast<int>(groups.size()), groups.data());
  if (n < 0) return -errno;
  if (size == 0 || n == 0) return n;  // nothing to copy, so no pointer to check, as on Linux
  if (n > size) return -EINVAL;
  if (int e = CopyOutBytes(ctx.mem(), ctx.arg(1), groups.data(), n * sizeof(gid_t)); e != 0) {
    return e;
  }
  return n;
}

// The raw syscall changes the calling thread's credentials only, as the kernel does; libc
// makes every thread call it.
int64_t SysSetgroups(SyscallContext& ctx) {
  const int size = static_cast<int>(ctx.arg(0));
  if (size < 0 || size > NGROUPS_MAX) return -EINVAL;
  std::vector<gid_t> groups(size);
  if (int e = CopyInBytes(ctx.mem(), ctx.arg(1), groups.data(), size * sizeof(gid_t)); e != 0) {
    return e;
  }
  return HostResult(::syscall(SYS_setgroups, size, groups.data()));
}

namespace {

// getpriority and setpriority: a process group or a user may take in other host processes.
int64_t PriorityTarget(SyscallContext& ctx, int which, int who) {
  if (which == PRIO_PGRP || which == PRIO_USER) return -EPERM;
  if (which != PRIO_PROCESS) return -EINVAL;
  return IsSelf(ctx, who) ? 0 : -ESRCH;
}

}  // namespace

// Nice values are per thread on Linux: who 0 is the calling guest thread, run by the host
// thread making this call.
int64_t SysGetpriority(SyscallContext& ctx) {
  const int which = static_cast<int>(ctx.arg(0));
  const int who = static_cast<int>(ctx.arg(1));
  if (int64_t e = PriorityTarget(ctx, which, who); e != 0) return e;
  // The raw syscall's 20 - nice, which libc converts back.
  return HostResult(::syscall(SYS_getpriority, which, who));
}

int64_t SysSetpriority(SyscallContext& ctx) {
  const int which = static_cast<int>(ctx.arg(0));
  const int who = static_cast<int>(ctx.arg(1));
  if (int64_t e = PriorityTarget(ctx, which, who); e != 0) return e;
  return HostResult(::setpriority(PRIO_PROCESS, who, static_cast<int>(ctx.arg(2))));
}

// The scheduling calls follow Linux's order of checks: EINVAL for a null parameter or a
// negative pid, EFAULT for a bad one, then ESRCH for a pid not the payload's.
int64_t SysSchedSetaffinity(SyscallContext& ctx) {
  const int pid = static_cast<int>(ctx.arg(0));
  // Linux reads at most its own cpumask's size; 8192 bytes is 65536 CPUs.
  std::vector<uint8_t> mask(std::min<uint64_t>(ctx.arg(1), 8192));
  if (int e = CopyInBytes(ctx.mem(), ctx.arg(2), mask.data(), mask.size()); e != 0) return e;
  if (!IsSelf(ctx, pid)) return -ESRCH;
  return HostResult(::syscall(SYS_sched_setaffinity, pid, mask.size(), mask.data()));
}

int64_t SysSchedGetparam(SyscallContext& ctx) {
  const int pid = static_cast<int>(ctx.arg(0));
  if (ctx.arg(1) == 0 || pid < 0) return -EINVAL;
  if (!IsSelf(ctx, pid)) return -ESRCH;
  struct sched_param param;
  if (::syscall(SYS_sched_getparam, pid, &param) != 0) return -errno;
  return CopyOut(ctx.mem(), ctx.arg(1), param);
}

int64_t SysSchedSetparam(SyscallContext& ctx) {
  const int pid = static_cast<int>(ctx.arg(0));
  if (ctx.arg(1) == 0 || pid < 0) return -EINVAL;
  struct sched_param param;
  if (int e = CopyIn(ctx.mem(), ctx.arg(1), &param); e != 0) return e;
  if (!IsSelf(ctx, pid)) return -ESRCH;
  return HostResult(::syscall(SYS_sched_setparam, pid, &param));
}

int64_t SysSchedGetscheduler(SyscallContext& ctx) {
  const int pid = static_cast<int>(ctx.arg(0));
  if (pid < 0) return -EINVAL;
  if (!IsSelf(ctx, pid)) return -ESRCH;
  return HostResult(::syscall(SYS_sched_getscheduler, pid));
}

int64_t SysSchedSetscheduler(SyscallContext& ctx) {
  const int pid = static_cast<int>(ctx.arg(0));
  const int policy = static_cast<int>(ctx.arg(1));
  if (policy < 0 || ctx.arg(2) == 0 || pid < 0) return -EINVAL;
  struct sched_param param;
  if (int e = CopyIn(ctx.mem(), ctx.arg(2), &param); e != 0) return e;
  if (!IsSelf(ctx, pid)) return -ESRCH;
  return HostResult(::syscall(SYS_sched_setscheduler, pid, policy, &param));
}

int64_t SysSchedGetPriorityMax(SyscallContext& ctx) {
  return HostResult(::sched_get_priority_max(static_cast<int>(ctx.arg(0))));
}

int64_t SysSchedGetPriorityMin(SyscallContext& ctx) {
  return HostResult(::sched_get_priority_min(static_cast<int>(ctx.arg(0))));
}

int64_t SysGetcpu(SyscallContext& ctx) {
  unsigned int cpu;
  unsigned int node;
  if (::syscall(SYS_getcpu, &cpu, &node, nullptr) != 0) return -errno;
  if (ctx.arg(0) != 0) {
    if (int e = CopyOut(ctx.mem(), ctx.arg(0), cpu); e != 0) return e;
  }
  if (ctx.arg(1) != 0) {
    if (int e = CopyOut(ctx.mem(), ctx.arg(1), node); e != 0) return e;
  }
  return 0;
}

// Forwarded: a barrier on km's threads is one on the guest's, each run by a host thread of km.
// On tcg they run guest code one at a time, handing over an execution lock (itself a full
// barrier); on kvm the host's interrupt takes a vCPU out of guest mode, which serializes. The
// registrations are km's process's, which is the payload's. The rseq commands are not offered
// (EINVAL, as from a kernel without rseq): km does not serve rseq, so no guest thread has one.
int64_t SysMembarrier(SyscallContext& ctx) {
  constexpr int kRseq =
      MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ;
  const int cmd = static_cast<int>(ctx.arg(0));
  if (cmd == MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ ||
      cmd == MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ) {
    return -EINVAL;
  }
  const int64_t r = HostResult(::syscall(SYS_membarrier, cmd, static_cast<unsigned>(ctx.arg(1)),
                                         static_cast<int>(ctx.arg(2))));
  return cmd == MEMBARRIER_CMD_QUERY && r > 0 ? r & ~kRseq : r;
}

}  // namespace km
