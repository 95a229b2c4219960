// Extended remote end to end: km-gdb-agent starts km itself (`-- PAYLOAD`, or gdb's run in
// --multi), gdb runs, restarts and kills payloads with `target extended-remote`, attaches to a
// km that runs already, and no km outlives the agent. Real km, real agent, Debian's gdb.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engines.h"
#include "tests/gdb/harness.h"

namespace km_gdb_test {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

std::string Payload(absl::string_view name) {
  return km_test::Runfile(absl::StrCat("tests/payloads/bin/", name));
}

// Whether pid is a live process (a zombie has ended; only its parent's wait is missing).
bool Alive(int pid) {
  std::ifstream in(absl::StrFormat("/proc/%d/stat", pid));
  std::stringstream s;
  s << in.rdbuf();
  const std::string stat = s.str();
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return false;
  const char state = stat[paren + 2];
  return state != 'Z' && state != 'X';
}

bool GoneWithin(int pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (Alive(pid)) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

// The pids of the km processes the agent says it started, in order.
std::vector<int> LaunchedKms(const std::string& agent_err) {
  std::vector<int> pids;
  static const std::regex kStarted(R"(started km \(pid (\d+)\))");
  for (std::sregex_iterator it(agent_err.begin(), agent_err.end(), kStarted), end; it != end; ++it) {
    pids.push_back(std::stoi((*it)[1].str()));
  }
  return pids;
}

class ExtendedRemoteTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    km_test::EngineInfo engine = km_test::FindEngine(GetParam());
    if (!engine.available) GTEST_SKIP() << engine.skip_reason;
  }

  // The agent with --km and --accel for this engine, then args.
  Child StartAgent(const std::vector<std::string>& args) {
    std::vector<std::string> all = {"--port", "0", "--km", km_test::Runfile("km/km"),
                                    "--accel", GetParam()};
    all.insert(all.end(), args.begin(), args.end());
    absl::StatusOr<Child> agent = StartAgentWithArgs(all, &port_);
    EXPECT_TRUE(agent.ok()) << agent.status();
    if (!agent.ok()) std::abort();
    return *std::move(agent);
  }

  // gdb connected to the agent on port_ with `target MODE`, or with `target TARGET` when
  // target names a pipe ("remote | ...").
  GdbRun Gdb(const std::vector<std::string>& commands, absl::string_view target = "extended-remote") {
    const std::string command = absl::StrContains(target, '|')
                                    ? absl::StrCat("target ", target)
                                    : absl::StrCat("target ", target, " 127.0.0.1:", port_);
    absl::StatusOr<GdbRun> run = RunGdb(command, commands);
    EXPECT_TRUE(run.ok()) << run.status();
    return run.ok() ? *run : GdbRun{};
  }

  // A km running gdb_demo's spin loop with no debugger (and, when socket is set, a debug
  // socket but no --debug-wait).
  Child StartLoneKm(const std::string& socket) {
    std::vector<std::string> argv = {km_test::Runfile("km/km"), "--accel=" + GetParam()};
    if (!socket.empty()) argv.insert(argv.end(), {"--debug-socket", socket});
    argv.insert(argv.end(), {Payload("gdb_demo"), "spin"});
    absl::StatusOr<Child> km = StartProcess(argv, "km");
    EXPECT_TRUE(km.ok()) << km.status();
    if (!km.ok()) std::abort();
    // Until the exec, the child is this test, which the agent rightly refuses to attach to.
    const std::string exe_link = absl::StrFormat("/proc/%d/exe", km->pid());
    EXPECT_TRUE(WaitForText([&] {
      char exe[4096];
      const ssize_t n = readlink(exe_link.c_str(), exe, sizeof exe);
      return n > 0 ? std::string(exe, static_cast<size_t>(n)) : std::string();
    }, "/km", absl::Seconds(10)));
    return *std::move(km);
  }

  int port_ = 0;
};

// `km-gdb-agent -- PAYLOAD ARGS` is gdbserver's `gdbserver :N prog args`: the payload waits for
// gdb, plain `target remote` debugs it, and the agent exits with its status, reaping km.
TEST_P(ExtendedRemoteTest, AgentLaunchesThePayloadAndForwardsItsExitStatus) {
  Child agent = StartAgent({"--", Payload("hello"), "5", "two words"});
  const GdbRun gdb = Gdb({"break main", "continue", "print argc", "print argv[2]", "continue"},
                         "remote");
  const int agent_status = agent.Wait(absl::Seconds(30));
  const std::string log = agent.Err();
  SCOPED_TRACE(absl::StrCat(gdb.out, "\n--- agent ---\n", log, agent.Out()));
  EXPECT_THAT(gdb.out, ContainsRegex("Breakpoint 1, main \\(argc=3, argv=0x[0-9a-f]+\\)"));
  EXPECT_THAT(gdb.out, HasSubstr("$1 = 3"));
  EXPECT_THAT(gdb.out, HasSubstr("$2 = 0x"));
  EXPECT_THAT(gdb.out, HasSubstr("\"two words\""));
  EXPECT_THAT(gdb.out, ContainsRegex("\\[Inferior 1 \\(process [0-9]+\\) exited with code 05\\]"));
  EXPECT_EQ(agent_status, 5);
  EXPECT_THAT(agent.Out(), HasSubstr("argc=3\nargv[1]=5\nargv[2]=two words\n"));
  const std::vector<int> kms = LaunchedKms(log);
  ASSERT_THAT(kms, SizeIs(1));
  EXPECT_THAT(log, HasSubstr(absl::StrFormat("km (pid %d) exited with status 5", kms[0])));
  EXPECT_FALSE(Alive(kms[0]));
}

// The same through a pipe (gdb starts the agent): the payload's output must stay off the
// agent's stdout, which is gdb's protocol channel.
TEST_P(ExtendedRemoteTest, AgentOnStdioLaunchesThePayload) {
  const GdbRun gdb = Gdb({"break main", "continue", "print argc", "continue"},
                         absl::StrCat("remote | ", km_test::Runfile("agent/km-gdb-agent"), " --stdio --km ",
                                      km_test::Runfile("km/km"), " --accel ", GetParam(), " -- ",
                                      Payload("hello"), " 2"));
  SCOPED_TRACE(gdb.out);
  EXPECT_THAT(gdb.out, ContainsRegex("Breakpoint 1, main \\(argc=2, argv=0x[0-9a-f]+\\)"));
  EXPECT_THAT(gdb.out, HasSubstr("$1 = 2"));
  EXPECT_THAT(gdb.out, HasSubstr("argc=2\nargv[1]=2\n"));
  EXPECT_THAT(gdb.out, ContainsRegex("\\[Inferior 1 \\(process [0-9]+\\) exited with code 02\\]"));
  EXPECT_THAT(gdb.out, Not(HasSubstr("Ignoring packet error")));
}

// run, run again after the exit, kill then run: each run a fresh km with the arguments and
// environment gdb gives it, the breakpoint set before the first run hit in each.
TEST_P(ExtendedRemoteTest, RunRestartsKillsAndRunsAgain) {
  Child agent = StartAgent({"--multi"});
  const std::string hello = Payload("hello");
  const GdbRun gdb = Gdb({
      absl::StrCat("file ", hello),
      absl::StrCat("set remote exec-file ", hello),
      "break main",
      "run 3 first",
      "print argc",
      "continue",
      "set args 4 second",
      "set environment KM_TEST_VAR=from gdb",
      "run",
      "print argc",
      "kill",
      "unset environment KM_TEST_VAR",
      "run 6",
      "continue",
      "info inferiors",
  });
  kill(agent.pid(), SIGTERM);
  agent.Wait(absl::Seconds(10));
  const std::string log = agent.Err();
  const std::string out = agent.Out();
  SCOPED_TRACE(absl::StrCat(gdb.out, "\n--- agent ---\n", log, out));
  EXPECT_THAT(gdb.out, ContainsRegex("Breakpoint 1, main \\(argc=3, argv=0x[0-9a-f]+\\)"));
  EXPECT_THAT(gdb.out, HasSubstr("$1 = 3"));
  EXPECT_THAT(gdb.out, ContainsRegex("\\(process [0-9]+\\) exited with code 03\\]"));
  EXPECT_THAT(gdb.out, HasSubstr("$2 = 3"));
  EXPECT_THAT(gdb.out, ContainsRegex("\\[Inferior 1 \\(process [0-9]+\\) killed\\]"));
  EXPECT_THAT(gdb.out, ContainsRegex("Breakpoint 1, main \\(argc=2, argv=0x[0-9a-f]+\\)"));
  EXPECT_THAT(gdb.out, ContainsRegex("\\(process [0-9]+\\) exited with code 06\\]"));
  // The first run printed its arguments; the second was killed at main, before printing; the
  // third ran without the variable gdb unset.
  EXPECT_THAT(out, HasSubstr("argc=3\nargv[1]=3\nargv[2]=first\n"));
  EXPECT_THAT(out, Not(HasSubstr("second")));
  EXPECT_THAT(out, HasSubstr("argc=2\nargv[1]=6\n"));
  EXPECT_THAT(out, Not(HasSubstr("KM_TEST_VAR")));
  const std::vector<int> kms = LaunchedKms(log);
  ASSERT_THAT(kms, SizeIs(3));
  EXPECT_NE(kms[0], kms[1]);
  EXPECT_NE(kms[1], kms[2]);
  EXPECT_THAT(log, HasSubstr(absl::StrFormat("km (pid %d) exited with status 3", kms[0])));
  EXPECT_THAT(log, HasSubstr(absl::StrFormat("km (pid %d) exited with status 137", kms[1])));
  EXPECT_THAT(log, HasSubstr(absl::StrFormat("km (pid %d) exited with status 6", kms[2])));
  for (int pid : kms) EXPECT_FALSE(Alive(pid)) << pid;
}

// The environment gdb sets reaches the payload.
TEST_P(ExtendedRemoteTest, EnvironmentFromGdbReachesThePayload) {
  Child agent = StartAgent({"--multi", "--once"});
  const std::string hello = Payload("hello");
  const GdbRun gdb = Gdb({absl::StrCat("file ", hello), absl::StrCat("set remote exec-file ", hello),
                          "set environment KM_TEST_VAR=from gdb", "run 0"});
  agent.Wait(absl::Seconds(10));
  SCOPED_TRACE(absl::StrCat(gdb.out, "\n--- agent ---\n", agent.Err()));
  EXPECT_THAT(gdb.out, ContainsRegex("\\(process [0-9]+\\) exited normally\\]"));
  EXPECT_THAT(agent.Out(), HasSubstr("KM_TEST_VAR=from gdb\n"));
}

// `start` stops at main of a fresh process; `run` while it is stopped there starts over in
// another fresh one (gdb kills the first), where the breakpoint set before both is hit.
TEST_P(ExtendedRemoteTest, StartStopsAtMainAndRunStartsOver) {
  Child agent = StartAgent({"--multi", "--once"});
  const std::string demo = Payload("gdb_demo");
  const GdbRun gdb = Gdb({absl::StrCat("file ", demo), absl::StrCat("set remote exec-file ", demo),
                          "break add", "start", "run", "continue"});
  agent.Wait(absl::Seconds(10));
  const std::string log = agent.Err();
  SCOPED_TRACE(absl::StrCat(gdb.out, "\n--- agent ---\n", log));
  EXPECT_THAT(gdb.out, ContainsRegex("Temporary breakpoint 2, main \\(argc=1, argv=0x[0-9a-f]+\\) at "
                                     ".*gdb_demo.c:"));
  EXPECT_THAT(gdb.out, ContainsRegex("Breakpoint 1, add \\(a=3, b=4\\) at .*gdb_demo.c:" +
                                     std::to_string(DemoLine("add-body"))));
  EXPECT_THAT(gdb.out, ContainsRegex("exited with code 03\\]"));
  const std::vector<int> kms = LaunchedKms(log);
  ASSERT_THAT(kms, SizeIs(2));
  EXPECT_THAT(log, HasSubstr(absl::StrFormat("km (pid %d) exited with status 137", kms[0])));
  EXPECT_THAT(log, HasSubstr(absl::StrFormat("km (pid %d) exited with status 3", kms[1])));
}

// A km started with no debug socket: attach sends it SIGUSR1 (km's late attach), debugs the
// running payload in place, and detach lets it finish. Processes that are not km are refused.
TEST_P(ExtendedRemoteTest, AttachToRunningKmThroughLateAttach) {
  Child km = StartLoneKm("");
  Child agent = StartAgent({"--multi"});
  const GdbRun gdb = Gdb({
      "info os processes",
      "monitor processes",
      absl::StrCat("attach ", getpid()),
      absl::StrCat("attach ", km.pid()),
      "print keep_going",
      "info inferiors",
      "set var keep_going = 0",
      "detach",
  });
  const int km_status = km.Wait(absl::Seconds(30));
  kill(agent.pid(), SIGTERM);
  agent.Wait(absl::Seconds(10));
  SCOPED_TRACE(absl::StrCat(gdb.out, "\n--- agent ---\n", agent.Err(), "\n--- km ---\n", km.Err()));
  const std::string pid = std::to_string(km.pid());
  // Both listings name it, with the command that started it.
  EXPECT_THAT(gdb.out, ContainsRegex(absl::StrCat("\n", pid, " +[a-z0-9_]+ +.*km --accel=.*gdb_demo spin")));
  EXPECT_THAT(gdb.out, ContainsRegex(absl::StrCat("\n", pid, " +[a-z0-9_]+ +.*gdb_demo spin\n")));
  EXPECT_THAT(gdb.out, HasSubstr(absl::StrFormat("Attaching to process %d failed", getpid())));
  EXPECT_THAT(agent.Err(), HasSubstr(absl::StrFormat("process %d is not km", getpid())));
  EXPECT_THAT(gdb.out, HasSubstr("$1 = 1"));
  EXPECT_THAT(km.Err(), HasSubstr(absl::StrFormat("km: debug socket /tmp/km-%d.sock", km.pid())));
  EXPECT_THAT(gdb.out, HasSubstr(absl::StrFormat("[Inferior 1 (process %d) detached]", km.pid())));
  // The payload was not restarted: it ran on from where it was and finished once.
  EXPECT_EQ(km_status, 3);
  EXPECT_EQ(km.Out(), "total=10 counter=3 label=origin\n");
}

// A km started with --debug-socket PATH: attach finds PATH on its command line.
TEST_P(ExtendedRemoteTest, AttachToRunningKmThroughItsDebugSocket) {
  char dir[] = "/tmp/kmext-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string socket = absl::StrCat(dir, "/km.sock");
  Child km = StartLoneKm(socket);
  Child agent = StartAgent({"--multi"});
  const GdbRun gdb = Gdb({absl::StrCat("attach ", km.pid()), "print keep_going", "set var keep_going = 0",
                          "detach"});
  const int km_status = km.Wait(absl::Seconds(30));
  kill(agent.pid(), SIGTERM);
  agent.Wait(absl::Seconds(10));
  unlink(socket.c_str());
  rmdir(dir);
  SCOPED_TRACE(absl::StrCat(gdb.out, "\n--- agent ---\n", agent.Err(), "\n--- km ---\n", km.Err()));
  EXPECT_THAT(agent.Err(), HasSubstr(absl::StrCat("through ", socket)));
  EXPECT_THAT(gdb.out, HasSubstr("$1 = 1"));
  EXPECT_THAT(gdb.out, HasSubstr(absl::StrFormat("[Inferior 1 (process %d) detached]", km.pid())));
  EXPECT_EQ(km_status, 3);
  EXPECT_EQ(km.Out(), "total=10 counter=3 label=origin\n");
}

// detach from a payload the agent launched: it runs on (the agent says so), and the agent
// waits for it and exits with its status.
TEST_P(ExtendedRemoteTest, DetachLeavesTheLaunchedPayloadRunning) {
  Child agent = StartAgent({"--", Payload("gdb_demo"), "spin"});
  const GdbRun gdb = Gdb({"break bump", "continue", "print counter", "set var keep_going = 0",
                          "info inferiors", "detach"});
  const int agent_status = agent.Wait(absl::Seconds(30));
  SCOPED_TRACE(absl::StrCat(gdb.out, "\n--- agent ---\n", agent.Err()));
  const std::vector<int> kms = LaunchedKms(agent.Err());
  ASSERT_THAT(kms, SizeIs(1));
  EXPECT_THAT(gdb.out, HasSubstr("$1 = 0"));
  EXPECT_THAT(gdb.out, HasSubstr(absl::StrFormat("[Inferior 1 (process %d) detached]", kms[0])));
  EXPECT_THAT(agent.Err(), HasSubstr(absl::StrFormat("detached from km pid %d; its payload runs on", kms[0])));
  // Breakpoints gone, the payload finished on its own.
  EXPECT_THAT(agent.Out(), HasSubstr("total=10 counter=3 label=origin\n"));
  EXPECT_EQ(agent_status, 3);
  EXPECT_FALSE(Alive(kms[0]));
}

// The agent killed: its km goes too, whether the agent could clean up (SIGTERM: km reaped,
// its socket directory removed) or not (SIGKILL: km's parent-death signal).
TEST_P(ExtendedRemoteTest, NoKmOutlivesTheAgent) {
  for (int sig : {SIGTERM, SIGKILL}) {
    SCOPED_TRACE(strsignal(sig));
    Child agent = StartAgent({"--", Payload("gdb_demo"), "spin"});
    const std::vector<int> kms = LaunchedKms(agent.Err());
    ASSERT_THAT(kms, SizeIs(1));
    ASSERT_TRUE(Alive(kms[0]));
    // The socket directory, from km's command line.
    std::ifstream cmdline_file(absl::StrFormat("/proc/%d/cmdline", kms[0]));
    std::stringstream cmdline;
    cmdline << cmdline_file.rdbuf();
    std::smatch m;
    const std::string text = cmdline.str();
    ASSERT_TRUE(std::regex_search(text, m, std::regex("(/tmp/km-gdb-agent-[A-Za-z0-9]+)/km.sock")));
    const std::string dir = m[1].str();
    if (sig == SIGKILL) {
      // A payload running (gdb let it go), not just one held before its first instruction.
      const GdbRun gdb = Gdb({"break bump", "continue", "detach"});
      ASSERT_THAT(gdb.out, HasSubstr("Breakpoint 1, bump"));
      ASSERT_THAT(agent.Err(), HasSubstr("waiting for km to exit"));
    }
    kill(agent.pid(), sig);
    EXPECT_EQ(agent.Wait(absl::Seconds(10)), 128 + sig);
    EXPECT_TRUE(GoneWithin(kms[0], absl::Seconds(10))) << "km " << kms[0] << " outlived the agent";
    struct stat st;
    if (sig == SIGTERM) {
      EXPECT_NE(stat(dir.c_str(), &st), 0) << dir << " left behind";
    } else {
      // Nobody is left to remove it: neither the agent nor km ran another instruction.
      unlink(absl::StrCat(dir, "/km.sock").c_str());
      rmdir(dir.c_str());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, ExtendedRemoteTest, ::testing::Values("kvm", "tcg"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace km_gdb_test
