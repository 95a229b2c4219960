#include "km_hooks/late_attach.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

#include "km_hooks/debug_server.h"

namespace km_hooks {

namespace {

sigset_t LateAttachSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  return set;
}

}  // namespace

void BlockLateAttachSignal() {
  const sigset_t set = LateAttachSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void EnableLateAttach(km::Process& process) {
  const sigset_t set = LateAttachSignals();
  std::thread([&process, set] {
    std::unique_ptr<DebugServer> server;
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) return;
      if (server == nullptr) {
        auto started = DebugServer::Start(process, DefaultSocketPath(getpid()), false);
        if (!started.ok()) {
          std::fprintf(stderr, "km: SIGUSR1: cannot open the debug socket: %s\n",
                       std::string(started.status().message()).c_str());
          continue;
        }
        server = std::move(*started);
      }
      std::fprintf(stderr, "km: debug socket %s\n", server->socket_path().c_str());
    }
  }).detach();
}

}  // namespace km_hooks
