// Runs one debugging session end to end: km with --debug-socket and --debug-wait, the agent,
// and a real gdb in batch mode driven by a command list; collects everything they printed.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tests/child_process.h"

namespace km_gdb_test {

using km_test::Child;


struct SessionOptions {
  std::string engine = "tcg";
  std::string payload = "gdb_demo";  // in //tests/payloads
  std::vector<std::string> payload_args;
  std::vector<std::string> gdb_commands;  // each one -ex; $KM_SOCKET in a `shell` is km's socket
  bool stdio = false;                     // target remote | km-gdb-agent --stdio
  // Runs while gdb runs (e.g. to send it SIGINT); gets gdb's and km's children and must return
  // promptly once its job is done.
  std::function<void(Child& gdb, Child& km)> during_gdb;
  // A second gdb run after the first one ended (same agent), for reconnect tests.
  std::vector<std::string> second_gdb_commands;
  std::vector<std::string> agent_args;  // more arguments for the agent, e.g. --verbose
  std::vector<std::string> km_args;     // more of km's flags, e.g. --core-pattern
  std::string km_binary;  // the km to run, if not the one built (e.g. a copy a test removes)
};

struct SessionResult {
  std::string gdb_out;  // gdb's stdout and stderr, in that order
  std::string second_gdb_out;
  int gdb_status = -1;
  std::string km_out;
  std::string km_err;
  int km_status = -1;
  int km_pid = 0;
  std::string agent_err;
  std::string hang_dump;  // if gdb timed out: km's and the agent's host threads at that moment

  std::string Describe() const;
};

absl::StatusOr<SessionResult> RunSession(const SessionOptions& options);

// km (held by --debug-wait) and an agent listening on a free port, for tests that speak the
// protocol themselves.
struct Running {
  Running(Child km, Child agent, int port, std::string socket)
      : km(std::move(km)), agent(std::move(agent)), port(port), socket(std::move(socket)) {}
  Running(Running&&) = default;
  ~Running();  // removes the socket's directory

  Child km;
  Child agent;
  int port;
  std::string socket;
};
absl::StatusOr<Running> StartKmAndAgent(const std::string& engine, const std::string& payload,
                                        const std::vector<std::string>& payload_args,
                                        bool agent_once,
                                        const std::vector<std::string>& agent_args = {},
                                        const std::vector<std::string>& km_args = {},
                                        const std::string& km_binary = "");
// Another agent on the same km, e.g. to see km refuse a second controller.
absl::StatusOr<Child> StartAgent(const std::string& socket, bool once, int* port);

// The whole environment of every child these tests start (km, the agent, gdb): nothing
// inherited. Its sanitizer options keep a sanitized km's RLIMIT_CORE, which they would set to 0
// at start (disable_coredump, for their terabytes of shadow memory).
std::vector<std::string> ChildEnv();
// A child with the tests' environment, its output in TEST_TMPDIR files named after name.
absl::StatusOr<Child> StartProcess(const std::vector<std::string>& argv, absl::string_view name);
// The agent with these arguments, once it listens; *port says where.
absl::StatusOr<Child> StartAgentWithArgs(const std::vector<std::string>& args, int* port);
// gdb -batch: target_command (e.g. "target extended-remote :N"), then commands; waits for it.
struct GdbRun {
  std::string out;  // stdout then stderr
  int status = -1;
};
absl::StatusOr<GdbRun> RunGdb(const std::string& target_command,
                              const std::vector<std::string>& commands);

// The line number of the "LINE: tag" comment in a payload's source (tests/payloads/NAME.c).
int SourceLine(absl::string_view payload, absl::string_view tag);
// The same in the gdb_demo payload's source.
int DemoLine(absl::string_view tag);

// Polls until the file holds text (or the deadline passes).
bool WaitForText(const std::function<std::string()>& read, absl::string_view text,
                 absl::Duration timeout);

}  // namespace km_gdb_test
