#include "km/runtime/guest_thread.h"

#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bit>
#include <cstdio>
#include <string>
#include <utility>

#include "absl/strings/str_format.h"
#include "km/execution_log.h"
#include "km/runtime/fault.h"
#include "km/runtime/interruptible_syscall.h"
#include "km/runtime/process.h"
#include "km/runtime/signal_frame.h"
#include "km/syscalls/dispatch.h"

namespace km {
namespace {

bool IsDebugVector(int vector) { return vector == 1 || vector == 3; }

constexpr uint64_t kSyscallInsnLength = 2;  // 0f 05

}  // namespace

GuestThread::GuestThread(Process& process, std::unique_ptr<Vcpu> vcpu, int vcpu_id,
                         const Regs& regs)
    : process_(process), vcpu_id_(vcpu_id), vcpu_(std::move(vcpu)), regs_(regs) {}

ThreadState GuestThread::state() {
  absl::MutexLock lock(&mu_);
  return state_;
}

bool GuestThread::Pause() {
  absl::MutexLock lock(&mu_);
  const bool already = pause_requested_;
  pause_requested_ = true;
  if (state_ == ThreadState::kRunning) vcpu_->RequestStop();
  auto paused = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return state_ == ThreadState::kParked || state_ == ThreadState::kInSyscall ||
           state_ == ThreadState::kExited || state_ == ThreadState::kNew;
  };
  mu_.Await(absl::Condition(&paused));
  return already;
}

void GuestThread::RequestPark() {
  absl::MutexLock lock(&mu_);
  pause_requested_ = true;
}

void GuestThread::Resume() {
  absl::MutexLock lock(&mu_);
  pause_requested_ = false;
}

absl::Status GuestThread::GetRegs(Regs* regs) {
  absl::MutexLock lock(&mu_);
  if (state_ == ThreadState::kRunning || state_ == ThreadState::kExited) {
    return absl::FailedPreconditionError(
        absl::StrFormat("thread %d is not stopped: its registers cannot be read", tid()));
  }
  *regs = regs_;
  return absl::OkStatus();
}

absl::Status GuestThread::SetRegs(const Regs& regs) {
  absl::MutexLock lock(&mu_);
  if (state_ == ThreadState::kRunning || state_ == ThreadState::kExited) {
    return absl::FailedPreconditionError(
        absl::StrFormat("thread %d is not stopped: its registers cannot be written", tid()));
  }
  regs_ = regs;
  regs_dirty_ = true;
  return absl::OkStatus();
}

absl::Status GuestThread::WithVcpu(absl::FunctionRef<absl::Status(Vcpu&)> f) {
  absl::MutexLock lock(&mu_);
  if (state_ == ThreadState::kRunning || state_ == ThreadState::kExited) {
    return absl::FailedPreconditionError(
        absl::StrFormat("thread %d is not stopped: its vCPU cannot be used", tid()));
  }
  return f(*vcpu_);
}

void GuestThread::Kill() {
  absl::MutexLock lock(&mu_);
  killed_ = true;
  if (state_ == ThreadState::kRunning) vcpu_->RequestStop();
}

void GuestThread::BindToCurrentHostThread() {
  tid_.store(static_cast<int>(::gettid()), std::memory_order_release);
}

void GuestThread::BecomeForkedChild() {
  BindToCurrentHostThread();
  absl::MutexLock lock(&mu_);
  pending_ = {};
  injected_.reset();
  pause_requested_ = false;
  syscall_interrupt_.store(0);
}

void GuestThread::EditRegs(absl::FunctionRef<void(Regs&)> edit) {
  absl::MutexLock lock(&mu_);
  edit(regs_);
  regs_dirty_ = true;
}

bool GuestThread::ParkWhileRequested() {
  absl::MutexLock lock(&mu_);
  ParkWhileRequestedLocked(state_);
  return !killed_;
}

void GuestThread::ParkWhileRequestedLocked(ThreadState after) {
  if (!pause_requested_ || killed_) return;
  state_ = ThreadState::kParked;
  auto runnable = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !pause_requested_ || killed_;
  };
  mu_.Await(absl::Condition(&runnable));
  state_ = after;
}

bool GuestThread::WaitUntilRunnable() {
  for (;;) {
    absl::Status status;
    std::optional<SignalInfo> signal;
    bool injected = false;
    {
      absl::MutexLock lock(&mu_);
      ParkWhileRequestedLocked(ThreadState::kHandling);
      if (killed_) return false;
      signal = TakeDeliverableLocked(&injected);
      if (!signal) {
        // A sigsuspend whose signal ran no handler: its own mask comes back now.
        if (mask_after_signal_) {
          signals_.blocked = *std::exchange(mask_after_signal_, std::nullopt);
        }
        if (regs_dirty_) status = vcpu_->SetRegs(regs_);
        if (status.ok()) {
          regs_dirty_ = false;
          state_ = ThreadState::kRunning;
          return true;
        }
      }
    }
    if (!signal) {
      process_.End({1, 0, absl::StrFormat("km: thread %d: %s", tid(), status.ToString())});
      return false;
    }
    // A debugger that took the signal parks the thread at the top of the next round.
    if (!DeliverSignal(*signal, injected)) return false;
  }
}

void GuestThread::SendSignal(const SignalInfo& info) {
  const bool blocked = (signals_.blocked.load() & SignalBit(info.signo)) != 0;
  if (!blocked && process_.debug_observer() == nullptr &&
      SignalDispositions::EffectOf(info.signo, process_.signals().Get(info.signo)) ==
          SignalEffect::kIgnore) {
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    pending_[info.signo] = info;
    WakeForSignalLocked(blocked);
  }
  process_.fds().NotifySignalfds(info.signo);
}

void GuestThread::InjectSignal(const SignalInfo& info) {
  absl::MutexLock lock(&mu_);
  injected_ = info;
}

void GuestThread::WakeForSignalLocked(bool blocked) {
  if (state_ == ThreadState::kRunning) {
    vcpu_->RequestStop();
  } else if (state_ == ThreadState::kInSyscall && !blocked) {
    syscall_interrupt_.store(1);
    InterruptHostThread(tid());
  }
}

uint64_t GuestThread::OwnPendingLocked() const {
  uint64_t set = 0;
  for (int signo = 1; signo <= kMaxSignal; signo++) {
    if (pending_[signo]) set |= SignalBit(signo);
  }
  return set;
}

uint64_t GuestThread::PendingMaskLocked() const {
  return OwnPendingLocked() | process_.shared_signals().Mask();
}

std::optional<SignalInfo> GuestThread::TakeLowestLocked(uint64_t among) {
  // The thread's own first, then the payload's, as Linux dequeues them.
  const uint64_t own = OwnPendingLocked() & among;
  if (own != 0) return std::exchange(pending_[std::countr_zero(own) + 1], std::nullopt);
  return process_.shared_signals().Take(among);
}

std::optional<int> GuestThread::NextDeliverableLocked() const {
  if (injected_) return injected_->signo;
  const uint64_t ready = ~signals_.blocked.load();
  const uint64_t own = OwnPendingLocked() & ready;
  const uint64_t shared = process_.shared_signals().Mask() & ready;
  if (own != 0) return std::countr_zero(own) + 1;
  if (shared != 0) return std::countr_zero(shared) + 1;
  return std::nullopt;
}

void GuestThread::NoticeSharedSignal(int signo) {
  absl::MutexLock lock(&mu_);
  if ((signals_.blocked.load() & SignalBit(signo)) != 0) return;
  WakeForSignalLocked(/*blocked=*/false);
}

std::optional<SignalInfo> GuestThread::TakeDeliverableLocked(bool* injected) {
  *injected = injected_.has_value();
  if (injected_) return std::exchange(injected_, std::nullopt);
  return TakeLowestLocked(~signals_.blocked);
}

bool GuestThread::DeliverSignal(const SignalInfo& info, bool injected) {
  DebugObserver* observer = process_.debug_observer();
  if (!injected && observer != nullptr &&
      observer->OnSignal(*this, info) == DebugAction::kContinue) {
    return true;
  }
  const int signo = info.signo;
  const KernelSigaction action = process_.signals().Get(signo);
  SignalEffect effect = SignalDispositions::EffectOf(signo, action);
  // Linux forces a fault's signal: blocked or ignored, it takes its default action.
  if (info.fault && (effect == SignalEffect::kIgnore ||
                     (effect == SignalEffect::kRunHandler &&
                      (signals_.blocked & SignalBit(signo)) != 0))) {
    effect = SignalEffect::kTerminate;
  }
  switch (effect) {
    case SignalEffect::kIgnore:
      return true;
    case SignalEffect::kTerminate: {
      const std::string message = info.fault ? FaultMessage({signo, info.rip, info.addr})
                                             : KillMessage(signo);
      process_.EndBySignal(*this, info, message);
      return false;
    }
    case SignalEffect::kRunHandler:
      break;
  }
  absl::StatusOr<SignalContext> handler;
  {
    absl::MutexLock lock(&mu_);
    SignalContext from{regs_, {}, signals_.blocked, signals_.altstack};
    const uint64_t saved_mask = mask_after_signal_
                                    ? *std::exchange(mask_after_signal_, std::nullopt)
                                    : signals_.blocked.load();
    absl::Status fpu = vcpu_->GetFpu(&from.fpu);
    handler = fpu.ok() ? PushSignalFrame(process_.memory(), from, info, action,
                                         process_.engine().caps().avx, saved_mask)
                       : absl::StatusOr<SignalContext>(fpu);
    if (handler.ok()) {
      absl::Status set = vcpu_->SetFpu(handler->fpu);
      if (set.ok()) {
        regs_ = handler->regs;
        regs_dirty_ = true;
        signals_.blocked = handler->blocked;
        signals_.altstack = handler->altstack;
      } else {
        handler = set;
      }
    }
  }
  if (!handler.ok()) {
    // What Linux does when it cannot set up a handler's frame (a blown stack, say).
    process_.EndByForcedSigsegv(*this, handler.status().message());
    return false;
  }
  if ((action.flags & SA_RESETHAND) != 0) process_.signals().Set(signo, KernelSigaction{});
  return true;
}

GuestThread::SignalWait GuestThread::WaitForSignal(uint64_t take, absl::Time deadline,
                                                   SignalInfo* taken) {
  absl::MutexLock lock(&mu_);
  auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return killed_ || (PendingMaskLocked() & (take | ~signals_.blocked)) != 0;
  };
  mu_.AwaitWithDeadline(absl::Condition(&ready), deadline);
  if (killed_) return SignalWait::kInterrupted;
  if (std::optional<SignalInfo> signal = TakeLowestLocked(take)) {
    *taken = *signal;
    return SignalWait::kTaken;
  }
  return ready() ? SignalWait::kInterrupted : SignalWait::kTimedOut;
}

uint64_t GuestThread::PendingSignals() {
  absl::MutexLock lock(&mu_);
  return PendingMaskLocked();
}

bool GuestThread::InterruptPendingLocked() const {
  return killed_ || NextDeliverableLocked().has_value();
}

const std::atomic<int>* GuestThread::ArmSyscallInterrupt() {
  absl::MutexLock lock(&mu_);
  syscall_interrupt_.store(InterruptPendingLocked() ? 1 : 0);
  return &syscall_interrupt_;
}

bool GuestThread::SignalInterruptsSyscall() {
  absl::MutexLock lock(&mu_);
  return InterruptPendingLocked();
}

bool GuestThread::NextSignalRestartsSyscall() {
  std::optional<int> next;
  {
    absl::MutexLock lock(&mu_);
    next = NextDeliverableLocked();
  }
  if (!next) return true;
  const int signo = *next;
  const KernelSigaction action = process_.signals().Get(signo);
  return SignalDispositions::EffectOf(signo, action) != SignalEffect::kRunHandler ||
         (action.flags & SA_RESTART) != 0;
}

absl::StatusOr<uint64_t> GuestThread::ReturnFromSignalHandler() {
  absl::MutexLock lock(&mu_);
  SignalContext now{regs_, {}, signals_.blocked, signals_.altstack};
  absl::Status s = vcpu_->GetFpu(&now.fpu);
  if (!s.ok()) return s;
  absl::StatusOr<SignalContext> back =
      PopSignalFrame(process_.memory(), now, process_.engine().caps().avx);
  if (!back.ok()) return back.status();
  s = vcpu_->SetFpu(back->fpu);
  if (!s.ok()) return s;
  regs_ = back->regs;
  regs_dirty_ = true;
  signals_.blocked = back->blocked;
  signals_.altstack = back->altstack;
  return back->regs.rax;
}

void GuestThread::RunLoop() {
  ExecutionLog::BindCurrentThread(vcpu_id_);
  if (DebugObserver* observer = process_.debug_observer()) observer->OnThreadStart(*this);
  while (WaitUntilRunnable()) {
    Vcpu* vcpu;
    {
      absl::MutexLock lock(&mu_);
      vcpu = vcpu_.get();
    }
    // Only this thread destroys the vCPU, so it outlives Run() without holding mu_, which
    // other host threads need meanwhile (Pause, Kill).
    absl::StatusOr<VcpuExit> exit = vcpu->Run();
    absl::Status regs_status;
    {
      absl::MutexLock lock(&mu_);
      state_ = ThreadState::kHandling;
      regs_status = vcpu_->GetRegs(&regs_);
    }
    if (!exit.ok() || !regs_status.ok()) {
      const absl::Status& bad = exit.ok() ? regs_status : exit.status();
      process_.End({1, 0, absl::StrFormat("km: thread %d: %s", tid(), bad.ToString())});
      break;
    }
    if (!HandleExit(*exit)) break;
  }
  Finish();
}

bool GuestThread::HandleExit(const VcpuExit& exit) {
  uint64_t rip;
  {
    absl::MutexLock lock(&mu_);
    rip = regs_.rip;
  }
  switch (exit.reason) {
    case ExitReason::kSyscall:
      return HandleSyscall();
    case ExitReason::kStopRequested:
      // A Pause() parks at the top of the loop; a stale request (the vCPU left Run() for
      // another reason first) just runs on.
      return true;
    case ExitReason::kException: {
      FatalSignal signal = SignalForException(exit.vector, rip, exit.addr);
      return HandleStop(exit, signal, /*fatal=*/true);
    }
    case ExitReason::kHalt:
      return HandleStop(exit, SignalForHalt(rip), /*fatal=*/true);
    case ExitReason::kSingleStep:
    case ExitReason::kHwBreakpoint:
    case ExitReason::kWatchpoint:
      // Only a debugger arms these; without one (it detached meanwhile) they mean nothing.
      return HandleStop(exit, FatalSignal{SIGTRAP, rip, rip}, /*fatal=*/false);
  }
  return true;
}

bool GuestThread::HandleStop(const VcpuExit& exit, const FatalSignal& signal, bool fatal) {
  DebugObserver* observer = process_.debug_observer();
  const bool debug_exit =
      exit.reason != ExitReason::kException || IsDebugVector(exit.vector);
  // Only a fatal stop raises a signal: single steps and breakpoint hits skip the lookup.
  SignalInfo info;
  if (fatal) {
    uint8_t byte;
    const bool mapped = process_.memory().ReadIgnoringProt(signal.addr, &byte, 1) == 1;
    info = SignalInfoForFault(signal, exit.reason == ExitReason::kHalt ? -1 : exit.vector, mapped);
  }
  if (observer != nullptr && (debug_exit || fatal)) {
    switch (observer->OnStop(*this, StopEvent{exit, signal, info})) {
      case DebugAction::kContinue:
        return true;
      case DebugAction::kNotHandled:
        break;
    }
  }
  if (!fatal) return true;
  // Raised as Linux would: the payload's handler runs, or the payload ends.
  InjectSignal(info);
  return true;
}

bool GuestThread::HandleSyscall() {
  Regs at_syscall;
  {
    absl::MutexLock lock(&mu_);
    state_ = ThreadState::kInSyscall;
    at_syscall = regs_;
  }
  const uint64_t number = at_syscall.rax;
  if (DebugObserver* observer = process_.debug_observer()) {
    observer->BeforeSyscall(*this, number);
    if (!ParkWhileRequested()) return false;
    // Registers a debugger wrote meanwhile are the syscall's arguments.
    absl::MutexLock lock(&mu_);
    at_syscall = regs_;
  }
  SyscallContext ctx(process_, *this, at_syscall);
  const int64_t result = DispatchSyscall(ctx);
  if (ctx.end_thread) return false;
  // Linux's -ERESTARTSYS: the syscall instruction runs again after the handler (or at once).
  // A call stopped before it began starts over, as if the signal had come first, unless its
  // own temporary mask (ppoll, pselect6, sigsuspend) is what let the signal in: waiting for
  // that signal is its job, and it must see EINTR.
  const bool before_start = ctx.interrupted_before_start && !mask_after_signal_;
  const bool restart = ctx.interrupted && result == -EINTR &&
                       (before_start || (ctx.restartable && NextSignalRestartsSyscall()));
  {
    absl::MutexLock lock(&mu_);
    if (restart) {
      regs_.rip -= kSyscallInsnLength;
      regs_.rax = number;
    } else {
      regs_.rax = static_cast<uint64_t>(result);
    }
    regs_dirty_ = true;
    state_ = ThreadState::kHandling;
  }
  if (DebugObserver* observer = process_.debug_observer()) observer->AfterSyscall(*this, number);
  return true;
}

void GuestThread::Finish() {
  {
    absl::MutexLock lock(&mu_);
    state_ = ThreadState::kExited;
    vcpu_.reset();
  }
  // Before the joiner is woken below: otherwise the payload could end, and a debugger hear of
  // the process's exit, before it heard of this thread's.
  if (DebugObserver* observer = process_.debug_observer()) observer->OnThreadExit(*this);
  if (clear_child_tid_ != 0 && !process_.ended()) {
    // What the kernel does for CLONE_CHILD_CLEARTID: pthread_join waits on this word. The
    // joiner may wait private or shared, so both kinds of waiter are woken.
    const uint32_t zero = 0;
    GuestMemory& mem = process_.memory();
    if (mem.Write(clear_child_tid_, &zero, sizeof zero).ok()) {
      absl::StatusOr<uint8_t*> host = mem.HostPointer(clear_child_tid_, sizeof zero, Access::kWrite);
      if (host.ok()) {
        ::syscall(SYS_futex, *host, FUTEX_WAKE, 1, nullptr, nullptr, 0);
        ::syscall(SYS_futex, *host, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
      }
    }
  }
  process_.ThreadFinished(*this);
}

}  // namespace km
