// km-gdb-agent: serves the GDB Remote Serial Protocol for payloads running in km, through
// km's debug control service. Three ways to start (docs/sessions.md):
//
//   km-gdb-agent --debug-socket PATH [--port N]     km runs already: serve it
//   km-gdb-agent [--port N] -- PAYLOAD [ARGS...]    start km running PAYLOAD, like gdbserver
//   km-gdb-agent --multi [--port N]                 wait for gdb's run or attach
//   (gdb) target remote :N  or  target extended-remote :N
// or, with no listening socket at all:
//   gdb -ex 'target remote | km-gdb-agent --stdio --debug-socket PATH'
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/grpc_target.h"
#include "agent/launcher/km_launcher.h"
#include "agent/launcher/km_source.h"
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
ABSL_FLAG(bool, multi, false,
          "keep serving when the payload is gone: gdb runs or attaches to the next one "
          "(target extended-remote)");
ABSL_FLAG(std::string, km, "", "the km to launch (default: km next to km-gdb-agent, or on PATH)");
ABSL_FLAG(std::string, accel, "", "km's --accel for the km processes the agent launches");

namespace {

// Shown by km to any other client while this one controls the payload.
constexpr char kClientName[] = "km-gdb-agent";

// How the agent was started, and what each gdb connection begins with.
struct Mode {
  std::string debug_socket;     // km first: the km to serve
  std::optional<int> launched;  // the km started for the command line's payload
  bool multi = false;
};

// One gdb connection: its own session with km, ended when gdb leaves.
absl::StatusOr<agent::SessionEnd> Serve(agent::Connection& gdb, agent::KmSource& source,
                                        const Mode& mode) {
  agent::ExtendedMode processes(&source);
  if (!mode.debug_socket.empty()) {
    absl::StatusOr<std::unique_ptr<agent::Target>> km =
        agent::ConnectToKm(mode.debug_socket, kClientName);
    if (!km.ok()) return km.status();
    if (absl::Status s = processes.Adopt(*std::move(km), /*attached=*/true); !s.ok()) return s;
  } else if (mode.launched && source.Launched(*mode.launched)) {
    absl::StatusOr<std::unique_ptr<agent::Target>> km = source.Attach(*mode.launched);
    if (!km.ok()) return km.status();
    if (absl::Status s = processes.Adopt(*std::move(km), /*attached=*/false); !s.ok()) return s;
  }
  return agent::ServeGdb(gdb, processes);
}

// After a connection: whether to listen for the next gdb, else the agent's exit status.
std::optional<int> AfterSession(const absl::StatusOr<agent::SessionEnd>& end,
                                agent::KmSource& source, const Mode& mode) {
  if (!end.ok()) agent::Log(end.status().message());
  if (mode.multi) {
    if (absl::GetFlag(FLAGS_once)) return end.ok() ? 0 : 1;
    return std::nullopt;
  }
  if (mode.launched) {
    // Like gdbserver: done when gdb is. A payload gdb left running is waited for, since km
    // dies with the agent; its exit status becomes the agent's. After a failed session km
    // may still be held at its first instruction: the agent's exit kills it.
    if (!end.ok()) return 1;
    if (source.AnyRunning()) agent::Log("gdb left; the payload runs on; waiting for km to exit");
    return source.WaitForAll().value_or(0);
  }
  if (end.ok() && *end == agent::SessionEnd::kPayloadGone) return 0;
  if (absl::GetFlag(FLAGS_once)) return end.ok() ? 0 : 1;
  return std::nullopt;
}

int ServeStdio(agent::KmSource& source, const Mode& mode) {
  agent::Connection gdb(STDIN_FILENO, STDOUT_FILENO, /*owns_fds=*/false, "stdio");
  absl::StatusOr<agent::SessionEnd> end = Serve(gdb, source, mode);
  std::optional<int> status = AfterSession(end, source, mode);
  return status.value_or(end.ok() ? 0 : 1);
}

int ServeTcp(agent::KmSource& source, const Mode& mode) {
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
    absl::StatusOr<agent::SessionEnd> end = Serve(**gdb, source, mode);
    if (std::optional<int> status = AfterSession(end, source, mode)) return *status;
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
  // Memory reads build packets of up to 128 KiB, one after another; glibc would hand each back
  // to the kernel on free (mmap, or trimming the heap) and fault it in again for the next.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  mallopt(M_TRIM_THRESHOLD, 8 << 20);
  AcceptDashedFlagNames(argc, argv);
  absl::SetProgramUsageMessage(
      "Serves gdb's remote protocol for km payloads.\n"
      "  km-gdb-agent --debug-socket PATH [--port N | --listen HOST:PORT] [--once]\n"
      "  km-gdb-agent [--port N] [--km PATH] [--accel ENGINE] [--multi] -- PAYLOAD [ARGS...]\n"
      "  km-gdb-agent --multi [--port N]\n"
      "  (gdb) target remote | km-gdb-agent --stdio --debug-socket PATH");
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  agent::SetVerbose(absl::GetFlag(FLAGS_verbose));
  const std::vector<std::string> payload(positional.begin() + 1, positional.end());

  Mode mode;
  mode.debug_socket = absl::GetFlag(FLAGS_debug_socket);
  mode.multi = absl::GetFlag(FLAGS_multi) || (mode.debug_socket.empty() && payload.empty());
  if (!mode.debug_socket.empty() && (!payload.empty() || absl::GetFlag(FLAGS_multi))) {
    agent::Log("--debug-socket serves a running km: give no payload and no --multi");
    return 2;
  }

  agent::KmSourceOptions options{.accel = absl::GetFlag(FLAGS_accel),
                                 .keep_off_stdio = absl::GetFlag(FLAGS_stdio)};
  absl::StatusOr<std::string> km = agent::FindKm(absl::GetFlag(FLAGS_km));
  if (km.ok()) {
    options.km = *km;
  } else {
    options.km_missing = std::string(km.status().message());
    if (mode.debug_socket.empty()) {
      agent::Log(options.km_missing);
      return 2;
    }
  }
  agent::KmSource source(std::move(options), [](const std::string& socket) {
    return agent::ConnectToKm(socket, kClientName);
  });
  // A gdb that vanishes mid-reply must not kill the agent; the write fails instead.
  signal(SIGPIPE, SIG_IGN);
  agent::KillLaunchedKmOnTermination();

  if (!payload.empty()) {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
    absl::StatusOr<int> pid = source.Start(payload, env);
    if (!pid.ok()) {
      agent::Log(pid.status().message());
      return 1;
    }
    mode.launched = *pid;
  }
  return absl::GetFlag(FLAGS_stdio) ? ServeStdio(source, mode) : ServeTcp(source, mode);
}
