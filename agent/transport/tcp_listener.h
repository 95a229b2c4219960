// The TCP side: listen on HOST:PORT (127.0.0.1 unless told otherwise) and accept gdb.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/transport/connection.h"

namespace agent {

struct HostPort {
  std::string host;
  int port = 0;
};
// "HOST:PORT", ":PORT" (HOST 127.0.0.1) or "[V6ADDR]:PORT".
absl::StatusOr<HostPort> ParseHostPort(absl::string_view text);

class TcpListener {
 public:
  // Port 0 picks a free port; port() says which.
  static absl::StatusOr<std::unique_ptr<TcpListener>> Listen(const HostPort& where);
  ~TcpListener();

  absl::StatusOr<std::unique_ptr<Connection>> Accept();
  int port() const { return port_; }
  const std::string& host() const { return host_; }

 private:
  TcpListener(int fd, std::string host, int port) : fd_(fd), host_(std::move(host)), port_(port) {}

  const int fd_;
  const std::string host_;
  const int port_;
};

}  // namespace agent
