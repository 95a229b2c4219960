#include "km_hooks/socket_listener.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <utility>

#include "absl/strings/str_format.h"

namespace km_hooks {

bool PeerAllowed(const ucred& peer, uid_t our_uid, pid_t our_pid) {
  return (peer.uid == our_uid || peer.uid == 0) && peer.pid != our_pid;
}

absl::StatusOr<std::unique_ptr<SocketListener>> SocketListener::Start(const std::string& path,
                                                                      OnConnection on_connection) {
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  // The socket is made under a temporary name and renamed into place once it is 0600 and
  // listening, so that whoever sees PATH can connect at once and nobody ever saw it open.
  const std::string temp = path + ".new";
  if (path.empty() || temp.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "debug socket path '%s' must be 1 to %d bytes", path, sizeof(addr.sun_path) - 5));
  }
  memcpy(addr.sun_path, temp.c_str(), temp.size() + 1);

  struct stat st;
  if (lstat(path.c_str(), &st) == 0 && !S_ISSOCK(st.st_mode)) {
    return absl::AlreadyExistsError(
        absl::StrFormat("debug socket path %s exists and is not a socket", path));
  }
  if (lstat(temp.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) unlink(temp.c_str());

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrFormat("socket: %s", strerror(errno)));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      chmod(temp.c_str(), 0600) != 0 || listen(fd, 16) != 0 ||
      rename(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    close(fd);
    unlink(temp.c_str());
    return absl::InternalError(absl::StrFormat("debug socket %s: %s", path, strerror(err)));
  }
  auto listener = std::unique_ptr<SocketListener>(
      new SocketListener(path, fd, std::move(on_connection)));
  if (lstat(path.c_str(), &st) == 0) listener->file_ = {st.st_dev, st.st_ino};
  if (pipe2(listener->wake_pipe_, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrFormat("pipe: %s", strerror(errno)));
  }
  listener->thread_ = std::thread([l = listener.get()] { l->AcceptLoop(); });
  return listener;
}

SocketListener::SocketListener(std::string path, int fd, OnConnection on_connection)
    : path_(std::move(path)), listen_fd_(fd), on_connection_(std::move(on_connection)) {}

SocketListener::~SocketListener() {
  if (thread_.joinable()) {
    char c = 0;
    (void)!write(wake_pipe_[1], &c, 1);
    thread_.join();
  }
  for (int fd : wake_pipe_) {
    if (fd >= 0) close(fd);
  }
  close(listen_fd_);
  // Someone may have removed the socket and put another file (another km's socket) at PATH
  // meanwhile: that one is not ours to remove.
  struct stat st;
  if (lstat(path_.c_str(), &st) == 0 && std::pair(st.st_dev, st.st_ino) == file_) {
    unlink(path_.c_str());
  }
}

void SocketListener::AcceptLoop() {
  const uid_t our_uid = getuid();
  const pid_t our_pid = getpid();
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    // gRPC polls the descriptor it is handed: it must not block.
    int conn = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (conn < 0) continue;
    ucred cred = {};
    socklen_t len = sizeof(cred);
    if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
        !PeerAllowed(cred, our_uid, our_pid)) {
      if (cred.pid == our_pid) {
        fprintf(stderr, "km: debug socket %s: refused a connection from the payload itself\n",
                path_.c_str());
      } else {
        fprintf(stderr, "km: debug socket %s: refused a connection from uid %u (pid %d)\n",
                path_.c_str(), cred.uid, cred.pid);
      }
      close(conn);
      continue;
    }
    on_connection_(conn);
  }
}

}  // namespace km_hooks
