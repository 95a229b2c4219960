// km-gdb-agent: serves the GDB Remote Serial Protocol for a payload running in km, through
// km's debug control service (km --debug-socket PATH).
//
//   km-gdb-agent --debug-socket PATH [--port N | --listen HOST:PORT] [--once]
//   gdb -ex 'target remote :N'
// or, with no listening socket at all:
//   gdb -ex 'target remote | km-gdb-agent --stdio --debug-socket PATH'
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/grpc_target.h"
#include "agent/log.h"
#include "agent/server/gdb_session.h"
#include "agent/transport/connection.h"
#include "agent/transport/tcp_listener.h"

ABSL_FLAG(std::string, debug_socket, "", "km's debug socket (km --debug-socket PATH)");
ABSL_FLAG(std::string, listen, "", "listen for gdb on HOST:PORT (default 127.0.0.1:3333)");
ABSL_FLAG(int, port, -1, "listen for gdb on 127.0.0.1:PORT; 0 picks a free port");
ABSL_FLAG(bool, stdio, false, "speak to gdb on stdin/stdout (target remote | km-gdb-agent ...)");
ABSL_FLAG(bool, once, false, "exit when the first gdb leaves instead of listening again");
ABSL_FLAG(bool, verbose, false, "log every packet to stderr");

namespace {

// Shown by km to any other client while this one controls the payload.
constexpr char kClientName[] = "km-gdb-agent";

// One gdb connection: its own session with km, ended when gdb leaves.
absl::StatusOr<agent::SessionEnd> Serve(agent::Connection& gdb, const std::string& debug_socket) {
  absl::StatusOr<std::unique_ptr<agent::Target>> km = agent::ConnectToKm(debug_socket, kClientName);
  if (!km.ok()) return km.status();
  return agent::ServeGdb(gdb, **km);
}

int ServeStdio(const std::string& debug_socket) {
  agent::Connection gdb(STDIN_FILENO, STDOUT_FILENO, /*owns_fds=*/false, "stdio");
  absl::StatusOr<agent::SessionEnd> end = Serve(gdb, debug_socket);
  if (!end.ok()) {
    agent::Log(end.status().message());
    return 1;
  }
  return 0;
}

int ServeTcp(const std::string& debug_socket) {
  agent::HostPort where{"127.0.0.1", 3333};
  if (!absl::GetFlag(FLAGS_listen).empty()) {
    absl::StatusOr<agent::HostPort> parsed = agent::ParseHostPort(absl::GetFlag(FLAGS_listen));
    if (!parsed.ok()) {
      agent::Log(parsed.status().message());
      return 2;
    }
    where = *parsed;
  }
  if (absl::GetFlag(FLAGS_port) >= 0) where.port = absl::GetFlag(FLAGS_port);
  absl::StatusOr<std::unique_ptr<agent::TcpListener>> listener = agent::TcpListener::Listen(where);
  if (!listener.ok()) {
    agent::Log(listener.status().message());
    return 1;
  }
  agent::Log(absl::StrFormat("listening on %s:%d", (*listener)->host(), (*listener)->port()));
  while (true) {
    absl::StatusOr<std::unique_ptr<agent::Connection>> gdb = (*listener)->Accept();
    if (!gdb.ok()) {
      agent::Log(gdb.status().message());
      return 1;
    }
    absl::StatusOr<agent::SessionEnd> end = Serve(**gdb, debug_socket);
    if (!end.ok()) agent::Log(end.status().message());
    if (end.ok() && *end == agent::SessionEnd::kPayloadGone) return 0;
    if (absl::GetFlag(FLAGS_once)) return end.ok() ? 0 : 1;
  }
}

}  // namespace

// gdb users write --debug-socket; Abseil knows the flag as debug_socket. Flag names (not
// values, not anything after "--") get their dashes turned into underscores.
void AcceptDashedFlagNames(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    char* arg = argv[i];
    if (strcmp(arg, "--") == 0) return;
    if (strncmp(arg, "--", 2) != 0) continue;
    for (char* c = arg + 2; *c != '\0' && *c != '='; ++c) {
      if (*c == '-') *c = '_';
    }
  }
}

int main(int argc, char** argv) {
  AcceptDashedFlagNames(argc, argv);
  absl::SetProgramUsageMessage(
      "Serves gdb's remote protocol for a km payload.\n"
      "  km-gdb-agent --debug-socket PATH [--port N | --listen HOST:PORT] [--once]\n"
      "  (gdb) target remote | km-gdb-agent --stdio --debug-socket PATH");
  absl::ParseCommandLine(argc, argv);
  agent::SetVerbose(absl::GetFlag(FLAGS_verbose));
  const std::string debug_socket = absl::GetFlag(FLAGS_debug_socket);
  if (debug_socket.empty()) {
    agent::Log("--debug-socket is required (the path km was started with)");
    return 2;
  }
  // A gdb that vanishes mid-reply must not kill the agent; the write fails instead.
  signal(SIGPIPE, SIG_IGN);
  return absl::GetFlag(FLAGS_stdio) ? ServeStdio(debug_socket) : ServeTcp(debug_socket);
}
