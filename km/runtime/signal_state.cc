#include "km/runtime/signal_state.h"

#include <signal.h>

#include <bit>
#include <utility>

namespace km {

KernelSigaction SignalDispositions::Get(int signo) {
  absl::MutexLock lock(&mu_);
  return actions_[signo];
}

void SignalDispositions::Set(int signo, const KernelSigaction& action) {
  absl::MutexLock lock(&mu_);
  actions_[signo] = action;
}

SignalEffect SignalDispositions::EffectOf(int signo, const KernelSigaction& action) {
  constexpr uint64_t kSigDfl = 0;
  constexpr uint64_t kSigIgn = 1;
  const uint64_t handler = action.handler;
  if (handler == kSigIgn) return SignalEffect::kIgnore;
  if (handler != kSigDfl) return SignalEffect::kRunHandler;
  switch (signo) {
    case SIGCHLD:
    case SIGCONT:
    case SIGURG:
    case SIGWINCH:
    // Stop signals: km cannot stop a payload the way a shell's job control expects, and ending
    // it instead would be worse than carrying on.
    case SIGSTOP:
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
      return SignalEffect::kIgnore;
    default:
      return SignalEffect::kTerminate;
  }
}

void SharedPendingSignals::Put(const SignalInfo& info) {
  absl::MutexLock lock(&mu_);
  if (pending_[info.signo]) return;
  pending_[info.signo] = info;
  mask_.store(mask_.load() | SignalBit(info.signo));
}

std::optional<SignalInfo> SharedPendingSignals::Take(uint64_t among) {
  if ((mask_.load() & among) == 0) return std::nullopt;
  absl::MutexLock lock(&mu_);
  const uint64_t ready = mask_.load() & among;
  if (ready == 0) return std::nullopt;
  const int signo = std::countr_zero(ready) + 1;
  mask_.store(mask_.load() & ~SignalBit(signo));
  return std::exchange(pending_[signo], std::nullopt);
}

}  // namespace km
