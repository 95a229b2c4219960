// Signal bookkeeping: dispositions (per process), masks and alternate stacks (per thread), and
// what a signal on its way to a thread carries. Delivery itself is GuestThread's.
#pragma once

#include <array>
#include <atomic>
#include <csignal>
#include <cstdint>
#include <optional>

#include "absl/synchronization/mutex.h"

namespace km {

inline constexpr int kMaxSignal = 64;

// struct sigaction as the x86-64 kernel lays it out (not libc's).
struct KernelSigaction {
  uint64_t handler = 0;  // SIG_DFL 0, SIG_IGN 1, or a guest address
  uint64_t flags = 0;
  uint64_t restorer = 0;
  uint64_t mask = 0;
};
static_assert(sizeof(KernelSigaction) == 32);

// stack_t as the x86-64 kernel lays it out.
struct KernelStack {
  uint64_t sp = 0;
  int32_t flags = 2;  // SS_DISABLE
  int32_t pad = 0;
  uint64_t size = 0;
};
static_assert(sizeof(KernelStack) == 24);

// One signal on its way to a thread: what its siginfo will say.
struct SignalInfo {
  int signo = 0;
  int code = 0;  // si_code: SI_USER, SI_TKILL, SEGV_MAPERR...
  int sender_pid = 0;  // kill, tkill: si_pid and si_uid
  uint32_t sender_uid = 0;
  int timer_id = 0;    // SI_TIMER: si_timerid and si_overrun
  int overrun = 0;
  uint64_t value = 0;  // SI_TIMER, SI_QUEUE: si_value
  // A CPU exception's signal. Linux forces those: blocked or ignored, they end the process.
  bool fault = false;
  int trapno = 0;     // the exception vector
  uint64_t rip = 0;   // where it happened (km's message when it ends the payload)
  uint64_t addr = 0;  // si_addr
};

// The kernel's values: glibc's MINSIGSTKSZ is no longer a constant, and SS_AUTODISARM is not in
// its headers.
inline constexpr uint64_t kMinSigStackSize = 2048;
inline constexpr int32_t kSsAutodisarm = static_cast<int32_t>(1u << 31);

// A signal's bit in a kernel sigset (signo in [1, kMaxSignal]).
inline constexpr uint64_t SignalBit(int signo) { return 1ull << (signo - 1); }
inline constexpr uint64_t kUnblockableSignals = SignalBit(SIGKILL) | SignalBit(SIGSTOP);

// Whether sp is on that alternate stack (enabled, sp within it: stacks grow down).
inline bool OnAltStack(const KernelStack& stack, uint64_t sp) {
  return (stack.flags & SS_DISABLE) == 0 && sp > stack.sp && sp - stack.sp <= stack.size;
}

// Per-thread: blocked signals and the alternate signal stack. Changed only by the thread's own
// syscalls; the mask is read by senders choosing whether (and which thread) to interrupt.
struct ThreadSignalState {
  std::atomic<uint64_t> blocked{0};
  KernelStack altstack;
};

// What a signal sent to the payload does to it.
enum class SignalEffect {
  kIgnore,
  kTerminate,
  kRunHandler,  // the payload installed a handler
};

// Per-process dispositions, shared by all threads.
class SignalDispositions {
 public:
  // signo in [1, kMaxSignal].
  KernelSigaction Get(int signo);
  void Set(int signo, const KernelSigaction& action);
  // Ignored signals and those whose default is to be ignored do nothing; a signal with a
  // handler runs it; any other ends the payload.
  SignalEffect Effect(int signo) { return EffectOf(signo, Get(signo)); }
  // The same for an action already read (so that what is done and with which handler agree).
  static SignalEffect EffectOf(int signo, const KernelSigaction& action);

 private:
  absl::Mutex mu_;
  std::array<KernelSigaction, kMaxSignal + 1> actions_ ABSL_GUARDED_BY(mu_){};
};

// Signals sent to the whole payload that every thread blocked when they came: they wait here
// for whichever thread unblocks one first or waits for it (sigwait), as in Linux's shared
// pending set. Standard signals do not queue: at most one pending per number.
class SharedPendingSignals {
 public:
  void Put(const SignalInfo& info);
  uint64_t Mask() const { return mask_.load(); }
  // The lowest-numbered pending one in `among`, dequeued.
  std::optional<SignalInfo> Take(uint64_t among);

 private:
  absl::Mutex mu_;
  std::array<std::optional<SignalInfo>, kMaxSignal + 1> pending_ ABSL_GUARDED_BY(mu_);
  // pending_ as a sigset, changed under mu_: every thread looks at it whenever it is about to
  // run guest code, and nearly always finds nothing, without taking the lock.
  std::atomic<uint64_t> mask_{0};
};

}  // namespace km
