#include "agent/transport/tcp_listener.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace agent {
namespace {

std::string PeerName(const sockaddr_storage& addr) {
  char host[NI_MAXHOST], port[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&addr), sizeof addr, host, sizeof host, port,
                  sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return "?";
  }
  return absl::StrCat(host, ":", port);
}

}  // namespace

absl::StatusOr<HostPort> ParseHostPort(absl::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not HOST:PORT"));
  }
  absl::string_view host = text.substr(0, colon);
  if (absl::ConsumePrefix(&host, "[")) host = absl::StripSuffix(host, "]");
  int port;
  if (!absl::SimpleAtoi(text.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad port in '", text, "'"));
  }
  return HostPort{host.empty() ? "127.0.0.1" : std::string(host), port};
}

absl::StatusOr<std::unique_ptr<TcpListener>> TcpListener::Listen(const HostPort& where) {
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* addrs = nullptr;
  const std::string port = absl::StrCat(where.port);
  if (int rc = getaddrinfo(where.host.c_str(), port.c_str(), &hints, &addrs); rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("cannot resolve %s: %s", where.host, gai_strerror(rc)));
  }
  std::string error = "no address";
  for (addrinfo* a = addrs; a != nullptr; a = a->ai_next) {
    const int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      error = strerror(errno);
      continue;
    }
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 1) != 0) {
      error = strerror(errno);
      close(fd);
      continue;
    }
    sockaddr_storage bound = {};
    socklen_t len = sizeof bound;
    getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
    const int bound_port = ntohs(bound.ss_family == AF_INET6
                                     ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                     : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    freeaddrinfo(addrs);
    return std::unique_ptr<TcpListener>(new TcpListener(fd, where.host, bound_port));
  }
  freeaddrinfo(addrs);
  return absl::UnavailableError(
      absl::StrFormat("cannot listen on %s:%d: %s", where.host, where.port, error));
}

TcpListener::~TcpListener() { close(fd_); }

absl::StatusOr<std::unique_ptr<Connection>> TcpListener::Accept() {
  while (true) {
    sockaddr_storage peer = {};
    socklen_t len = sizeof peer;
    const int fd = accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return absl::UnavailableError(absl::StrCat("accept: ", strerror(errno)));
    }
    // Packets are small and each waits for an answer: Nagle would add delay to every one.
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return std::make_unique<Connection>(fd, fd, /*owns_fds=*/true, PeerName(peer));
  }
}

}  // namespace agent
