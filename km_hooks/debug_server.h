// km's debug service, as started by --debug-socket (or late, on SIGUSR1): the controller
// hooked into the process, the gRPC server, and the socket that feeds it checked connections.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "km/runtime/process.h"
#include "km_hooks/session.h"

namespace grpc {
class Server;
}

namespace km_hooks {

class DebugController;
class DebugService;
class SocketListener;

class DebugServer {
 public:
  // Serves on socket_path. With hold_main_thread, the payload's first instruction waits for a
  // client's Resume (--debug-wait); call it before Process::Run. session_grace: see Sessions.
  static absl::StatusOr<std::unique_ptr<DebugServer>> Start(
      km::Process& process, const std::string& socket_path, bool hold_main_thread,
      absl::Duration session_grace = kDefaultSessionGrace);
  ~DebugServer();

  const std::string& socket_path() const { return socket_path_; }
  // Waits for calls in flight (for at most a short while), then stops serving.
  void ShutDown();

 private:
  DebugServer() = default;

  std::string socket_path_;
  std::unique_ptr<DebugController> controller_;
  std::unique_ptr<DebugService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<SocketListener> listener_;
};

// km leaves with _exit, so no destructor runs; its exit handler calls this to let calls in flight
// finish (a Detach or Resume that let the payload end must still get its answer), stop every
// debug server and remove their sockets.
void ShutDownAtExit();

// Where SIGUSR1 opens the socket of a km started without one.
std::string DefaultSocketPath(int pid);

}  // namespace km_hooks
