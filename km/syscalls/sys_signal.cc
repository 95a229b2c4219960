// Signal syscalls. Dispositions, masks and alternate stacks are recorded and read back; handlers
// are not run yet. A signal the payload sends itself (abort's SIGABRT, raise) ends it as the
// signal would, unless it is ignored or caught (then it is dropped, once reported); the blocked mask does not delay it (raise blocks every
// signal around its tkill and relies on the unblock to deliver it, which km does not model).
#include <signal.h>
#include <unistd.h>

#include <cstdio>

#include "absl/base/const_init.h"
#include "absl/synchronization/mutex.h"

#include "km/runtime/fault.h"
#include "km/runtime/guest_thread.h"
#include "km/runtime/signal_state.h"
#include "km/syscalls/guest_io.h"
#include "km/syscalls/handlers.h"
#include "km/syscalls/sys_common.h"

namespace km {
namespace {

constexpr uint64_t kSigsetSize = 8;
// The kernel's values: glibc's MINSIGSTKSZ is no longer a constant, and SS_AUTODISARM is not in
// its headers.
constexpr uint64_t kMinSigStackSize = 2048;
constexpr int32_t kSsAutodisarm = static_cast<int32_t>(1u << 31);

bool ValidSignal(int64_t signo) { return signo >= 1 && signo <= kMaxSignal; }

uint64_t Bit(int signo) { return 1ull << (signo - 1); }

// Once per signal: the payload is told nothing, the user should know.
void ReportHandlerNotRun(int signo) {
  static absl::Mutex mu(absl::kConstInit);
  static uint64_t reported ABSL_GUARDED_BY(mu) = 0;
  {
    absl::MutexLock lock(&mu);
    if ((reported & Bit(signo)) != 0) return;
    reported |= Bit(signo);
  }
  std::fprintf(stderr, "km: %s sent to a handler, which km does not run yet: dropped\n",
               SignalName(signo).c_str());
}

// The payload sent itself signo (0: only a check that the target exists).
int64_t SignalSelf(SyscallContext& ctx, int64_t signo) {
  if (signo == 0) return 0;
  if (!ValidSignal(signo)) return -EINVAL;
  const int sig = static_cast<int>(signo);
  switch (ctx.process.signals().Effect(sig)) {
    case SignalEffect::kIgnore:
      return 0;
    case SignalEffect::kHandlerNotRun:
      ReportHandlerNotRun(sig);
      return 0;
    case SignalEffect::kTerminate:
      break;
  }
  ctx.process.End({ExitStatusForSignal(sig), sig, KillMessage(sig)});
  ctx.end_thread = true;
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
    if (int e = CopyOut(ctx.mem(), ctx.arg(2), state.blocked); e != 0) return e;
  }
  if (ctx.arg(1) != 0) {
    switch (how) {
      case SIG_BLOCK: state.blocked |= set; break;
      case SIG_UNBLOCK: state.blocked &= ~set; break;
      default: state.blocked = set; break;
    }
    // SIGKILL and SIGSTOP cannot be blocked.
    state.blocked &= ~(Bit(SIGKILL) | Bit(SIGSTOP));
  }
  return 0;
}

int64_t SysSigaltstack(SyscallContext& ctx) {
  ThreadSignalState& state = ctx.thread.signal_state();
  KernelStack next;
  if (ctx.arg(0) != 0) {
    if (int e = CopyIn(ctx.mem(), ctx.arg(0), &next); e != 0) return e;
    if ((next.flags & ~(SS_DISABLE | kSsAutodisarm)) != 0) return -EINVAL;
    if ((next.flags & SS_DISABLE) == 0 && next.size < kMinSigStackSize) return -ENOMEM;
  }
  if (ctx.arg(1) != 0) {
    if (int e = CopyOut(ctx.mem(), ctx.arg(1), state.altstack); e != 0) return e;
  }
  if (ctx.arg(0) != 0) state.altstack = next;
  return 0;
}

int64_t SysKill(SyscallContext& ctx) {
  const int pid = static_cast<int>(ctx.arg(0));
  // Only the payload itself: it must not signal km's parent or anyone else on the host.
  if (pid != ::getpid() && pid != 0) return -EPERM;
  return SignalSelf(ctx, static_cast<int>(ctx.arg(1)));
}

int64_t SysTkill(SyscallContext& ctx) {
  const int tid = static_cast<int>(ctx.arg(0));
  if (tid <= 0) return -EINVAL;
  if (ctx.process.FindThread(tid) == nullptr) return -ESRCH;
  return SignalSelf(ctx, static_cast<int>(ctx.arg(1)));
}

int64_t SysTgkill(SyscallContext& ctx) {
  const int tgid = static_cast<int>(ctx.arg(0));
  const int tid = static_cast<int>(ctx.arg(1));
  if (tgid <= 0 || tid <= 0) return -EINVAL;
  if (tgid != ::getpid() || ctx.process.FindThread(tid) == nullptr) return -ESRCH;
  return SignalSelf(ctx, static_cast<int>(ctx.arg(2)));
}

}  // namespace km
