// Real gdb against the agent with a fake target: gdb must accept the target description, the
// short g packet, p for the rest, qXfer, vFile and monitor replies, with no km involved.
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

TEST(GdbSessionTest, StockGdbTalksToTheAgent) {
  absl::StatusOr<std::unique_ptr<TcpListener>> listener = TcpListener::Listen({"127.0.0.1", 0});
  ASSERT_TRUE(listener.ok()) << listener.status();
  testing::FakeTarget target;
  target.memory()[0] = '\x55';
  absl::StatusOr<SessionEnd> end;
  std::thread server([&] {
    absl::StatusOr<std::unique_ptr<Connection>> gdb = (*listener)->Accept();
    ASSERT_TRUE(gdb.ok()) << gdb.status();
    end = ServeGdb(**gdb, target);
  });
  const std::string out = RunGdb((*listener)->port(), {
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
  server.join();
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

}  // namespace
}  // namespace agent
