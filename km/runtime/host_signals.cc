#include "km/runtime/host_signals.h"

#include <pthread.h>
#include <signal.h>

#include <thread>

#include "km/runtime/signal_state.h"

namespace km {
namespace {

sigset_t ForwardedSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int signo : {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF,
                    SIGWINCH, SIGURG, SIGIO, SIGCHLD}) {
    sigaddset(&set, signo);
  }
  return set;
}

}  // namespace

bool ReachesPayload(int signo) {
  const sigset_t set = ForwardedSignals();
  return signo == SIGKILL || signo == SIGSTOP || signo == SIGCONT || signo == SIGTSTP ||
         signo == SIGTTIN || signo == SIGTTOU ||
         (signo > 0 && signo < NSIG && sigismember(&set, signo) == 1);
}

void BlockForwardedSignals() {
  signal(SIGPIPE, SIG_IGN);
  const sigset_t set = ForwardedSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void ForwardHostSignals(Process& process) {
  const sigset_t set = ForwardedSignals();
  std::thread([&process, set] {
    for (;;) {
      siginfo_t host;
      const int signo = sigwaitinfo(&set, &host);
      if (signo < 0) continue;  // EINTR
      SignalInfo info;
      info.signo = signo;
      info.code = host.si_code;
      if (host.si_code == SI_USER || host.si_code == SI_QUEUE) {
        info.sender_pid = host.si_pid;
        info.sender_uid = host.si_uid;
      }
      process.SendSignal(info);
    }
  }).detach();
}

}  // namespace km
