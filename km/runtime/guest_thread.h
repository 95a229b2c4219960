// One guest thread: its vCPU, the host thread that runs it, and the state machine through which
// any other host thread (the debug service) can pause it and read or write its registers.
//
// States:
//   kNew        created, its host thread not yet running guest code
//   kRunning    inside Vcpu::Run(); only RequestStop() may touch the vCPU
//   kHandling   outside Run(), handling an exit (fault, debug exit, stop request)
//   kInSyscall  serving a syscall, possibly blocked in the host kernel (futex wait, read)
//   kParked     stopped on request (Pause, or RequestPark) until Resume()
//   kExited     gone; its vCPU is destroyed
//
// Pause() asks the thread to stop and waits until it is parked, in a syscall or exited. A
// thread in a syscall counts as paused at once, because it may stay blocked indefinitely: its
// registers are those at the syscall (rip past the syscall instruction, rax the syscall
// number), a debugger may read and change them, and when the syscall returns the thread
// writes the result into rax and parks before running any guest code. So while paused, a
// thread never executes a guest instruction, and its registers change only in rax, only at
// that return.
//
// The registers live in this object while the thread is outside Run() (loaded after each exit,
// written back before the next Run if changed), so every access is a copy under mu_.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "km/engine.h"
#include "km/regs.h"
#include "km/runtime/fault.h"
#include "km/runtime/signal_state.h"

namespace km {

class Process;

enum class ThreadState { kNew, kRunning, kHandling, kInSyscall, kParked, kExited };

class GuestThread {
 public:
  GuestThread(Process& process, std::unique_ptr<Vcpu> vcpu, int vcpu_id, const Regs& regs);
  GuestThread(const GuestThread&) = delete;
  GuestThread& operator=(const GuestThread&) = delete;

  Process& process() { return process_; }
  // The guest-visible thread id: the host tid of the host thread running it (the main thread's
  // is km's pid), so ids are unique among live threads and /proc/self/task/TID is this thread.
  int tid() const { return tid_.load(std::memory_order_acquire); }
  int vcpu_id() const { return vcpu_id_; }
  ThreadState state();

  // --- From any host thread.
  // Returns whether a pause had been asked for already (a debugger's stop): then the Resume()
  // is not the caller's to give.
  bool Pause();
  void Resume();
  // Like Pause() without the wait: the thread parks at its next chance (for a DebugObserver,
  // on the thread's own host thread, that is before it runs any more guest code).
  void RequestPark();
  // Register and vCPU access: fails (FailedPrecondition) while the thread is running guest code
  // or after it exited. Pause() first for a stable view.
  absl::Status GetRegs(Regs* regs);
  absl::Status SetRegs(const Regs& regs);
  // Runs f with the vCPU (FPU state, single-step, hardware breakpoints) under the same rule.
  absl::Status WithVcpu(absl::FunctionRef<absl::Status(Vcpu&)> f);
  // Makes the thread stop running guest code for good (the payload is ending).
  void Kill();
  // kill, tkill: makes info.signo pending for this thread. It is delivered (its handler run, or
  // its default action taken) when the thread is about to run guest code and does not block
  // it; a thread running guest code is interrupted for it, and so is one blocked in a syscall
  // (EINTR, or a restart under SA_RESTART, as on Linux). Without a debugger, a signal that
  // would be ignored and is not blocked is dropped at once, as Linux drops it.
  void SendSignal(const SignalInfo& info);
  // A signal was put in the payload's shared pending set (every thread blocked it): if this
  // thread no longer blocks it, it stops what it runs or waits in to take it. Taking this
  // thread's lock also lets a sigwait here see it.
  void NoticeSharedSignal(int signo);
  // A signal a debugger resumes the thread with (or a fault's, for its handler): delivered
  // before the thread runs again, whatever its mask, and not reported to the debugger again.
  void InjectSignal(const SignalInfo& info);

  // --- From the thread's own host thread.
  // Serving a syscall: parks while a pause is requested (a DebugObserver's RequestPark). False
  // if the thread must end.
  bool ParkWhileRequested();
  // Records the host tid of the calling thread as this thread's tid.
  void BindToCurrentHostThread();
  // In a child made by fork, in the syscall that made it: the thread is the child's only one,
  // under the child's pid, with no signal pending (as Linux's child starts).
  void BecomeForkedChild();
  // Runs guest code and serves its exits until the thread exits or the payload ends.
  void RunLoop();
  // Changes the registers the thread resumes with (arch_prctl's fs_base, for instance).
  void EditRegs(absl::FunctionRef<void(Regs&)> edit);
  ThreadSignalState& signal_state() { return signals_; }
  // rt_sigtimedwait, sigsuspend, pause: waits in the syscall until a signal in `take` is pending
  // (kTaken: dequeued into *taken), or one the thread does not block (kInterrupted: the syscall
  // returns EINTR and the thread takes it on its way out), or until the deadline or the end.
  enum class SignalWait { kTaken, kInterrupted, kTimedOut };
  SignalWait WaitForSignal(uint64_t take, absl::Time deadline, SignalInfo* taken);
  // sigsuspend: the mask to put back once the signal that ended it was handled (its frame
  // restores it) or found nothing to run.
  void RestoreMaskAfterSignal(uint64_t mask) { mask_after_signal_ = mask; }
  // rt_sigpending: the signals pending for this thread or the whole payload.
  uint64_t PendingSignals();
  // Around a host syscall that may block (interruptible_syscall.h): the word to pass it, armed
  // if a signal is already waiting to be taken.
  const std::atomic<int>* ArmSyscallInterrupt();
  // After it came back with EINTR: whether a signal the thread takes next (or the payload's
  // end) is why, rather than a signal that turned out to be blocked.
  bool SignalInterruptsSyscall();
  // Whether the signal taken next lets an interrupted syscall start over: no handler runs for
  // it, or its handler has SA_RESTART.
  bool NextSignalRestartsSyscall();
  // rt_sigreturn: restores the context saved by the signal frame at rsp; returns the restored
  // rax (the syscall's result). An error means the frame was unreadable.
  absl::StatusOr<uint64_t> ReturnFromSignalHandler();
  // set_tid_address / CLONE_CHILD_CLEARTID: cleared and futex-woken at thread exit.
  void set_clear_child_tid(uint64_t gva) { clear_child_tid_ = gva; }
  // The exit syscall: the thread ends after the current syscall with this status.
  void SetExiting(int status) { exit_status_ = status; }
  int exit_status() const { return exit_status_; }

 private:
  // Waits while paused; false if the thread must end. Loads dirty registers into the vCPU.
  bool WaitUntilRunnable();
  // If a pause was requested (and the thread not killed): parks until resumed or killed, then
  // takes state `after`. Its callers: the run loop, and a syscall a debugger stops at entry.
  void ParkWhileRequestedLocked(ThreadState after) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Serves one exit; false if the thread ends.
  bool HandleExit(const VcpuExit& exit);
  bool HandleSyscall();
  // A fault or debug exit: the observer decides, else a fatal one raises its signal.
  bool HandleStop(const VcpuExit& exit, const FatalSignal& signal, bool fatal);
  // The injected signal, else the lowest pending one the thread does not block.
  std::optional<SignalInfo> TakeDeliverableLocked(bool* injected)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The number of the signal TakeDeliverableLocked would take (in the same order), if any.
  std::optional<int> NextDeliverableLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether the thread, in a syscall, has reason to leave it: killed, or a signal to take.
  bool InterruptPendingLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Wakes the thread for a signal just made pending: stops its guest code, or cuts its syscall
  // short unless it blocks the signal.
  void WakeForSignalLocked(bool blocked) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The pending signals as a sigset: the thread's own; with the payload's shared ones; the
  // lowest-numbered pending one in `among`, dequeued.
  uint64_t OwnPendingLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t PendingMaskLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::optional<SignalInfo> TakeLowestLocked(uint64_t among) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reports it to a debugger (unless injected), then runs its handler or takes its default
  // action. False if the payload ended.
  bool DeliverSignal(const SignalInfo& info, bool injected);
  void Finish();

  Process& process_;
  const int vcpu_id_;
  std::atomic<int> tid_{0};
  ThreadSignalState signals_;
  std::optional<uint64_t> mask_after_signal_;  // set by sigsuspend; own host thread only
  uint64_t clear_child_tid_ = 0;
  // Set (with a host signal to this thread) when a signal arrives while it is in a syscall.
  std::atomic<int> syscall_interrupt_{0};
  int exit_status_ = 0;

  absl::Mutex mu_;
  std::unique_ptr<Vcpu> vcpu_ ABSL_GUARDED_BY(mu_);
  ThreadState state_ ABSL_GUARDED_BY(mu_) = ThreadState::kNew;
  bool pause_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool killed_ ABSL_GUARDED_BY(mu_) = false;
  Regs regs_ ABSL_GUARDED_BY(mu_);
  bool regs_dirty_ ABSL_GUARDED_BY(mu_) = true;
  // Standard signals do not queue: at most one pending per number.
  std::array<std::optional<SignalInfo>, kMaxSignal + 1> pending_ ABSL_GUARDED_BY(mu_);
  std::optional<SignalInfo> injected_ ABSL_GUARDED_BY(mu_);
};

}  // namespace km
