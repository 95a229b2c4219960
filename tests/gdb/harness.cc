#include "tests/gdb/harness.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "tests/engines.h"

namespace km_gdb_test {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}


std::string TmpDir() {
  const char* dir = getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

int NextId() {
  static std::atomic<int> id{0};
  return ++id;
}

std::string OutputPath(int id, absl::string_view name) {
  return absl::StrFormat("%s/s%d-%s", TmpDir(), id, name);
}

std::vector<std::string> GdbArgv(const std::string& target, const std::vector<std::string>& commands) {
  // -nx: no init files; pagination and confirmation would stall a batch run.
  std::vector<std::string> argv = {"/usr/bin/gdb", "-batch", "-nx", "-iex", "set pagination off",
                                   "-iex", "set confirm off", "-iex", "set width 0",
                                   // The payload's debug info names its source relative to the
                                   // build's root; the runfiles tree has it there.
                                   "-iex", absl::StrCat("directory ", km_test::Runfile("")),
                                   "-ex", target};
  for (const std::string& c : commands) {
    argv.push_back("-ex");
    argv.push_back(c);
  }
  return argv;
}

}  // namespace


bool WaitForText(const std::function<std::string()>& read, absl::string_view text,
                 absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (absl::StrContains(read(), text)) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

std::string SessionResult::Describe() const {
  return absl::StrFormat(
      "--- gdb (status %d) ---\n%s\n--- second gdb ---\n%s\n--- km (pid %d, status %d) stdout "
      "---\n%s\n--- km stderr ---\n%s\n--- agent stderr ---\n%s",
      gdb_status, gdb_out, second_gdb_out, km_pid, km_status, km_out, km_err, agent_err) +
         hang_dump;
}

namespace {

// A unix socket path must fit in 108 bytes, and TEST_TMPDIR is too long for one. pids do not
// tell concurrent test runs apart (each sandbox has its own pid namespace, /tmp is shared), so
// each socket gets a fresh directory of its own.
absl::StatusOr<std::string> NewSocketPath() {
  char dir[] = "/tmp/kmgdb-XXXXXX";
  if (mkdtemp(dir) == nullptr) return absl::InternalError(absl::StrCat("mkdtemp: ", strerror(errno)));
  return absl::StrCat(dir, "/km.sock");
}

void RemoveSocket(const std::string& socket) {
  // A test may have put a directory in the socket's place.
  if (unlink(socket.c_str()) != 0) rmdir(socket.c_str());
  rmdir(socket.substr(0, socket.rfind('/')).c_str());
}

absl::StatusOr<Child> StartKm(const std::string& engine, const std::string& payload,
                              const std::vector<std::string>& payload_args,
                              const std::string& socket, int id,
                              const std::vector<std::string>& km_args,
                              const std::string& km_binary) {
  std::vector<std::string> argv = {km_binary.empty() ? km_test::Runfile("km/km") : km_binary,
                                   "--accel=" + engine,
                                   "--debug-socket", socket, "--debug-wait"};
  argv.insert(argv.end(), km_args.begin(), km_args.end());
  argv.push_back(km_test::Runfile("tests/payloads/bin/" + payload));
  argv.insert(argv.end(), payload_args.begin(), payload_args.end());
  absl::StatusOr<Child> km = Child::Start(argv, ChildEnv(), OutputPath(id, "km.out"),
                                          OutputPath(id, "km.err"));
  if (!km.ok()) return km.status();
  struct stat st;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (stat(socket.c_str(), &st) != 0) {
    if (km->Wait(absl::ZeroDuration()) >= 0 || absl::Now() > deadline) {
      return absl::InternalError(absl::StrCat("km never opened ", socket, ": ", km->Err()));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return km;
}

}  // namespace

std::vector<std::string> ChildEnv() {
  return {absl::StrCat("HOME=", TmpDir()), "PATH=/usr/bin:/bin", "LANG=C", "TERM=dumb",
          "ASAN_OPTIONS=detect_leaks=0:disable_coredump=0", "TSAN_OPTIONS=disable_coredump=0"};
}

Running::~Running() {
  if (!socket.empty()) RemoveSocket(socket);
}

absl::StatusOr<Child> StartProcess(const std::vector<std::string>& argv, absl::string_view name) {
  const int id = NextId();
  return Child::Start(argv, ChildEnv(), OutputPath(id, absl::StrCat(name, ".out")),
                      OutputPath(id, absl::StrCat(name, ".err")));
}

absl::StatusOr<GdbRun> RunGdb(const std::string& target_command,
                              const std::vector<std::string>& commands) {
  absl::StatusOr<Child> gdb = StartProcess(GdbArgv(target_command, commands), "gdb");
  if (!gdb.ok()) return gdb.status();
  GdbRun run;
  run.status = gdb->Wait(absl::Seconds(90));
  if (run.status < 0) gdb->Kill();
  run.out = gdb->Out() + gdb->Err();
  if (run.status < 0) absl::StrAppend(&run.out, "\n[gdb TIMED OUT and was killed]");
  return run;
}

absl::StatusOr<Child> StartAgent(const std::string& socket, bool once, int* port) {
  std::vector<std::string> args = {"--debug-socket", socket, "--port", "0"};
  if (once) args.push_back("--once");
  return StartAgentWithArgs(args, port);
}

absl::StatusOr<Child> StartAgentWithArgs(const std::vector<std::string>& args, int* port) {
  std::vector<std::string> argv = {km_test::Runfile("agent/km-gdb-agent")};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<Child> agent = StartProcess(argv, "agent");
  if (!agent.ok()) return agent.status();
  if (!WaitForText([&] { return agent->Err(); }, "listening on", absl::Seconds(10))) {
    return absl::InternalError(absl::StrCat("the agent did not start: ", agent->Err()));
  }
  std::smatch m;
  const std::string err = agent->Err();
  if (!std::regex_search(err, m, std::regex(R"(listening on [^:]+:(\d+))"))) {
    return absl::InternalError(absl::StrCat("no port in the agent's output: ", err));
  }
  *port = std::stoi(m[1].str());
  return agent;
}

absl::StatusOr<Running> StartKmAndAgent(const std::string& engine, const std::string& payload,
                                        const std::vector<std::string>& payload_args,
                                        bool agent_once,
                                        const std::vector<std::string>& agent_args,
                                        const std::vector<std::string>& km_args,
                                        const std::string& km_binary) {
  const int id = NextId();
  // A unix socket path must fit in 108 bytes; TEST_TMPDIR is too long.
  absl::StatusOr<std::string> socket_or = NewSocketPath();
  if (!socket_or.ok()) return socket_or.status();
  const std::string socket = *socket_or;
  absl::StatusOr<Child> km =
      StartKm(engine, payload, payload_args, socket, id, km_args, km_binary);
  if (!km.ok()) return km.status();
  int port = 0;
  std::vector<std::string> args = {"--debug-socket", socket, "--port", "0"};
  if (agent_once) args.push_back("--once");
  args.insert(args.end(), agent_args.begin(), agent_args.end());
  absl::StatusOr<Child> agent = StartAgentWithArgs(args, &port);
  if (!agent.ok()) return agent.status();
  return Running(*std::move(km), *std::move(agent), port, socket);
}

absl::StatusOr<SessionResult> RunSession(const SessionOptions& options) {
  const int id = NextId();
  SessionResult result;
  std::optional<Running> running;
  std::optional<Child> stdio_km;
  std::string socket, target;
  if (options.stdio) {
    absl::StatusOr<std::string> socket_or = NewSocketPath();
    if (!socket_or.ok()) return socket_or.status();
    socket = *socket_or;
    absl::StatusOr<Child> km =
        StartKm(options.engine, options.payload, options.payload_args, socket, id, options.km_args,
                options.km_binary);
    if (!km.ok()) return km.status();
    stdio_km.emplace(*std::move(km));
    target = absl::StrCat("target remote | ", km_test::Runfile("agent/km-gdb-agent"),
                          " --stdio --debug-socket ", socket);
  } else {
    absl::StatusOr<Running> r = StartKmAndAgent(options.engine, options.payload, options.payload_args,
                                                /*agent_once=*/options.second_gdb_commands.empty(),
                                                options.agent_args, options.km_args, options.km_binary);
    if (!r.ok()) return r.status();
    running.emplace(*std::move(r));
    socket = running->socket;
    target = absl::StrCat("target remote 127.0.0.1:", running->port);
  }
  Child& km = options.stdio ? *stdio_km : running->km;
  result.km_pid = km.pid();

  {
    // gdb's `shell` commands may name the socket.
    std::vector<std::string> gdb_env = ChildEnv();
    gdb_env.push_back(absl::StrCat("KM_SOCKET=", socket));
    absl::StatusOr<Child> gdb = Child::Start(GdbArgv(target, options.gdb_commands), gdb_env,
                                             OutputPath(id, "gdb.out"), OutputPath(id, "gdb.err"));
    if (!gdb.ok()) return gdb.status();
    if (options.during_gdb) options.during_gdb(*gdb, km);
    result.gdb_status = gdb->Wait(absl::Seconds(45));
    if (result.gdb_status < 0) {
      // Which of the three hung shows in km's and the agent's threads.
      result.hang_dump = absl::StrCat("--- km's host threads ---\n", km_test::HostThreadsOf(km.pid()));
      if (running) {
        absl::StrAppend(&result.hang_dump, "--- the agent's host threads ---\n",
                        km_test::HostThreadsOf(running->agent.pid()));
      }
      gdb->Kill();
    }
    result.gdb_out = gdb->Out() + gdb->Err();
    if (result.gdb_status < 0) absl::StrAppend(&result.gdb_out, "\n[gdb TIMED OUT and was killed]");
  }
  if (!options.second_gdb_commands.empty()) {
    absl::StatusOr<Child> gdb = Child::Start(GdbArgv(target, options.second_gdb_commands), ChildEnv(),
                                             OutputPath(id, "gdb2.out"), OutputPath(id, "gdb2.err"));
    if (!gdb.ok()) return gdb.status();
    if (gdb->Wait(absl::Seconds(45)) < 0) gdb->Kill();
    result.second_gdb_out = gdb->Out() + gdb->Err();
  }

  result.km_status = km.Wait(absl::Seconds(20));
  if (result.km_status < 0) km.Kill();
  if (running) {
    if (running->agent.Wait(absl::Seconds(5)) < 0) running->agent.Kill();
    result.agent_err = running->agent.Err();
  }
  result.km_out = km.Out();
  result.km_err = km.Err();
  RemoveSocket(socket);
  return result;
}

int DemoLine(absl::string_view tag) { return SourceLine("gdb_demo", tag); }

int SourceLine(absl::string_view payload, absl::string_view tag) {
  const std::string source =
      ReadFile(km_test::Runfile(absl::StrCat("tests/payloads/", payload, ".c")));
  int line = 0;
  for (absl::string_view text : absl::StrSplit(source, '\n')) {
    ++line;
    if (text.find(absl::StrCat("LINE: ", tag)) != absl::string_view::npos) {
      // The tag must end the comment: "add-body" must not match "add-body-2".
      const size_t end = text.find(absl::StrCat("LINE: ", tag)) + 6 + tag.size();
      if (end == text.size()) return line;
    }
  }
  return -1;
}

}  // namespace km_gdb_test
