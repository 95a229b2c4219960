// Real gdb against the agent with a fake target: gdb must accept the target description, the
// short g packet, p for the rest, qXfer, vFile, monitor and tracing replies, with no km
// involved.
#include "agent/server/gdb_session.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "agent/testing/fake_target.h"
#include "agent/transport/tcp_listener.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace agent {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;

// Runs gdb in batch mode with these commands; returns what it printed.
std::string RunGdb(int port, const std::vector<std::string>& commands) {
  const std::string out_path = absl::StrCat(getenv("TEST_TMPDIR"), "/gdb.out");
  std::vector<std::string> argv = {"/usr/bin/gdb", "-batch", "-nx", "-iex", "set pagination off",
                                   "-ex", absl::StrCat("target remote 127.0.0.1:", port)};
  for (const std::string& c : commands) {
    argv.push_back("-ex");
    argv.push_back(c);
  }
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  // Only async-signal-safe calls in the child: the agent's thread is running.
  const pid_t pid = fork();
  if (pid == 0) {
    if (dup2(out, 1) < 0 || dup2(out, 2) < 0) _exit(126);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out);
  int status = 0;
  waitpid(pid, &status, 0);
  std::ifstream in(out_path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Serves one gdb connection to target while gdb runs the commands; what gdb printed, and how
// the session ended.
struct Served {
  std::string out;
  absl::StatusOr<SessionEnd> end;
};
Served ServeOneGdb(Target& target, const std::vector<std::string>& commands) {
  Served served;
  absl::StatusOr<std::unique_ptr<TcpListener>> listener = TcpListener::Listen({"127.0.0.1", 0});
  if (!listener.ok()) {
    served.end = listener.status();
    return served;
  }
  std::thread server([&] {
    absl::StatusOr<std::unique_ptr<Connection>> gdb = (*listener)->Accept();
    served.end = gdb.ok() ? ServeGdb(**gdb, target) : gdb.status();
  });
  served.out = RunGdb((*listener)->port(), commands);
  server.join();
  return served;
}

TEST(GdbSessionTest, StockGdbTalksToTheAgent) {
  testing::FakeTarget target;
  target.memory()[0] = '\x55';
  const auto [out, end] = ServeOneGdb(target, {
                                                          "info registers rip rsp",
                                                          "p $xmm1.v16_int8[0]",
                                                          "p $mxcsr",
                                                          "p/x $fctrl",
                                                          "p $fs_base",
                                                          "x/1xb 0x400000",
                                                          "info all-registers",
                                                          "p $orig_rax",
                                                          "monitor help",
                                                          "info threads",
                                                          "detach",
                                                      });
  SCOPED_TRACE(out);
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_EQ(*end, SessionEnd::kGdbLeft);
  EXPECT_THAT(out, ContainsRegex("rip +0x401000 +0x401000"));
  EXPECT_THAT(out, ContainsRegex("rsp +0x7ffff064 +0x7ffff064"));
  EXPECT_THAT(out, HasSubstr("$1 = 66"));
  EXPECT_THAT(out, HasSubstr("$2 = [ IM DM ZM OM UM PM ]"));
  EXPECT_THAT(out, HasSubstr("$3 = 0x37f"));
  EXPECT_THAT(out, HasSubstr("$4 = 0"));
  EXPECT_THAT(out, HasSubstr("0x400000:\t0x55"));
  EXPECT_THAT(out, ContainsRegex("\nst0 +0 +\\(raw 0x00000000000000000000\\)"));
  EXPECT_THAT(out, HasSubstr("$5 = 0"));
  EXPECT_THAT(out, HasSubstr("km-gdb-agent monitor commands:"));
  EXPECT_THAT(out, ContainsRegex("\\* 1 +Thread 100\\.100 \"main\""));
  EXPECT_THAT(out, HasSubstr("[Inferior 1 (process 100) detached]"));
  EXPECT_THAT(out, ::testing::Not(HasSubstr("Remote 'g' packet reply")));
}

// gdb's reverse commands reach the agent as Hc, bs and bc only if qSupported offered them, and
// gdb ends reverse execution at the history's beginning only if the stop reply says so.
TEST(GdbSessionTest, StockGdbStepsAndContinuesBackward) {
  testing::FakeTarget target;
  target.set_can_record(true);
  ASSERT_TRUE(target.SetRecording(true, 0).ok());
  target.Recorded({0x400ff0, 0x400ff8});
  const auto [out, end] = ServeOneGdb(target, {"reverse-stepi", "p/x $pc", "set var $rax = 5",
                                               "set var *(char*)0x400010 = 1", "reverse-continue",
                                               "p/x $pc", "monitor record", "detach"});
  SCOPED_TRACE(out);
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_THAT(out, HasSubstr("$1 = 0x400ff8"));
  EXPECT_THAT(out, HasSubstr("\nNo more reverse-execution history.\n"));
  // The past is read-only.
  EXPECT_THAT(out, HasSubstr("Could not write register \"rax\"; remote failure reply 'E01'"));
  EXPECT_THAT(out, HasSubstr("Cannot access memory at address 0x400010"));
  EXPECT_THAT(out, HasSubstr("$2 = 0x400ff0"));
  EXPECT_THAT(out, HasSubstr("replaying 2 instructions back from the end"));
  EXPECT_THAT(out, ::testing::Not(HasSubstr("not supported")));
}

TEST(GdbSessionTest, GdbRefusesReverseCommandsWhenTheEngineCannotRecord) {
  testing::FakeTarget target;
  const auto [out, end] = ServeOneGdb(target, {"reverse-stepi", "reverse-continue", "detach"});
  SCOPED_TRACE(out);
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_THAT(out, ContainsRegex("Target remote does not support this command.\n"
                                 "Target remote does not support this command.\n"));
  EXPECT_THAT(target.calls(), ::testing::Not(::testing::Contains(HasSubstr("Resume"))));
}

TEST(GdbSessionTest, GdbsUserHearsWhyThereIsNoHistory) {
  testing::FakeTarget target;
  target.set_can_record(true);
  const auto [out, end] = ServeOneGdb(target, {"reverse-stepi", "detach"});
  SCOPED_TRACE(out);
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_THAT(out, ContainsRegex("km is not recording.*`monitor record on`\n+"
                                 "No more reverse-execution history.\n"));
}

// gdb's tracepoint commands: gdb must take the agent's replies for definitions and status as
// it takes gdbserver's, and show a frame's collected memory and registers, the rest
// unavailable, until tfind none brings back the live thread.
TEST(GdbSessionTest, StockGdbTracesAndLooksAtTraceFrames) {
  testing::FakeTarget target;
  TraceFrame memory_only;
  memory_only.tracepoint = 1;
  memory_only.pc = 0x401000;
  memory_only.memory = {{0x400010, std::string("\x2a\0\0\0", 4)}};
  TraceFrame with_registers = memory_only;
  with_registers.number = 1;
  with_registers.registers.emplace();
  with_registers.registers->general.gpr[0] = 7;
  with_registers.registers->general.rip = 0x401000;
  target.RecordsAtStart({memory_only, with_registers});
  const std::string script = absl::StrCat(getenv("TEST_TMPDIR"), "/trace.gdb");
  std::ofstream(script) << "trace *0x401000\n"
                           "actions\n"
                           "collect *(int *)0x400010\n"
                           "collect $regs\n"
                           "end\n";
  const auto [out, end] = ServeOneGdb(
      target, {"source " + script, "tstart", "tstop", "tstatus", "tfind 0",
               "p *(int *)0x400010", "p $rax", "p/x $pc", "set var $rax = 1", "tfind", "p $rax",
               "tfind none", "p $rax", "detach"});
  SCOPED_TRACE(out);
  ASSERT_TRUE(end.ok()) << end.status();
  ASSERT_EQ(target.trace_setup().tracepoints.size(), 1u);
  EXPECT_TRUE(target.trace_setup().tracepoints[0].collect_registers);
  // gdb compiles the dereference into an agent expression, not an M action.
  EXPECT_EQ(target.trace_setup().tracepoints[0].expressions.size(), 1u);
  EXPECT_THAT(out, HasSubstr("Trace stopped by a tstop command ().\nCollected 2 trace frames."));
  EXPECT_THAT(out, HasSubstr("Found trace frame 0, tracepoint 1"));
  EXPECT_THAT(out, HasSubstr("$1 = 42\n$2 = <unavailable>\n$3 = 0x401000\n"
                             "Could not write register \"rax\"; remote failure reply 'E01'"));
  EXPECT_THAT(out, HasSubstr("Found trace frame 1, tracepoint 1"));
  EXPECT_THAT(out, HasSubstr("$4 = 7\n"));
  EXPECT_THAT(out, HasSubstr("No longer looking at any trace frame"));
  EXPECT_THAT(out, HasSubstr("$5 = 0\n"));
}

}  // namespace
}  // namespace agent
