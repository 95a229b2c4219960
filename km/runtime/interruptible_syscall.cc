#include "km/runtime/interruptible_syscall.h"

#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>

extern "C" {
int64_t km_interruptible_syscall(const int* interrupt, int64_t nr, uint64_t a1, uint64_t a2,
                                 uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6);
extern const char km_interruptible_syscall_window_start[];
extern const char km_interruptible_syscall_window_end[];
extern const char km_interruptible_syscall_interrupted[];
}

namespace km {
namespace {

void OnInterruptSignal(int, siginfo_t*, void* context) {
  auto* uc = static_cast<ucontext_t*>(context);
  greg_t& rip = uc->uc_mcontext.gregs[REG_RIP];
  const auto at = static_cast<uintptr_t>(rip);
  if (at >= reinterpret_cast<uintptr_t>(km_interruptible_syscall_window_start) &&
      at < reinterpret_cast<uintptr_t>(km_interruptible_syscall_window_end)) {
    rip = static_cast<greg_t>(reinterpret_cast<uintptr_t>(km_interruptible_syscall_interrupted));
  }
}

}  // namespace

// The kvm engine's vCPU kick is SIGRTMIN + 4.
int InterruptSignal() { return SIGRTMIN + 5; }

void InstallSyscallInterruptHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action = {};
    action.sa_sigaction = OnInterruptSignal;
    action.sa_flags = SA_SIGINFO;  // no SA_RESTART: a blocked host syscall returns EINTR
    sigemptyset(&action.sa_mask);
    if (sigaction(InterruptSignal(), &action, nullptr) != 0) {
      std::perror("km: sigaction for the syscall interrupt signal");
    }
  });
}

int64_t InterruptibleSyscall(const std::atomic<int>* interrupt, int64_t nr, uint64_t a1,
                             uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6) {
  static_assert(sizeof(std::atomic<int>) == sizeof(int) && std::atomic<int>::is_always_lock_free);
  return km_interruptible_syscall(reinterpret_cast<const int*>(interrupt), nr, a1, a2, a3, a4, a5,
                                  a6);
}

void InterruptHostThread(pid_t tid) { ::syscall(SYS_tgkill, ::getpid(), tid, InterruptSignal()); }

}  // namespace km
