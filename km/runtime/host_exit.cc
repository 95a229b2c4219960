#include "km/runtime/host_exit.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

namespace km {

void LeaveHost(const ExitInfo& info, bool die_by_signal) {
  if (die_by_signal && info.signo > 0) {
    // km wrote the payload's core already where one was due; a core of km would be noise.
    const struct rlimit no_core = {0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);
    struct sigaction dfl = {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(info.signo, &dfl, nullptr);
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, info.signo);
    ::pthread_sigmask(SIG_UNBLOCK, &only, nullptr);
    // Aimed at this thread, which takes it at once: its default action ends every thread.
    ::raise(info.signo);
  }
  ::_exit(info.status);
}

}  // namespace km
