// Signal bookkeeping. km does not deliver signals to guest handlers yet; it records what the
// payload asks for (so rt_sigaction and friends read back what was set) and uses the
// dispositions to decide what a signal the payload sends itself does.
#pragma once

#include <array>
#include <cstdint>

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

// Per-thread: blocked signals and the alternate signal stack. Touched only by the thread's own
// syscalls.
struct ThreadSignalState {
  uint64_t blocked = 0;
  KernelStack altstack;
};

// What a signal sent to the payload does to it.
enum class SignalEffect {
  kIgnore,
  kTerminate,
  // The payload installed a handler, which km cannot run yet: the signal is dropped, which is
  // closer to what the payload expects (it survives) than ending it.
  kHandlerNotRun,
};

// Per-process dispositions, shared by all threads.
class SignalDispositions {
 public:
  // signo in [1, kMaxSignal].
  KernelSigaction Get(int signo);
  void Set(int signo, const KernelSigaction& action);
  // Ignored signals and those whose default is to be ignored do nothing; a signal with a
  // handler is kHandlerNotRun; any other ends the payload.
  SignalEffect Effect(int signo);

 private:
  absl::Mutex mu_;
  std::array<KernelSigaction, kMaxSignal + 1> actions_ ABSL_GUARDED_BY(mu_){};
};

}  // namespace km
