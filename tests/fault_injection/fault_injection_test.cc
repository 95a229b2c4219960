// Fault injection: one peer of a debugging session (gdb, the agent, km, a stray client of km's
// debug socket) dies or misbehaves, and nothing is lost: the payload still prints what a clean
// run prints and exits with the same status, and no int3 is left behind (the payload runs through
// the breakpointed code after the fault). Runs on every engine this machine has.
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/km_debug.grpc.pb.h"
#include "tests/engines.h"
#include "tests/gdb/harness.h"

namespace km_gdb_test {
namespace {

namespace v1 = ::km::debug::v1;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;

// What gdb_demo prints and returns when nobody changes it.
constexpr char kDemoOut[] = "total=10 counter=3 label=origin\n";
constexpr int kDemoStatus = 3;
// How long a peer may take to notice a death: well under the test's own timeout.
constexpr absl::Duration kNotice = absl::Seconds(20);

std::string TmpDir() {
  const char* dir = getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

std::vector<std::string> Env() {
  return {absl::StrCat("HOME=", TmpDir()), "PATH=/usr/bin:/bin", "LANG=C", "TERM=dumb"};
}

std::string OutPath(absl::string_view name) {
  static int id = 0;
  return absl::StrCat(TmpDir(), "/fi", ++id, "-", name);
}

// gdb connected to the agent on port, running commands. With always-inserted breakpoints gdb
// leaves its int3s in the payload while it is stopped, so a fault while stopped leaves them in.
// With park, gdb then waits inside its own process (no shell child to outlive it) until killed.
absl::StatusOr<Child> StartGdb(int port, const std::vector<std::string>& commands, bool park) {
  std::vector<std::string> argv = {"/usr/bin/gdb", "-batch", "-nx",
                                   "-iex", "set pagination off",
                                   "-iex", "set confirm off",
                                   "-iex", "set breakpoint always-inserted on",
                                   "-ex", absl::StrCat("target remote 127.0.0.1:", port)};
  for (const std::string& c : commands) argv.insert(argv.end(), {"-ex", c});
  if (park) {
    argv.insert(argv.end(), {"-ex", "echo PARKED\\n", "-ex", "python import time; time.sleep(120)"});
  }
  return Child::Start(argv, Env(), OutPath("gdb.out"), OutPath("gdb.err"));
}

class FaultInjectionTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    km_test::EngineInfo engine = km_test::FindEngine(GetParam());
    if (!engine.available) GTEST_SKIP() << engine.skip_reason;
  }

  // gdb_demo under km, the agent and gdb, stopped in add with breakpoints at add, bump and the
  // exit line all inserted: bump (three calls) and the exit line are still ahead of the payload,
  // so a leftover int3 would trap it.
  void StartStoppedSession() {
    absl::StatusOr<Running> r = StartKmAndAgent(GetParam(), "gdb_demo", {}, /*agent_once=*/true);
    ASSERT_TRUE(r.ok()) << r.status();
    running_.emplace(*std::move(r));
    absl::StatusOr<Child> gdb =
        StartGdb(running_->port,
                 {"break add", "break bump", absl::StrCat("break gdb_demo.c:", DemoLine("exit")),
                  "continue", "info breakpoints"},
                 /*park=*/true);
    ASSERT_TRUE(gdb.ok()) << gdb.status();
    gdb_.emplace(*std::move(gdb));
    ASSERT_TRUE(WaitForText([&] { return gdb_->Out(); }, "PARKED", absl::Seconds(40)))
        << Describe();
    ASSERT_THAT(gdb_->Out(), HasSubstr("Breakpoint 1, add (a=3, b=4)")) << Describe();
  }

  std::string Describe() const {
    if (!running_) return "(no session)";
    return absl::StrCat("--- gdb ---\n", gdb_ ? gdb_->Out() + gdb_->Err() : "", "\n--- km stdout ---\n",
                        running_->km.Out(), "\n--- km stderr ---\n", running_->km.Err(),
                        "\n--- agent stderr ---\n", running_->agent.Err());
  }

  void ExpectDemoFinished() {
    EXPECT_EQ(running_->km.Wait(kNotice), kDemoStatus) << Describe();
    EXPECT_EQ(running_->km.Out(), kDemoOut) << Describe();
  }

  std::optional<Running> running_;
  std::optional<Child> gdb_;
};

TEST_P(FaultInjectionTest, GdbKilledAtABreakpointLetsThePayloadFinish) {
  ASSERT_NO_FATAL_FAILURE(StartStoppedSession());
  kill(gdb_->pid(), SIGKILL);
  EXPECT_EQ(gdb_->Wait(absl::Seconds(5)), 128 + SIGKILL);
  ExpectDemoFinished();
  // Its gdb gone, the --once agent has nothing left to serve.
  EXPECT_GE(running_->agent.Wait(kNotice), 0) << Describe();
}

TEST_P(FaultInjectionTest, GdbKilledWhileRunningLeavesNoBreakpointForTheNextGdb) {
  // The spinning payload has a breakpoint ahead of it (the exit line) when gdb dies; a second
  // gdb through the same agent lets it out of the loop and detaches, and it must run through
  // that line untrapped.
  absl::StatusOr<Running> r = StartKmAndAgent(GetParam(), "gdb_demo", {"spin"}, /*agent_once=*/false);
  ASSERT_TRUE(r.ok()) << r.status();
  running_.emplace(*std::move(r));
  absl::StatusOr<Child> gdb = StartGdb(
      running_->port,
      {absl::StrCat("break gdb_demo.c:", DemoLine("exit")), "echo RESUMING\\n", "continue"}, false);
  ASSERT_TRUE(gdb.ok()) << gdb.status();
  gdb_.emplace(*std::move(gdb));
  ASSERT_TRUE(WaitForText([&] { return gdb_->Out(); }, "RESUMING", absl::Seconds(40))) << Describe();
  absl::SleepFor(absl::Seconds(1));  // gdb is now waiting on the spinning payload
  kill(gdb_->pid(), SIGKILL);
  EXPECT_EQ(gdb_->Wait(absl::Seconds(5)), 128 + SIGKILL);
  EXPECT_EQ(running_->km.Wait(absl::ZeroDuration()), -1) << Describe();

  absl::StatusOr<Child> next =
      StartGdb(running_->port, {"set var keep_going = 0", "detach"}, false);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->Wait(absl::Seconds(40)), 0) << next->Out() << next->Err() << Describe();
  EXPECT_THAT(next->Out(), HasSubstr("detached]")) << next->Out() << next->Err();
  ExpectDemoFinished();
}

TEST_P(FaultInjectionTest, AgentKilledWithBreakpointsInsertedLetsThePayloadFinish) {
  ASSERT_NO_FATAL_FAILURE(StartStoppedSession());
  kill(running_->agent.pid(), SIGKILL);
  EXPECT_EQ(running_->agent.Wait(absl::Seconds(5)), 128 + SIGKILL);
  ExpectDemoFinished();
}

TEST_P(FaultInjectionTest, KmKilledUnderARunningSessionEndsGdbAndTheAgentCleanly) {
  absl::StatusOr<Running> r = StartKmAndAgent(GetParam(), "gdb_demo", {"spin"}, /*agent_once=*/false);
  ASSERT_TRUE(r.ok()) << r.status();
  running_.emplace(*std::move(r));
  absl::StatusOr<Child> gdb = StartGdb(running_->port, {"echo RESUMING\\n", "continue"}, false);
  ASSERT_TRUE(gdb.ok()) << gdb.status();
  gdb_.emplace(*std::move(gdb));
  ASSERT_TRUE(WaitForText([&] { return gdb_->Out(); }, "RESUMING", absl::Seconds(40))) << Describe();
  absl::SleepFor(absl::Seconds(1));  // gdb is now waiting on the spinning payload
  kill(running_->km.pid(), SIGKILL);
  EXPECT_EQ(running_->km.Wait(absl::Seconds(5)), 128 + SIGKILL);

  const int gdb_status = gdb_->Wait(kNotice);
  EXPECT_GE(gdb_status, 0) << "gdb hangs\n" << Describe();
  EXPECT_LT(gdb_status, 128) << "gdb died of a signal\n" << Describe();
  EXPECT_THAT(gdb_->Out() + gdb_->Err(),
              ContainsRegex("Program terminated with signal SIGKILL|Remote connection closed"))
      << Describe();
  // A listening agent may stay up for the next gdb; it must not hang in the dead session: a new
  // gdb gets an answer (an error: there is no km) within the bound.
  if (running_->agent.Wait(absl::Seconds(2)) < 0) {
    absl::StatusOr<Child> next = StartGdb(running_->port, {"info registers rip"}, false);
    ASSERT_TRUE(next.ok()) << next.status();
    const int next_status = next->Wait(kNotice);
    EXPECT_GE(next_status, 0) << "a second gdb hangs: " << next->Out() << next->Err() << Describe();
    EXPECT_LT(next_status, 128) << next->Out() << next->Err();
  } else {
    EXPECT_LT(running_->agent.Wait(absl::ZeroDuration()), 128) << Describe();
  }
}

// Connects to km's debug socket, writes bytes and closes; false if km refused the connection.
bool SendRaw(const std::string& socket, const std::string& bytes) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, socket.c_str(), sizeof(addr.sun_path) - 1);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  // km may drop the connection part way: a short or failed write is what garbage deserves.
  if (ok && !bytes.empty()) (void)send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  absl::SleepFor(absl::Milliseconds(50));
  close(fd);
  return ok;
}

TEST_P(FaultInjectionTest, GarbageOnTheDebugSocketLeavesKmServing) {
  char dir[] = "/tmp/kmfi-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string socket = absl::StrCat(dir, "/km.sock");
  absl::StatusOr<Child> km_or = Child::Start(
      {km_test::Runfile("km/km"), "--accel=" + GetParam(), "--debug-socket", socket,
       "--debug-wait", km_test::Runfile("km_hooks/bin/target")},
      Env(), OutPath("km.out"), OutPath("km.err"));
  ASSERT_TRUE(km_or.ok()) << km_or.status();
  Child& km = *km_or;
  ASSERT_TRUE(WaitForText([&] { return access(socket.c_str(), F_OK) == 0 ? "up" : ""; }, "up",
                          absl::Seconds(10)))
      << km.Err();

  std::string noise(64 * 1024, '\0');
  for (size_t i = 0; i < noise.size(); i++) noise[i] = static_cast<char>((i * 2654435761u) >> 13);
  const std::vector<std::string> garbage = {
      "",                                       // connect and hang up
      "hello km\r\n\r\n",                       // not HTTP/2 at all
      "GET / HTTP/1.1\r\nHost: km\r\n\r\n",     // the wrong HTTP
      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + noise,  // the right preface, then nonsense frames
      noise,
  };
  for (const std::string& bytes : garbage) {
    EXPECT_TRUE(SendRaw(socket, bytes)) << "km refused a connection";
    ASSERT_EQ(km.Wait(absl::ZeroDuration()), -1) << "km ended: " << km.Err();
  }

  // A proper client is still served, and drives the payload to its normal end.
  auto stub = v1::Debug::NewStub(
      grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials()));
  auto context = [] {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return ctx;
  };
  v1::Target target;
  grpc::Status s = stub->GetTarget(context().get(), {}, &target);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(target.pid(), km.pid());
  EXPECT_EQ(target.engine().name(), GetParam());
  v1::AttachRequest attach;
  attach.set_client_name("fault-injection");
  v1::AttachResponse session;
  s = stub->Attach(context().get(), attach, &session);
  ASSERT_TRUE(s.ok()) << s.error_message();
  auto events_ctx = context();
  v1::EventsRequest events_req;
  events_req.set_session(session.session());
  auto events = stub->Events(events_ctx.get(), events_req);
  v1::Event ev;
  while (events->Read(&ev) && !ev.has_stop()) {
  }
  ASSERT_TRUE(ev.has_stop()) << "no stop at entry";
  v1::ResumeRequest resume;
  resume.set_session(session.session());
  resume.add_actions()->set_mode(v1::RESUME_MODE_CONTINUE);
  v1::ResumeResponse resumed;
  s = stub->Resume(context().get(), resume, &resumed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(km.Wait(kNotice), 7) << km.Err();
  EXPECT_EQ(km.Out(), "done 3 42\n");
  events_ctx->TryCancel();
  unlink(socket.c_str());
  rmdir(dir);
}

INSTANTIATE_TEST_SUITE_P(Engines, FaultInjectionTest, ::testing::Values("kvm", "tcg"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace km_gdb_test
