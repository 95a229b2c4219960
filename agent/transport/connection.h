// One gdb connection: a byte stream in each direction (a TCP socket, or stdin/stdout when gdb
// runs the agent as `target remote | km-gdb-agent --stdio`).
#pragma once

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace agent {

class Connection {
 public:
  // Takes ownership of the fds when owns_fds (a socket: in_fd == out_fd, closed once).
  Connection(int in_fd, int out_fd, bool owns_fds, std::string peer);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  int in_fd() const { return in_fd_; }
  const std::string& peer() const { return peer_; }

  // What is there to read, at most max bytes; empty at end of stream.
  absl::StatusOr<std::string> Read(size_t max);
  absl::Status Write(absl::string_view data);

 private:
  const int in_fd_;
  const int out_fd_;
  const bool owns_fds_;
  const std::string peer_;
};

}  // namespace agent
