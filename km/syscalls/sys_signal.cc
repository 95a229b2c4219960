// Signal syscalls. Dispositions, masks and alternate stacks are recorded and read back; a signal
// the payload sends is made pending for a thread, which delivers it when it does not block it
// (GuestThread::SendSignal); sigsuspend, pause and sigtimedwait wait for one. A process-directed
// kill goes to a thread Process::SendSignal chooses. Only the payload itself and its children
// (each a km of its own) can be signalled: never km's parent or anyone else on the host.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>

#include "absl/strings/str_format.h"
#include "km/runtime/host_signals.h"
#include "absl/time/time.h"

#include "km/runtime/fault.h"
#include "km/runtime/guest_thread.h"
#include "km/runtime/signal_frame.h"
#include "km/runtime/signal_state.h"
#include "km/syscalls/guest_io.h"
#include "km/syscalls/handlers.h"
#include "km/syscalls/sys_common.h"
#include "km/syscalls/timespec.h"

namespace km {
namespace {

bool ValidSignal(int64_t signo) { return signo >= 1 && signo <= kMaxSignal; }

// What kill (SI_USER) and tkill/tgkill (SI_TKILL) say of their sender: the payload itself.
SignalInfo FromPayload(int code) {
  return {.code = code, .sender_pid = ::getpid(), .sender_uid = ::getuid()};
}

// The payload sends signo, with what `info` says of it, to thread `to`, or to the whole payload
// if null (signo 0: only a check that the target exists).
int64_t Send(SyscallContext& ctx, GuestThread* to, int64_t signo, SignalInfo info) {
  if (signo == 0) return 0;
  if (!ValidSignal(signo)) return -EINVAL;
  const int sig = static_cast<int>(signo);
  info.signo = sig;
  if (sig == SIGKILL || to == nullptr) {
    // SIGKILL is neither caught nor blocked, nor shown to a debugger first: the payload ends.
    ctx.process.SendSignal(info);
    if (sig == SIGKILL) ctx.end_thread = true;
    return 0;
  }
  to->SendSignal(info);
  return 0;
}

}  // namespace

int64_t SysRtSigaction(SyscallContext& ctx) {
  const int64_t signo = static_cast<int>(ctx.arg(0));
  if (ctx.arg(3) != kSigsetSize || !ValidSignal(signo)) return -EINVAL;
  const int sig = static_cast<int>(signo);
  KernelSigaction action;
  if (ctx.arg(1) != 0) {
    if (sig == SIGKILL || sig == SIGSTOP) return -EINVAL;
    if (int e = CopyIn(ctx.mem(), ctx.arg(1), &action); e != 0) return e;
  }
  const KernelSigaction old = ctx.process.signals().Get(sig);
  if (ctx.arg(2) != 0) {
    if (int e = CopyOut(ctx.mem(), ctx.arg(2), old); e != 0) return e;
  }
  if (ctx.arg(1) != 0) ctx.process.signals().Set(sig, action);
  return 0;
}

int64_t SysRtSigprocmask(SyscallContext& ctx) {
  const int how = static_cast<int>(ctx.arg(0));
  if (ctx.arg(3) != kSigsetSize) return -EINVAL;
  ThreadSignalState& state = ctx.thread.signal_state();
  uint64_t set = 0;
  if (ctx.arg(1) != 0) {
    if (how != SIG_BLOCK && how != SIG_UNBLOCK && how != SIG_SETMASK) return -EINVAL;
    if (int e = CopyIn(ctx.mem(), ctx.arg(1), &set); e != 0) return e;
  }
  if (ctx.arg(2) != 0) {
    if (int e = CopyOut(ctx.mem(), ctx.arg(2), state.blocked.load()); e != 0) return e;
  }
  if (ctx.arg(1) != 0) {
    switch (how) {
      case SIG_BLOCK: state.blocked |= set; break;
      case SIG_UNBLOCK: state.blocked &= ~set; break;
      default: state.blocked = set; break;
    }
    // SIGKILL and SIGSTOP cannot be blocked.
    state.blocked &= ~kUnblockableSignals;
  }
  return 0;
}

int64_t SysSigaltstack(SyscallContext& ctx) {
  ThreadSignalState& state = ctx.thread.signal_state();
  KernelStack next;
  if (ctx.arg(0) != 0) {
    if (int e = CopyIn(ctx.mem(), ctx.arg(0), &next); e != 0) return e;
    if ((next.flags & ~(SS_DISABLE | SS_ONSTACK | kSsAutodisarm)) != 0) return -EINVAL;
    if ((next.flags & SS_DISABLE) == 0 && next.size < kMinSigStackSize) return -ENOMEM;
  }
  // Running on it: reported as SS_ONSTACK, and it may not be changed (unless it disarms
  // itself on use).
  const KernelStack& now = state.altstack;
  const bool on_it = OnAltStack(now, ctx.regs.rsp);
  if (ctx.arg(1) != 0) {
    KernelStack old = now;
    if (on_it) old.flags |= SS_ONSTACK;
    if (int e = CopyOut(ctx.mem(), ctx.arg(1), old); e != 0) return e;
  }
  if (ctx.arg(0) != 0) {
    if (on_it && (now.flags & kSsAutodisarm) == 0) return -EPERM;
    next.flags &= ~SS_ONSTACK;
    state.altstack = next;
  }
  return 0;
}

// Whether pid is a child of km's, that is one the payload forked: /proc/PID/stat's fourth field.
bool IsOwnChild(int pid) {
  FILE* f = std::fopen(absl::StrFormat("/proc/%d/stat", pid).c_str(), "re");
  if (f == nullptr) return false;
  char line[512];
  const bool read = std::fgets(line, sizeof line, f) != nullptr;
  std::fclose(f);
  if (!read) return false;
  // The command name (field 2) may hold spaces and parentheses: the state follows the last ')'.
  const char* end = std::strrchr(line, ')');
  char state;
  int ppid;
  return end != nullptr && std::sscanf(end + 1, " %c %d", &state, &ppid) == 2 &&
         ppid == ::getpid();
}

int64_t SysKill(SyscallContext& ctx) {
  const int pid = static_cast<int>(ctx.arg(0));
  const int signo = static_cast<int>(ctx.arg(1));
  // A child is its own km, which delivers to its payload the signals ReachesPayload names
  // (0 only asks whether it exists).
  if (pid > 0 && pid != ::getpid() && IsOwnChild(pid)) {
    if (signo != 0 && !ReachesPayload(signo)) return -EPERM;
    return HostResult(::kill(pid, signo));
  }
  // Otherwise only the payload itself: it must not signal km's parent or anyone else on the host.
  if (pid != ::getpid() && pid != 0) return -EPERM;
  return Send(ctx, nullptr, static_cast<int>(ctx.arg(1)), FromPayload(SI_USER));
}

int64_t SysTkill(SyscallContext& ctx) {
  const int tid = static_cast<int>(ctx.arg(0));
  if (tid <= 0) return -EINVAL;
  std::shared_ptr<GuestThread> to = ctx.process.FindThread(tid);
  if (to == nullptr) return -ESRCH;
  return Send(ctx, to.get(), static_cast<int>(ctx.arg(1)), FromPayload(SI_TKILL));
}

int64_t SysTgkill(SyscallContext& ctx) {
  const int tgid = static_cast<int>(ctx.arg(0));
  const int tid = static_cast<int>(ctx.arg(1));
  if (tgid <= 0 || tid <= 0) return -EINVAL;
  std::shared_ptr<GuestThread> to = ctx.process.FindThread(tid);
  if (tgid != ::getpid() || to == nullptr) return -ESRCH;
  return Send(ctx, to.get(), static_cast<int>(ctx.arg(2)), FromPayload(SI_TKILL));
}

namespace {

// rt_sigqueueinfo and rt_tgsigqueueinfo: the sender's siginfo (sigqueue's SI_QUEUE and value).
// Only the payload itself is a target, so Linux lets it say any si_code.
int64_t Queue(SyscallContext& ctx, GuestThread* to, int64_t signo, uint64_t info_gva) {
  struct {
    int32_t signo, errno_, code, pad;
    int32_t pid;
    uint32_t uid;
    uint64_t value;
    uint8_t rest[96];
  } user;
  static_assert(sizeof user == 128);
  if (int e = CopyIn(ctx.mem(), info_gva, &user); e != 0) return e;
  return Send(ctx, to, signo,
              {.code = user.code, .sender_pid = user.pid, .sender_uid = user.uid,
               .value = user.value});
}

}  // namespace

int64_t SysRtSigqueueinfo(SyscallContext& ctx) {
  if (static_cast<int>(ctx.arg(0)) != ::getpid()) return -EPERM;
  return Queue(ctx, nullptr, static_cast<int>(ctx.arg(1)), ctx.arg(2));
}

int64_t SysRtTgsigqueueinfo(SyscallContext& ctx) {
  const int tgid = static_cast<int>(ctx.arg(0));
  const int tid = static_cast<int>(ctx.arg(1));
  if (tgid <= 0 || tid <= 0) return -EINVAL;
  std::shared_ptr<GuestThread> to = ctx.process.FindThread(tid);
  if (tgid != ::getpid() || to == nullptr) return -ESRCH;
  return Queue(ctx, to.get(), static_cast<int>(ctx.arg(2)), ctx.arg(3));
}

int64_t SysRtSigpending(SyscallContext& ctx) {
  if (ctx.arg(1) != kSigsetSize) return -EINVAL;
  return CopyOut(ctx.mem(), ctx.arg(0), ctx.thread.PendingSignals());
}

// The temporary mask is in force until a signal ends the wait; the handler that signal runs
// puts the old one back when it returns (or km does, if nothing runs).
int64_t SysRtSigsuspend(SyscallContext& ctx) {
  if (ctx.arg(1) != kSigsetSize) return -EINVAL;
  uint64_t mask = 0;
  if (int e = CopyIn(ctx.mem(), ctx.arg(0), &mask); e != 0) return e;
  ThreadSignalState& state = ctx.thread.signal_state();
  const uint64_t old = state.blocked;
  state.blocked = mask & ~kUnblockableSignals;
  SignalInfo unused;
  ctx.thread.WaitForSignal(0, absl::InfiniteFuture(), &unused);
  ctx.thread.RestoreMaskAfterSignal(old);
  return -EINTR;
}

int64_t SysPause(SyscallContext& ctx) {
  SignalInfo unused;
  ctx.thread.WaitForSignal(0, absl::InfiniteFuture(), &unused);
  return -EINTR;
}

int64_t SysRtSigtimedwait(SyscallContext& ctx) {
  if (ctx.arg(3) != kSigsetSize) return -EINVAL;
  uint64_t set = 0;
  if (int e = CopyIn(ctx.mem(), ctx.arg(0), &set); e != 0) return e;
  set &= ~kUnblockableSignals;
  absl::Time deadline = absl::InfiniteFuture();
  if (ctx.arg(2) != 0) {
    struct timespec timeout;
    if (int e = CopyIn(ctx.mem(), ctx.arg(2), &timeout); e != 0) return e;
    if (!ValidTimespec(timeout)) return -EINVAL;
    deadline = absl::Now() + absl::DurationFromTimespec(timeout);
  }
  SignalInfo taken;
  switch (ctx.thread.WaitForSignal(set, deadline, &taken)) {
    case GuestThread::SignalWait::kTaken:
      break;
    case GuestThread::SignalWait::kInterrupted:
      return -EINTR;
    case GuestThread::SignalWait::kTimedOut:
      return -EAGAIN;
  }
  if (ctx.arg(1) != 0) {
    if (int e = CopyOut(ctx.mem(), ctx.arg(1), KernelSiginfoBytes(taken)); e != 0) return e;
  }
  return taken.signo;
}

int64_t SysRtSigreturn(SyscallContext& ctx) {
  absl::StatusOr<uint64_t> rax = ctx.thread.ReturnFromSignalHandler();
  if (!rax.ok()) {
    ctx.process.EndByForcedSigsegv(ctx.thread, rax.status().message());
    ctx.end_thread = true;
    return 0;
  }
  return static_cast<int64_t>(*rax);
}

}  // namespace km
