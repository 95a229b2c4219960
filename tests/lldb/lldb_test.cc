// Stock lldb (Debian's lldb 14, unpatched) debugs payloads in km through km-gdb-agent, as it
// would a process under lldb-server: km with --debug-wait, the agent, and `lldb --batch`
// connected with `gdb-remote PORT`, then the same commands a user types. Runs on every engine
// this machine has.
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engines.h"
#include "tests/gdb/harness.h"

namespace km_gdb_test {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kLldb[] = "/usr/bin/lldb";

struct LldbSession {
  std::string lldb_out;  // stdout then stderr
  int lldb_status = -1;
  int km_pid = 0;
  std::string km_out;
  int km_status = -1;

  std::string Describe() const {
    return absl::StrCat("lldb (status ", lldb_status, "):\n", lldb_out, "\nkm (status ", km_status,
                        "):\n", km_out);
  }
};


// lldb on a terminal, typed at as a person does: ^C reaches it as the terminal's interrupt
// character, which only an interactive lldb turns into an interrupt of the process.
class TerminalLldb {
 public:
  explicit TerminalLldb(const std::string& payload) {
    pid_ = forkpty(&fd_, nullptr, nullptr, nullptr);
    if (pid_ == 0) {
      execl(kLldb, kLldb, "--no-lldbinit", payload.c_str(), nullptr);
      _exit(127);
    }
  }
  ~TerminalLldb() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }
  bool started() const { return pid_ > 0; }

  void Type(absl::string_view keys) {
    if (write(fd_, keys.data(), keys.size()) != static_cast<ssize_t>(keys.size())) {
      ADD_FAILURE() << "could not type " << keys;
    }
  }
  // Reads until what came since the last match matches regex; false on timeout.
  bool WaitFor(const std::string& regex, absl::Duration timeout = absl::Seconds(30)) {
    const absl::Time deadline = absl::Now() + timeout;
    for (;;) {
      if (std::regex_search(out_.substr(seen_), std::regex(regex))) {
        seen_ = out_.size();
        return true;
      }
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return false;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1) <= 0) continue;
      char buf[4096];
      const ssize_t n = read(fd_, buf, sizeof buf);
      if (n <= 0) return false;
      out_.append(buf, static_cast<size_t>(n));
    }
  }
  const std::string& output() const { return out_; }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string out_;
  size_t seen_ = 0;
};

class LldbTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    km_test::EngineInfo engine = km_test::FindEngine(GetParam());
    if (!engine.available) GTEST_SKIP() << engine.skip_reason;
    ASSERT_EQ(access(kLldb, X_OK), 0) << kLldb << " is missing: tools/setup.sh installs it";
  }

  // lldb --batch stops at the first command that fails and, unless the process was detached,
  // kills it on the way out.
  LldbSession Run(const std::string& payload, const std::vector<std::string>& args,
                  const std::vector<std::string>& commands) {
    LldbSession s;
    absl::StatusOr<Running> running =
        StartKmAndAgent(GetParam(), payload, args, /*agent_once=*/true);
    if (!running.ok()) {
      ADD_FAILURE() << running.status();
      return s;
    }
    s.km_pid = running->km.pid();
    std::vector<std::string> argv = {kLldb, "--no-lldbinit", "--batch",
                                     km_test::Runfile(absl::StrCat("tests/payloads/bin/", payload)),
                                     "-o", absl::StrCat("gdb-remote 127.0.0.1:", running->port)};
    for (const std::string& c : commands) {
      argv.push_back("-o");
      argv.push_back(c);
    }
    absl::StatusOr<km_test::Child> lldb = StartProcess(argv, "lldb");
    if (!lldb.ok()) {
      ADD_FAILURE() << lldb.status();
      return s;
    }
    s.lldb_status = lldb->Wait(absl::Seconds(90));
    if (s.lldb_status < 0) lldb->Kill();
    s.lldb_out = lldb->Out() + lldb->Err();
    if (s.lldb_status < 0) absl::StrAppend(&s.lldb_out, "\n[lldb TIMED OUT and was killed]");
    s.km_status = running->km.Wait(absl::Seconds(30));
    if (s.km_status < 0) running->km.Kill();
    s.km_out = running->km.Out();
    return s;
  }
};

std::string At(absl::string_view tag) { return absl::StrCat("gdb_demo.c:", DemoLine(tag)); }

TEST_P(LldbTest, BreakBacktraceVariablesStepFinishExpressionAndDetach) {
  LldbSession s = Run("gdb_demo", {},
                      {
                          "breakpoint set --name add",
                          "continue",
                          "thread backtrace",
                          "frame variable",
                          "next",
                          "print sum",
                          "finish",
                          "print origin",
                          "expression counter = 10",
                          "register read rip",
                          "memory region $pc",
                          "memory region $rsp",
                          "memory region 0",
                          // Hit three times after the detach: it must be gone from memory.
                          "breakpoint set --name bump",
                          "process detach",
                      });
  SCOPED_TRACE(s.Describe());
  const std::string& out = s.lldb_out;
  EXPECT_THAT(out, ContainsRegex(absl::StrCat("Process ", s.km_pid, " stopped")));
  EXPECT_THAT(out, ContainsRegex("stop reason = breakpoint 1\\.1\n +frame #0: 0x[0-9a-f]+ "
                                 "gdb_demo`add\\(a=3, b=4\\) at " + At("add-body")));
  EXPECT_THAT(out, ContainsRegex("frame #1: 0x[0-9a-f]+ gdb_demo`main\\(argc=1, argv=0x[0-9a-f]+\\) at " +
                                 At("main-add")));
  EXPECT_THAT(out, HasSubstr("(int) a = 3\n(int) b = 4\n"));
  EXPECT_THAT(out, ContainsRegex("stop reason = step over\n +frame #0: .*gdb_demo`add.* at " +
                                 At("add-return")));
  EXPECT_THAT(out, HasSubstr("(int) $0 = 7"));
  EXPECT_THAT(out, ContainsRegex("stop reason = step out\nReturn value: \\(int\\) \\$1 = 7"));
  EXPECT_THAT(out, HasSubstr("(point) $2 = (x = 1, y = 2, label = \"origin\")"));
  EXPECT_THAT(out, HasSubstr("(int) $3 = 10"));
  EXPECT_THAT(out, ContainsRegex("rip = 0x[0-9a-f]+ +gdb_demo`main"));
  // The memory map comes from km: the text mapping, the stack, and the unmapped page zero.
  EXPECT_THAT(out, ContainsRegex("\\[0x[0-9a-f]+-0x[0-9a-f]+\\) r-x .*gdb_demo"));
  EXPECT_THAT(out, ContainsRegex("\\[0x[0-9a-f]+-0x0*7ffffffff000\\) rw- \\[stack\\]"));
  EXPECT_THAT(out, ContainsRegex("\\[0x0+-0x0*400000\\) ---"));
  EXPECT_THAT(out, HasSubstr(absl::StrFormat("Process %d detached", s.km_pid)));
  // The write reached the payload (10 + three bumps) and no int3 was left at bump.
  EXPECT_EQ(s.km_out, "total=20 counter=13 label=origin\n");
  EXPECT_EQ(s.km_status, 3);
}

TEST_P(LldbTest, WatchpointAndThreads) {
  LldbSession s = Run("gdb_demo", {"threads"},
                      {
                          "watchpoint set variable counter",
                          "continue",
                          "watchpoint delete 1",
                          absl::StrCat("breakpoint set --file gdb_demo.c --line ", DemoLine("worker-add")),
                          "continue",
                          "thread list",
                          "thread backtrace",
                          "process detach",
                      });
  SCOPED_TRACE(s.Describe());
  const std::string& out = s.lldb_out;
  EXPECT_THAT(out, HasSubstr("Watchpoint created: Watchpoint 1:"));
  EXPECT_THAT(out, HasSubstr("Watchpoint 1 hit:\nold value: 0\nnew value: 1"));
  // Reported after the write, in bump, as on a native Linux process.
  EXPECT_THAT(out, ContainsRegex("stop reason = watchpoint 1\n +frame #0: 0x[0-9a-f]+ gdb_demo`bump"));
  EXPECT_THAT(out, ContainsRegex("stop reason = breakpoint 1\\.1\n +frame #0: 0x[0-9a-f]+ "
                                 "gdb_demo`worker\\(arg=0x0*2\\) at " + At("worker-add")));
  // Both threads with their names, the worker selected; the main thread's id is km's pid (lldb
  // shows it in hex) and its name the payload's.
  EXPECT_THAT(out, ContainsRegex(absl::StrFormat("thread #1: tid = 0x0*%x, .*name = 'gdb_demo'\n",
                                                 s.km_pid)));
  EXPECT_THAT(out, ContainsRegex("\\* thread #2: tid = 0x[0-9a-f]+, 0x[0-9a-f]+ gdb_demo`worker.*"
                                 "name = 'gdb-worker', stop reason = breakpoint 1\\.1\n"));
  EXPECT_THAT(out, HasSubstr(absl::StrFormat("Process %d detached", s.km_pid)));
  EXPECT_EQ(s.km_out, "total=52 counter=3 label=origin\n");
  EXPECT_EQ(s.km_status, 3);
}

// A static-pie payload runs at km's load bias, which lldb learns from qOffsets.
TEST_P(LldbTest, StaticPieBreakpointsResolveAtTheLoadBias) {
  LldbSession s = Run("hello_pie", {"x", "y"},
                      {"breakpoint set --name main", "continue", "print argv[1]", "process detach"});
  SCOPED_TRACE(s.Describe());
  EXPECT_THAT(s.lldb_out, ContainsRegex("stop reason = breakpoint 1\\.1\n +frame #0: 0x0*5555[0-9a-f]+ "
                                        "hello_pie`main\\(argc=3, argv=0x[0-9a-f]+\\) at hello\\.c"));
  EXPECT_THAT(s.lldb_out, ContainsRegex("\\(char \\*\\) \\$0 = 0x[0-9a-f]+ \"x\""));
  EXPECT_EQ(s.km_out, "argc=3\nargv[1]=x\nargv[2]=y\n");
  EXPECT_EQ(s.km_status, 0);
}

TEST_P(LldbTest, KillEndsThePayload) {
  LldbSession s = Run("gdb_demo", {"spin"},
                      {"breakpoint set --name bump", "continue", "process kill"});
  SCOPED_TRACE(s.Describe());
  EXPECT_THAT(s.lldb_out, HasSubstr("stop reason = breakpoint 1.1"));
  EXPECT_THAT(s.lldb_out, ContainsRegex(absl::StrFormat("Process %d exited with status = 9 ", s.km_pid)));
  EXPECT_THAT(s.lldb_out, Not(HasSubstr("failed to send the k packet")));
  EXPECT_EQ(s.km_out, "");
  EXPECT_EQ(s.km_status, 128 + 9);
  EXPECT_EQ(s.lldb_status, 0);
}

// ^C at lldb's prompt while the payload spins stops it where it is; the user ends the loop with
// an expression and the payload finishes.
TEST_P(LldbTest, InterruptFromTheTerminalStopsARunningPayload) {
  absl::StatusOr<Running> running = StartKmAndAgent(GetParam(), "gdb_demo", {"spin"}, true);
  ASSERT_TRUE(running.ok()) << running.status();
  TerminalLldb lldb(km_test::Runfile("tests/payloads/bin/gdb_demo"));
  ASSERT_TRUE(lldb.started());
  lldb.Type(absl::StrCat("gdb-remote 127.0.0.1:", running->port, "\n"));
  ASSERT_TRUE(lldb.WaitFor("stop reason = signal SIGTRAP")) << lldb.output();
  lldb.Type("continue\n");
  ASSERT_TRUE(lldb.WaitFor("resuming")) << lldb.output();
  absl::SleepFor(absl::Milliseconds(300));  // well inside the spin loop
  lldb.Type("\x03");
  ASSERT_TRUE(lldb.WaitFor("stop reason = signal SIGINT\\s+frame #0: 0x[0-9a-f]+ gdb_demo`main.* at " +
                           At("spin")))
      << lldb.output();
  lldb.Type("expression keep_going = 0\n");
  ASSERT_TRUE(lldb.WaitFor("\\$0 = 0")) << lldb.output();
  lldb.Type("continue\n");
  EXPECT_TRUE(lldb.WaitFor(absl::StrFormat("Process %d exited with status = 3", running->km.pid())))
      << lldb.output();
  EXPECT_EQ(running->km.Wait(absl::Seconds(30)), 3);
  EXPECT_EQ(running->km.Out(), "total=10 counter=3 label=origin\n");
}

INSTANTIATE_TEST_SUITE_P(Engines, LldbTest, ::testing::Values("kvm", "tcg"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace km_gdb_test
