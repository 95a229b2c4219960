#include "agent/transport/connection.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace agent {

Connection::Connection(int in_fd, int out_fd, bool owns_fds, std::string peer)
    : in_fd_(in_fd), out_fd_(out_fd), owns_fds_(owns_fds), peer_(std::move(peer)) {}

Connection::~Connection() {
  if (!owns_fds_) return;
  close(in_fd_);
  if (out_fd_ != in_fd_) close(out_fd_);
}

absl::StatusOr<std::string> Connection::Read(size_t max) {
  std::string buf(max, '\0');
  while (true) {
    const ssize_t n = read(in_fd_, buf.data(), max);
    if (n >= 0) {
      buf.resize(static_cast<size_t>(n));
      return buf;
    }
    if (errno == EINTR) continue;
    // A reset connection is the peer leaving, like an orderly close.
    if (errno == ECONNRESET) return std::string();
    return absl::UnavailableError(absl::StrCat("reading from gdb (", peer_, "): ", strerror(errno)));
  }
}

absl::Status Connection::Write(absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(out_fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(absl::StrCat("writing to gdb (", peer_, "): ", strerror(errno)));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace agent
