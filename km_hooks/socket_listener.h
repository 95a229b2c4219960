// The debug socket's door: a unix socket that only km's own user (or root) may use. gRPC's own
// unix listener cannot see who connects, so km accepts connections itself, checks the peer's
// uid with SO_PEERCRED, and hands the accepted descriptor to the gRPC server.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/statusor.h"

namespace km_hooks {

class SocketListener {
 public:
  // Called with each accepted, uid-checked connection; takes ownership of fd.
  using OnConnection = std::function<void(int fd)>;

  // Creates PATH (replacing a stale socket, never another kind of file) with mode 0600 and
  // starts accepting on a thread of its own.
  static absl::StatusOr<std::unique_ptr<SocketListener>> Start(const std::string& path,
                                                               OnConnection on_connection);
  ~SocketListener();  // stops accepting and removes the socket file

  const std::string& path() const { return path_; }

 private:
  SocketListener(std::string path, int fd, OnConnection on_connection);
  void AcceptLoop();

  std::string path_;
  std::pair<dev_t, ino_t> file_ = {0, 0};  // the socket file as created, to remove only it
  int listen_fd_;
  int wake_pipe_[2] = {-1, -1};
  OnConnection on_connection_;
  std::thread thread_;
};

// Whether a peer may use a socket owned by our_uid in process our_pid: root or our uid, and not
// our own process, which is the payload's (its sockets are km's): a payload must not debug
// itself, or reach past the VM through the service.
bool PeerAllowed(const ucred& peer, uid_t our_uid, pid_t our_pid);

}  // namespace km_hooks
