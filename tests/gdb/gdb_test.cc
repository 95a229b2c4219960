// Stock gdb (Debian's, unpatched) debugs payloads in km through km-gdb-agent: each test runs km
// with --debug-wait, the agent and `gdb -batch` with a command script, and checks what gdb
// printed against what gdb prints for a native process. Runs on every engine this machine has.
#include <signal.h>

#include <filesystem>
#include <regex>

#include "absl/strings/match.h"
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

std::string At(absl::string_view tag) { return absl::StrCat("gdb_demo.c:", DemoLine(tag)); }

class GdbTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    km_test::EngineInfo engine = km_test::FindEngine(GetParam());
    if (!engine.available) GTEST_SKIP() << engine.skip_reason;
  }

  SessionResult Run(SessionOptions options) {
    options.engine = GetParam();
    absl::StatusOr<SessionResult> r = RunSession(options);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : SessionResult{};
  }
};

TEST_P(GdbTest, BreakContinueBacktraceLocalsStepNextFinish) {
  SessionResult r = Run({.gdb_commands = {
                             "break add",
                             "continue",
                             "backtrace",
                             "info args",
                             "next",
                             "print sum",
                             "finish",
                             "print p",
                             "print origin",
                             "print origin.label",
                             "next",
                             "step",
                             "info registers rip",
                             absl::StrCat("tbreak ", At("after-loop")),
                             "continue",
                             "print counter",
                             "set var counter = 10",
                             "info registers",
                             "x/i $pc",
                             "continue",
                         }});
  const std::string& out = r.gdb_out;
  SCOPED_TRACE(r.Describe());
  // Symbols came through vFile from the target: no local file was named.
  EXPECT_THAT(out, HasSubstr("from remote target"));
  EXPECT_THAT(out, ContainsRegex("Breakpoint 1 at 0x[0-9a-f]+: file .*gdb_demo.c, line " +
                                 std::to_string(DemoLine("add-body"))));
  EXPECT_THAT(out, ContainsRegex("Breakpoint 1, add \\(a=3, b=4\\) at .*" + At("add-body")));
  EXPECT_THAT(out, ContainsRegex("#0  add \\(a=3, b=4\\) at .*gdb_demo.c"));
  EXPECT_THAT(out, ContainsRegex("#1  0x[0-9a-f]+ in main \\(argc=1, argv=0x[0-9a-f]+\\) at"));
  EXPECT_THAT(out, HasSubstr("a = 3\nb = 4\n"));
  EXPECT_THAT(out, ContainsRegex(absl::StrCat(DemoLine("add-return"), "\\s+return sum;")));
  EXPECT_THAT(out, HasSubstr("$1 = 7"));
  EXPECT_THAT(out, HasSubstr("Value returned is $2 = 7"));
  EXPECT_THAT(out, ContainsRegex("\\$3 = \\{x = 3, y = 4, label = 0x[0-9a-f]+ \"p\"\\}"));
  EXPECT_THAT(out, ContainsRegex("\\$4 = \\{x = 1, y = 2, label = 0x[0-9a-f]+ \"origin\"\\}"));
  EXPECT_THAT(out, ContainsRegex("\\$5 = 0x[0-9a-f]+ \"origin\""));
  EXPECT_THAT(out, ContainsRegex("bump \\(\\) at .*" + At("bump")));
  EXPECT_THAT(out, ContainsRegex("rip +0x[0-9a-f]+ +0x[0-9a-f]+ <bump\\+[0-9]+>"));
  EXPECT_THAT(out, ContainsRegex("Temporary breakpoint 2, main \\(argc=1, argv=0x[0-9a-f]+\\) at .*" +
                                 At("after-loop")));
  EXPECT_THAT(out, HasSubstr("$6 = 3"));
  EXPECT_THAT(out, ContainsRegex("rax +0x[0-9a-f]+"));
  EXPECT_THAT(out, ContainsRegex("eflags +0x[0-9a-f]+ +\\["));
  EXPECT_THAT(out, ContainsRegex("=> 0x[0-9a-f]+ <main\\+[0-9]+>:"));
  EXPECT_THAT(out, HasSubstr(absl::StrFormat("[Inferior 1 (process %d) exited with code 03]", r.km_pid)));
  // The write to counter reached the payload: 7 + 10.
  EXPECT_EQ(r.km_out, "total=17 counter=10 label=origin\n");
  EXPECT_EQ(r.km_status, 3);
}

TEST_P(GdbTest, StepiNextiUntilDisplayAndAllRegisters) {
  SessionResult r = Run({.gdb_commands = {
                             "break main",
                             "continue",
                             "display counter",
                             "stepi",
                             "nexti",
                             absl::StrCat("until ", DemoLine("after-loop")),
                             "info all-registers",
                             "p $xmm0",
                             "p $mxcsr",
                             "p $st0",
                             "p/x $fs_base",
                             "kill",
                         }});
  SCOPED_TRACE(r.Describe());
  const std::string& out = r.gdb_out;
  EXPECT_THAT(out, HasSubstr("1: counter = 0"));
  EXPECT_THAT(out, ContainsRegex("0x[0-9a-f]+\t[0-9]+\t"));  // stepi mid-line shows the address
  EXPECT_THAT(out, ContainsRegex(absl::StrCat("main \\(.*\\) at .*", At("after-loop"), "|",
                                              DemoLine("after-loop"), "\\s+total \\+= counter;")));
  EXPECT_THAT(out, HasSubstr("1: counter = 3"));
  for (const char* reg : {"st0", "fctrl", "xmm15", "mxcsr"}) {
    EXPECT_THAT(out, ContainsRegex(absl::StrCat("\n", reg, " +"))) << reg;
  }
  EXPECT_THAT(out, HasSubstr("v4_int32 = {"));
  EXPECT_THAT(out, HasSubstr("[ IM DM ZM OM UM PM ]"));
  EXPECT_THAT(out, ContainsRegex("\\$4 = 0x[0-9a-f]{4,}"));  // fs_base: musl's TLS block
  EXPECT_THAT(out, HasSubstr(absl::StrFormat("[Inferior 1 (process %d) killed]", r.km_pid)));
  EXPECT_THAT(r.km_out, Not(HasSubstr("total=")));
}

TEST_P(GdbTest, ConditionalBreakpointFramesAndVectorRegisters) {
  const bool avx = GetParam() == "kvm";  // km's tcg engine has no AVX
  SessionResult r = Run({.gdb_commands = {
                             "break bump if counter == 2",
                             "continue",
                             "print counter",
                             "up",
                             "info locals",
                             "frame 0",
                             "print $pc == &bump || $pc > (long)&bump",
                             avx ? "p $ymm0.v8_int32" : "p $xmm0.v4_int32",
                             "delete",
                             "continue",
                         }});
  SCOPED_TRACE(r.Describe());
  const std::string& out = r.gdb_out;
  EXPECT_THAT(out, ContainsRegex("Breakpoint 1, bump \\(\\) at .*" + At("bump")));
  EXPECT_THAT(out, HasSubstr("$1 = 2"));
  EXPECT_THAT(out, ContainsRegex("#1  0x[0-9a-f]+ in main \\(argc=1, argv=0x[0-9a-f]+\\) at"));
  EXPECT_THAT(out, ContainsRegex("p = \\{x = 3, y = 4, label = 0x[0-9a-f]+ \"p\"\\}"));
  EXPECT_THAT(out, HasSubstr("total = 7"));
  EXPECT_THAT(out, ContainsRegex("#0  bump \\(\\) at .*" + At("bump")));
  EXPECT_THAT(out, HasSubstr("$2 = 1"));
  EXPECT_THAT(out, ContainsRegex(avx ? "\\$3 = \\{-?[0-9]+, .*\\}" : "\\$3 = \\{-?[0-9]+, -?[0-9]+, -?[0-9]+, -?[0-9]+\\}"));
  EXPECT_THAT(out, HasSubstr(absl::StrFormat("[Inferior 1 (process %d) exited with code 03]", r.km_pid)));
  EXPECT_EQ(r.km_out, "total=10 counter=3 label=origin\n");
}

TEST_P(GdbTest, HardwareBreakpointAndWatchpoints) {
  SessionResult r = Run({.gdb_commands = {
                             "hbreak bump",
                             "continue",
                             "delete",
                             "watch counter",
                             "continue",
                             "continue",
                             "delete",
                             "rwatch limit",
                             "continue",
                             "delete",
                             "awatch counter",
                             "continue",
                             "delete",
                             "continue",
                         }});
  SCOPED_TRACE(r.Describe());
  const std::string& out = r.gdb_out;
  EXPECT_THAT(out, HasSubstr("Hardware assisted breakpoint 1 at"));
  EXPECT_THAT(out, ContainsRegex("Breakpoint 1, bump \\(\\) at .*" + At("bump")));
  EXPECT_THAT(out, HasSubstr("Hardware watchpoint 2: counter\n\nOld value = 0\nNew value = 1\n"));
  EXPECT_THAT(out, HasSubstr("Hardware watchpoint 2: counter\n\nOld value = 1\nNew value = 2\n"));
  EXPECT_THAT(out, ContainsRegex("Hardware read watchpoint 3: limit\n\nValue = 3\n"));
  EXPECT_THAT(out, ContainsRegex("Hardware access \\(read/write\\) watchpoint 4: counter\n\nValue = 2\n"));
  EXPECT_THAT(out, HasSubstr(absl::StrFormat("[Inferior 1 (process %d) exited with code 03]", r.km_pid)));
  EXPECT_EQ(r.km_out, "total=10 counter=3 label=origin\n");
}

TEST_P(GdbTest, ThreadsAreListedNamedAndStopInTheirOwnThread) {
  SessionResult r = Run({.payload_args = {"threads"},
                         .gdb_commands = {
                             absl::StrCat("break ", At("worker-add")),
                             "continue",
                             "info threads",
                             "thread apply all bt",
                             "thread 1",
                             "continue",
                         }});
  SCOPED_TRACE(r.Describe());
  const std::string& out = r.gdb_out;
  EXPECT_THAT(out, ContainsRegex("\\[New Thread [0-9]+\\.[0-9]+\\]"));
  EXPECT_THAT(out, ContainsRegex("Thread 2 \"gdb-worker\" hit Breakpoint 1, worker \\(arg=0x2\\) at .*" +
                                 At("worker-add")));
  EXPECT_THAT(out, ContainsRegex("\\* 2 +Thread [0-9]+\\.[0-9]+ \"gdb-worker\" worker \\(arg=0x2\\)"));
  // The main thread's name is whatever km's host thread is called: not checked.
  EXPECT_THAT(out, ContainsRegex(absl::StrFormat("  1 +Thread %d\\.%d \"", r.km_pid, r.km_pid)));
  EXPECT_THAT(out, ContainsRegex("Thread 2 \\(Thread [0-9.]+ \"gdb-worker\"\\):\n#0  worker"));
  EXPECT_THAT(out, ContainsRegex("Thread 1 \\(Thread [0-9.]+ \"[^\"]*\"\\):\n#0 "));
  EXPECT_THAT(out, HasSubstr("[Switching to thread 1 (Thread"));
  EXPECT_THAT(out, HasSubstr(absl::StrFormat("[Inferior 1 (process %d) exited with code 03]", r.km_pid)));
  EXPECT_EQ(r.km_out, "total=52 counter=3 label=origin\n");
}

TEST_P(GdbTest, CtrlCStopsARunningPayloadAndContinueGoesOn) {
  SessionOptions options{.payload_args = {"spin"},
                         .gdb_commands = {
                             "echo RESUMING\\n",
                             "continue",
                             "print keep_going",
                             "set var keep_going = 0",
                             "continue",
                         }};
  options.during_gdb = [](Child& gdb, Child&) {
    // What a terminal's ^C does: SIGINT to gdb, which interrupts the remote target. A batch
    // gdb prints no "Continuing.", so the echo before `continue` marks the moment.
    WaitForText([&] { return gdb.Out(); }, "RESUMING", absl::Seconds(20));
    absl::SleepFor(absl::Seconds(1));
    kill(gdb.pid(), SIGINT);
  };
  SessionResult r = Run(options);
  SCOPED_TRACE(r.Describe());
  const std::string& out = r.gdb_out;
  EXPECT_THAT(out, HasSubstr("Program received signal SIGINT, Interrupt."));
  EXPECT_THAT(out, HasSubstr("$1 = 1"));
  EXPECT_THAT(out, HasSubstr(absl::StrFormat("[Inferior 1 (process %d) exited with code 03]", r.km_pid)));
  EXPECT_EQ(r.km_out, "total=10 counter=3 label=origin\n");
}

// Signals sent to km from outside (kill -TERM, ^C in km's terminal) stop the payload in gdb as
// they would stop a native process, and once passed run its handlers: SIGTERM cuts the read it
// is blocked in short.
TEST_P(GdbTest, SignalsSentToKmStopInGdbAndReachTheHandlers) {
  SessionOptions options{.payload = "interrupts",
                         .payload_args = {"wait"},
                         .gdb_commands = {
                             "handle SIGINT stop print pass",
                             "echo RESUMING\\n",
                             "continue",
                             "handle SIGTERM nostop noprint pass",
                             "continue",
                             "continue",
                         }};
  options.during_gdb = [](Child& gdb, Child& km) {
    WaitForText([&] { return km.Out(); }, "ready\n", absl::Seconds(20));
    // One sent before the payload blocks in its read only sets its flag: send until the read
    // was cut short (gdb passes the later ones silently).
    for (int i = 0; i < 200 && !absl::StrContains(km.Out(), "SIGTERM cut a read short"); i++) {
      kill(km.pid(), SIGTERM);
      absl::SleepFor(absl::Milliseconds(100));
    }
    for (int i = 0; i < 10 && !absl::StrContains(gdb.Out(), "SIGINT"); i++) {
      kill(km.pid(), SIGINT);
      WaitForText([&] { return gdb.Out(); }, "SIGINT", absl::Seconds(3));
    }
  };
  SessionResult r = Run(options);
  SCOPED_TRACE(r.Describe());
  const std::string& out = r.gdb_out;
  EXPECT_THAT(out, HasSubstr("Program received signal SIGTERM, Terminated."));
  EXPECT_THAT(out, HasSubstr("Program received signal SIGINT, Interrupt."));
  EXPECT_THAT(out, HasSubstr(absl::StrFormat("[Inferior 1 (process %d) exited normally]", r.km_pid)));
  EXPECT_EQ(r.km_out, "ready\nSIGTERM cut a read short\nSIGINT handled\n");
  EXPECT_EQ(r.km_status, 0);
}

TEST_P(GdbTest, SegfaultIsReportedAtTheFaultingLineAndEndsThePayload) {
  SessionResult r = Run({.payload_args = {"segv"}, .gdb_commands = {"continue", "continue"}});
  SCOPED_TRACE(r.Describe());
  const std::string& out = r.gdb_out;
  EXPECT_THAT(out, HasSubstr("Program received signal SIGSEGV, Segmentation fault."));
  EXPECT_THAT(out, ContainsRegex(absl::StrCat("main \\(argc=2, argv=0x[0-9a-f]+\\) at .*", At("segv"),
                                              "\n", DemoLine("segv"), "\\s+\\*bad = total;")));
  EXPECT_THAT(out, HasSubstr("Program terminated with signal SIGSEGV, Segmentation fault."));
  EXPECT_EQ(r.km_status, 128 + SIGSEGV);
}

TEST_P(GdbTest, DetachLetsThePayloadFinish) {
  SessionResult r = Run({.gdb_commands = {"break add", "continue", "detach"}});
  SCOPED_TRACE(r.Describe());
  EXPECT_THAT(r.gdb_out, HasSubstr(absl::StrFormat("[Inferior 1 (process %d) detached]", r.km_pid)));
  EXPECT_EQ(r.km_out, "total=10 counter=3 label=origin\n");
  EXPECT_EQ(r.km_status, 3);
}

// A signal sent to km stops the payload in gdb; at the detach after it, km delivers it only if
// gdb would pass it (QProgramSignals), as gdbserver does: `handle SIGUSR2 nopass` keeps it
// from the payload, `pass` (gdb's default) lets it end it. (SIGUSR1 to km is late attach's.)
TEST_P(GdbTest, DetachDeliversTheSignalAThreadStoppedWithOnlyIfGdbPassesIt) {
  auto session = [&](const char* pass) {
    SessionOptions options{.payload_args = {"spin"},
                           .gdb_commands = {absl::StrCat("handle SIGUSR2 stop print ", pass),
                                            "continue", "set var keep_going = 0", "detach"}};
    options.during_gdb = [](Child& gdb, Child& km) {
      // Once: a second one would wait in km and reach the payload after the detach. km blocks
      // the signals it forwards from its start, so even an early one is not lost.
      kill(km.pid(), SIGUSR2);
      WaitForText([&] { return gdb.Out(); }, "SIGUSR2, User defined", absl::Seconds(60));
    };
    return Run(options);
  };
  SessionResult kept = session("nopass");
  SessionResult passed = session("pass");
  SCOPED_TRACE(kept.Describe());
  SCOPED_TRACE(passed.Describe());
  for (const SessionResult* r : {&kept, &passed}) {
    EXPECT_THAT(r->gdb_out, HasSubstr("Program received signal SIGUSR2, User defined signal 2."));
    EXPECT_THAT(r->gdb_out,
                HasSubstr(absl::StrFormat("[Inferior 1 (process %d) detached]", r->km_pid)));
  }
  EXPECT_EQ(kept.km_out, "total=10 counter=3 label=origin\n");
  EXPECT_EQ(kept.km_status, 3);
  EXPECT_EQ(passed.km_status, 128 + SIGUSR2);
}

// gdb follows the parent of a fork (km offers no fork events); the children run without the
// debugger's int3s, as gdb's detach-on-fork leaves a native child. Without that, each child
// would die of SIGTRAP at _exit and the parent would reap different statuses.
TEST_P(GdbTest, ChildrenOfADebuggedPayloadRunWithoutItsBreakpoints) {
  if (GetParam() == "kvm") GTEST_SKIP() << "kvm: skipped: the kvm engine cannot fork yet";
  SessionResult r = Run({.payload = "spawn",
                         .payload_args = {"/nonexistent/program"},
                         .gdb_commands = {"break _exit", "break ManyChildren", "continue",
                                          "continue"}});
  SCOPED_TRACE(r.Describe());
  EXPECT_THAT(r.gdb_out, HasSubstr("Breakpoint 2, "));
  EXPECT_THAT(r.gdb_out, HasSubstr("ManyChildren ()"));
  EXPECT_THAT(r.gdb_out, Not(HasSubstr("Breakpoint 1, ")));
  // Each child is told on gdb's console, as gdb tells of a native child it does not follow.
  EXPECT_THAT(r.gdb_out, ContainsRegex("\\[km: child process [0-9]+ runs without the debugger "
                                       "\\(fork\\)\\]"));
  EXPECT_THAT(r.gdb_out, ContainsRegex("\\[km: child process [0-9]+ runs without the debugger "
                                       "\\(vfork\\)\\]"));
  EXPECT_THAT(r.gdb_out, HasSubstr(absl::StrFormat("[Inferior 1 (process %d) exited with code 01]",
                                                   r.km_pid)));
  EXPECT_THAT(r.km_out, HasSubstr("fork: read 22 \"child sees 2, is not 0\"; reaped the child: 1; "
                                  "exited 1 with 7; parent still sees 1\n"));
  EXPECT_THAT(r.km_out, HasSubstr("wait: reaped 5 children, statuses summing to 60, then ECHILD"));
  EXPECT_THAT(r.km_out, HasSubstr("vfork: exec of a missing program: child exited 1 with 127"));
  EXPECT_EQ(r.km_status, 1);
}

// An execve under gdb is followed as gdb follows a native one: gdb is told the process runs a
// new program (km execs itself; the agent follows into the next km on the same socket), loads
// its symbols and sets its breakpoints again there. Without the exec stop gdb saw the
// payload "killed" by SIGKILL as km went away.
TEST_P(GdbTest, BreakpointsFollowThePayloadIntoTheProgramItExecs) {
  const std::string hello = km_test::Runfile("tests/payloads/bin/hello");
  SessionResult r = Run({.payload = "spawn",
                         .payload_args = {"--exec-only", hello},
                         .gdb_commands = {"break main", "continue", "continue", "info args",
                                          "print argv[0]", "continue"}});
  SCOPED_TRACE(r.Describe());
  EXPECT_THAT(r.gdb_out, HasSubstr("main (argc=3, argv="));
  EXPECT_THAT(r.gdb_out, HasSubstr("spawn.c:"));
  EXPECT_THAT(r.gdb_out,
              HasSubstr(absl::StrFormat("process %d is executing new program: %s", r.km_pid, hello)));
  EXPECT_THAT(r.gdb_out, HasSubstr("at tests/payloads/hello.c:"));
  EXPECT_THAT(r.gdb_out, HasSubstr("argc = 3\n"));
  EXPECT_THAT(r.gdb_out, HasSubstr("\"renamed\""));
  EXPECT_THAT(r.gdb_out, HasSubstr(absl::StrFormat("[Inferior 1 (process %d) exited with code 011]",
                                                   r.km_pid)));
  EXPECT_THAT(r.gdb_out, Not(HasSubstr("SIGKILL")));
  EXPECT_THAT(r.km_out, HasSubstr("argv[2]=replaced\nKM_TEST_VAR=through execve"));
  EXPECT_EQ(r.km_status, 9);
}

// `catch exec` stops at the new program's first instruction, which runs and steps from there;
// the inferior is the new program.
TEST_P(GdbTest, CatchExecStopsAtTheNewProgramsFirstInstruction) {
  const std::string hello = km_test::Runfile("tests/payloads/bin/hello");
  SessionResult r = Run({.payload = "spawn",
                         .payload_args = {"--exec-only", hello},
                         .gdb_commands = {"catch exec", "continue", "x/i $pc", "info inferiors",
                                          "info threads", "stepi", "x/i $pc", "continue"}});
  SCOPED_TRACE(r.Describe());
  EXPECT_THAT(r.gdb_out, HasSubstr(absl::StrFormat("Catchpoint 1 (exec'd %s), ", hello)));
  EXPECT_THAT(r.gdb_out, ContainsRegex("=> 0x[0-9a-f]+ <_start>:"));
  EXPECT_THAT(r.gdb_out, ContainsRegex(absl::StrFormat("process %d +1 \\(remote [^)]*\\) +target:%s",
                                                       r.km_pid, hello)));
  EXPECT_THAT(r.gdb_out, ContainsRegex(absl::StrFormat("\\* 1 +Thread %d\\.%d ", r.km_pid, r.km_pid)));
  // xor %rbp,%rbp is 3 bytes.
  EXPECT_THAT(r.gdb_out, ContainsRegex("=> 0x[0-9a-f]+ <_start\\+3>:"));
  EXPECT_THAT(r.gdb_out, HasSubstr(absl::StrFormat("[Inferior 1 (process %d) exited with code 011]",
                                                   r.km_pid)));
  EXPECT_EQ(r.km_status, 9);
}

// km's own execve failing after gdb's exec stop (km's binary was removed meanwhile) is past
// Linux's point of no return: the payload ends by SIGSEGV, with km's line saying why.
TEST_P(GdbTest, AnExecThatFailsAfterTheExecStopEndsThePayloadBySigsegv) {
  const std::string km_copy = absl::StrCat(testing::TempDir(), "km-removed-", GetParam());
  std::filesystem::copy_file(km_test::Runfile("km/km"), km_copy,
                             std::filesystem::copy_options::overwrite_existing);
  SessionResult r = Run({.payload = "spawn",
                         .payload_args = {"--exec-only", km_test::Runfile("tests/payloads/bin/hello")},
                         .gdb_commands = {absl::StrCat("shell rm ", km_copy), "catch exec",
                                          "continue"},
                         .km_binary = km_copy});
  SCOPED_TRACE(r.Describe());
  EXPECT_THAT(r.gdb_out, HasSubstr("Program terminated with signal SIGSEGV"));
  EXPECT_THAT(r.km_err, HasSubstr(absl::StrCat("km: execve of ", km_copy,
                                               " (deleted) failed after the debugger's exec stop: "
                                               "No such file or directory")));
  EXPECT_EQ(r.km_status, 128 + SIGSEGV);
}

// The km after an exec cannot open the debug socket (its path was made a directory meanwhile):
// it ends, and the agent tells gdb the payload is gone as soon as it sees km's pid end, rather
// than waiting out its 30 s for a socket that will never answer.
TEST_P(GdbTest, AKmThatCannotServeAfterAnExecEndsTheSession) {
  SessionResult r = Run({.payload = "spawn",
                         .payload_args = {"--exec-only", km_test::Runfile("tests/payloads/bin/hello")},
                         .gdb_commands = {"shell rm $KM_SOCKET && mkdir $KM_SOCKET", "continue"}});
  SCOPED_TRACE(r.Describe());
  EXPECT_THAT(r.gdb_out, HasSubstr("Program terminated with signal SIGKILL"));
  EXPECT_THAT(r.km_err, HasSubstr("exists and is not a socket"));
  EXPECT_THAT(r.agent_err, ContainsRegex("the km after the exec: .* \\(km pid [0-9]+ has ended\\)"));
  EXPECT_EQ(r.km_status, 1);
}

// `info proc` asks for /proc/PID/... with the payload's pid, which is km's: what it shows must
// be the payload (its command line, executable and guest memory map), not km.
TEST_P(GdbTest, InfoProcShowsThePayloadNotKm) {
  SessionResult r = Run({.payload_args = {"basic", "two words"},
                         .gdb_commands = {"break add", "continue", "info proc", "info proc mappings",
                                          "detach"}});
  SCOPED_TRACE(r.Describe());
  const std::string& out = r.gdb_out;
  const std::string payload = km_test::Runfile("tests/payloads/bin/gdb_demo");
  EXPECT_THAT(out, HasSubstr(absl::StrFormat("process %d\ncmdline = '%s basic two words'\n", r.km_pid,
                                             payload)));
  EXPECT_THAT(out, HasSubstr(absl::StrFormat("exe = '%s'\n", payload)));
  EXPECT_THAT(out, ContainsRegex("0x401000 +0x[0-9a-f]+ +0x[0-9a-f]+ +0x0 +r-xp +" + payload));
  EXPECT_THAT(out, ContainsRegex("0x7ffffffff000 +0x[0-9a-f]+ +0x0 +rw-p +\\[stack\\]"));
  EXPECT_THAT(out, Not(HasSubstr("libgrpc")));
  EXPECT_THAT(out, Not(HasSubstr("km/km")));
  EXPECT_EQ(r.km_status, 3);
}

// gcore walks the payload's /proc/PID/maps and reads each mapping: the core it writes is the
// payload's, and a gdb with no target at all debugs it.
TEST_P(GdbTest, GcoreWritesACoreFileOfThePayload) {
  const std::string core = absl::StrCat(getenv("TEST_TMPDIR"), "/gdb_demo.core");
  SessionResult r = Run({.gdb_commands = {"break add", "continue", "gcore " + core, "detach"}});
  SCOPED_TRACE(r.Describe());
  EXPECT_THAT(r.gdb_out, HasSubstr("Saved corefile " + core));
  EXPECT_EQ(r.km_status, 3);
  absl::StatusOr<GdbRun> offline =
      RunGdb(absl::StrCat("file ", km_test::Runfile("tests/payloads/bin/gdb_demo")),
             {"core-file " + core, "backtrace", "print origin", "print $rip"});
  ASSERT_TRUE(offline.ok()) << offline.status();
  SCOPED_TRACE(offline->out);
  EXPECT_THAT(offline->out, ContainsRegex("#0  add \\(a=3, b=4\\) at .*" + At("add-body")));
  EXPECT_THAT(offline->out, ContainsRegex("#1  0x[0-9a-f]+ in main \\(argc=1, argv=0x[0-9a-f]+\\)"));
  EXPECT_THAT(offline->out, ContainsRegex("\\{x = 1, y = 2, label = 0x[0-9a-f]+ \"origin\"\\}"));
  EXPECT_THAT(offline->out, ContainsRegex("0x[0-9a-f]+ <add\\+[0-9]+>"));
}

// `catch syscall`: the payload's printf stops at the writev's entry and return; the return
// value is what it wrote, and the output appears in between.
TEST_P(GdbTest, CatchSyscallStopsAtEntryAndReturn) {
  SessionResult r = Run({.gdb_commands = {"catch syscall writev", "continue", "print $rax",
                                          "continue", "print $rax", "delete", "continue"}});
  SCOPED_TRACE(r.Describe());
  const std::string& out = r.gdb_out;
  EXPECT_THAT(out, HasSubstr("Catchpoint 1 (syscall 'writev' [20])"));
  EXPECT_THAT(out, ContainsRegex("Catchpoint 1 \\(call to syscall writev\\), 0x[0-9a-f]+ in __stdio_write"));
  EXPECT_THAT(out, HasSubstr("$1 = 20\n"));  // at entry: the syscall's number
  EXPECT_THAT(out, ContainsRegex("Catchpoint 1 \\(returned from syscall writev\\), 0x[0-9a-f]+ in __stdio_write"));
  EXPECT_THAT(out, HasSubstr("$2 = 32\n"));  // at return: the bytes written
  EXPECT_THAT(out, HasSubstr(absl::StrFormat("[Inferior 1 (process %d) exited with code 03]", r.km_pid)));
  EXPECT_EQ(r.km_out, "total=10 counter=3 label=origin\n");
  EXPECT_EQ(r.km_status, 3);
}

// As with a local process: each signal stops the payload first ("Program received signal"),
// continuing passes it to the payload's handler (a breakpoint in it is hit, the backtrace
// runs through the signal frame), faults reach their handlers, and the payload's output is
// that of a run without gdb.
TEST_P(GdbTest, SignalsStopFirstAndReachTheHandlersWhenPassed) {
  SessionResult r = Run({.payload = "signals",
                         .gdb_commands = {"break on_info", "continue", "continue", "bt",
                                          "print info->si_code", "delete",
                                          "handle SIGUSR1 SIGUSR2 nostop noprint pass",
                                          "continue", "print $_siginfo.si_signo", "continue",
                                          "continue", "continue", "continue"}});
  SCOPED_TRACE(r.Describe());
  const std::string& out = r.gdb_out;
  EXPECT_THAT(out, ContainsRegex("Program received signal SIGUSR1, User defined signal 1.\n"
                                 "0x[0-9a-f]+ in __restore_sigs"));
  EXPECT_THAT(out, HasSubstr("Breakpoint 1, on_info (sig=10"));
  EXPECT_THAT(out, ContainsRegex("#1  <signal handler called>\n#2 .* in __restore_sigs"));
  EXPECT_THAT(out, HasSubstr("$1 = -6\n"));  // SI_TKILL: raise's tkill
  EXPECT_THAT(out, ContainsRegex("Program received signal SIGSEGV, Segmentation fault.\n"
                                 "0x[0-9a-f]+ in main \\(.*\\) at .*signals.c:[0-9]+\n"));
  EXPECT_THAT(out, HasSubstr("$2 = 11\n")) << "$_siginfo, read through qXfer:siginfo";
  EXPECT_THAT(out, HasSubstr("Program received signal SIGFPE, Arithmetic exception."));
  EXPECT_THAT(out, HasSubstr("Program received signal SIGILL, Illegal instruction."));
  EXPECT_THAT(out, HasSubstr(absl::StrFormat("[Inferior 1 (process %d) exited normally]", r.km_pid)));
  EXPECT_THAT(r.km_out, HasSubstr("raise: hits=1 code=SI_TKILL pid_is_self=1"));
  EXPECT_THAT(r.km_out, HasSubstr("segv: escaped with 11 code=SEGV_MAPERR addr=0\n"));
  EXPECT_THAT(r.km_out, HasSubstr("ill: skipped, hits=1 code=ILL_ILLOPN\n"));
  EXPECT_THAT(r.km_out, HasSubstr("other thread: hits=4 in_worker=1\n"));
  EXPECT_EQ(r.km_status, 0);
}

// Signals gdb lets through without a word (SIGALRM by default, or any after `handle SIG nostop
// noprint pass`) reach the payload in km without a stop: gdb says which with QPassSignals.
// The others still stop, and so does SIGALRM once gdb is told to stop at it.
TEST_P(GdbTest, SignalsGdbPassesReachThePayloadWithoutAStop) {
  SessionResult r = Run({.payload = "alarms",
                         .payload_args = {"300"},
                         .gdb_commands = {"continue", "print $_siginfo.si_signo", "continue"},
                         .agent_args = {"--verbose"}});
  SCOPED_TRACE(r.Describe());
  // gdb's list, hex in its numbering; the log holds binary replies, which a regex stops at.
  const size_t at = r.agent_err.find("<- QPassSignals:");
  ASSERT_NE(at, std::string::npos);
  const std::string passed = r.agent_err.substr(at, r.agent_err.find('\n', at) - at);
  EXPECT_THAT(passed, ContainsRegex("[:;]e;")) << "SIGALRM is not in it";
  EXPECT_THAT(r.gdb_out, HasSubstr("Program received signal SIGUSR2"));
  EXPECT_THAT(r.gdb_out, HasSubstr("$1 = 12\n"));
  EXPECT_THAT(r.gdb_out, Not(HasSubstr("SIGALRM")));
  EXPECT_THAT(r.agent_err, Not(HasSubstr("-> T0e"))) << "a SIGALRM stop reached gdb";
  EXPECT_THAT(r.km_out, HasSubstr("alarms=enough usr2=1\n"));
  EXPECT_EQ(r.km_status, 0);

  SessionResult stopping = Run({.payload = "alarms",
                                .payload_args = {"20"},
                                .gdb_commands = {"handle SIGALRM stop print", "continue",
                                                 "print $_siginfo.si_signo",
                                                 "handle SIGALRM nostop noprint", "continue",
                                                 "continue"},
                                .agent_args = {"--verbose"}});
  SCOPED_TRACE(stopping.Describe());
  EXPECT_THAT(stopping.gdb_out, HasSubstr("Program received signal SIGALRM"));
  EXPECT_THAT(stopping.gdb_out, HasSubstr("$1 = 14\n"));
  EXPECT_THAT(stopping.gdb_out, HasSubstr("Program received signal SIGUSR2"));
  EXPECT_THAT(stopping.km_out, HasSubstr("alarms=enough usr2=1\n"));
  EXPECT_EQ(stopping.km_status, 0);
}

// "signal 0" suppresses the signal the payload stopped with; "signal SIGUSR1" delivers another.
TEST_P(GdbTest, SignalZeroSuppressesAndSignalCommandSubstitutes) {
  SessionResult r = Run({.payload = "signals",
                         .gdb_commands = {"continue", "signal 0", "signal SIGUSR1",
                                          "handle all nostop noprint pass", "continue"}});
  SCOPED_TRACE(r.Describe());
  EXPECT_THAT(r.gdb_out, ContainsRegex("Program received signal SIGUSR1.*\n.* in __restore_sigs"
                                       "(.|\n)*Program received signal SIGUSR2.*\n.* in kill"));
  EXPECT_THAT(r.km_out, HasSubstr("raise: hits=0 "));  // suppressed: the handler never ran
  // kill's SIGUSR2 replaced: on_info ran for SIGUSR1 instead.
  EXPECT_THAT(r.km_out, HasSubstr("kill: hits=0 code=SI_USER"));
  EXPECT_THAT(r.km_out, HasSubstr("blocked: hits=1\n"));
  EXPECT_EQ(r.km_status, 0);
}

TEST_P(GdbTest, SecondGdbConnectsAfterTheFirstDetached) {
  SessionResult r = Run({.payload_args = {"spin"},
                         .gdb_commands = {"info threads", "detach"},
                         .second_gdb_commands = {"print keep_going", "set var keep_going = 0",
                                                 "continue"}});
  SCOPED_TRACE(r.Describe());
  EXPECT_THAT(r.gdb_out, HasSubstr("detached]"));
  EXPECT_THAT(r.second_gdb_out, HasSubstr("$1 = 1"));
  EXPECT_THAT(r.second_gdb_out,
              HasSubstr(absl::StrFormat("[Inferior 1 (process %d) exited with code 03]", r.km_pid)));
  EXPECT_EQ(r.km_out, "total=10 counter=3 label=origin\n");
}

TEST_P(GdbTest, StdioTransport) {
  SessionResult r = Run({.gdb_commands = {"break add", "continue", "bt 1", "continue"}, .stdio = true});
  SCOPED_TRACE(r.Describe());
  EXPECT_THAT(r.gdb_out, ContainsRegex("Breakpoint 1, add \\(a=3, b=4\\) at .*" + At("add-body")));
  EXPECT_THAT(r.gdb_out, HasSubstr(absl::StrFormat("[Inferior 1 (process %d) exited with code 03]", r.km_pid)));
  EXPECT_EQ(r.km_status, 3);
}

TEST_P(GdbTest, MonitorCommands) {
  SessionResult r = Run({.gdb_commands = {"monitor help", "monitor info", "monitor threads",
                                          "monitor memory", "kill"}});
  SCOPED_TRACE(r.Describe());
  const std::string& out = r.gdb_out;
  EXPECT_THAT(out, HasSubstr("km-gdb-agent monitor commands:"));
  EXPECT_THAT(out, HasSubstr(absl::StrFormat("km pid:      %d", r.km_pid)));
  EXPECT_THAT(out, ContainsRegex("payload: +/.*gdb_demo"));
  EXPECT_THAT(out, ContainsRegex("engine: +" + GetParam()));
  EXPECT_THAT(out, ContainsRegex(absl::StrFormat("0 +%d +stopped ", r.km_pid)));
  EXPECT_THAT(out, ContainsRegex("0x[0-9a-f]{16} 0x[0-9a-f]{16} r-x +text"));
}

INSTANTIATE_TEST_SUITE_P(Engines, GdbTest, ::testing::Values("kvm", "tcg"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace km_gdb_test
