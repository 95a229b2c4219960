// Fault injection: one peer of a debugging session (gdb, the agent, km, a stray client of km's
// debug socket) dies or misbehaves, and nothing is lost: the payload still prints what a clean
// run prints and exits with the same status, and no int3 is left behind (the payload runs through
// the breakpointed code after the fault). Runs on every engine this machine has.
#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/km_debug.grpc.pb.h"
#include "tests/engines.h"
#include "tests/rss_bound.h"
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

// km_hooks/bin/target under km, held at entry, serving a debug socket in a directory of its own.
class HeldKm {
 public:
  void Start(const std::string& engine) {
    ASSERT_NE(mkdtemp(dir_), nullptr);
    socket_ = absl::StrCat(dir_, "/km.sock");
    absl::StatusOr<Child> km = Child::Start(
        {km_test::Runfile("km/km"), "--accel=" + engine, "--debug-socket", socket_,
         "--debug-wait", km_test::Runfile("km_hooks/bin/target")},
        Env(), OutPath("km.out"), OutPath("km.err"));
    ASSERT_TRUE(km.ok()) << km.status();
    km_.emplace(*std::move(km));
    ASSERT_TRUE(WaitForText([&] { return access(socket_.c_str(), F_OK) == 0 ? "up" : ""; }, "up",
                            absl::Seconds(20)))
        << km_->Err();
  }
  ~HeldKm() {
    km_.reset();
    unlink(socket_.c_str());
    rmdir(dir_);
  }

  std::unique_ptr<v1::Debug::Stub> Connect() const {
    return v1::Debug::NewStub(
        grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials()));
  }
  const std::string& socket() const { return socket_; }
  Child& km() { return *km_; }
  // What a clean run of the target prints and returns.
  void ExpectFinished() {
    EXPECT_EQ(km_->Wait(kNotice), 7) << km_->Err();
    EXPECT_EQ(km_->Out(), "done 3 42\n");
  }
  // km's resident memory in kB (VmRSS in /proc/PID/status).
  long RssKb() const {
    std::ifstream status(absl::StrCat("/proc/", km_->pid(), "/status"));
    for (std::string line; std::getline(status, line);) {
      if (absl::StartsWith(line, "VmRSS:")) return std::stol(line.substr(6));
    }
    return -1;
  }

 private:
  char dir_[32] = "/tmp/kmfi-XXXXXX";
  std::string socket_;
  std::optional<Child> km_;
};

std::unique_ptr<grpc::ClientContext> Deadline(absl::Duration d) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + d));
  return ctx;
}

std::string Attach(v1::Debug::Stub& stub, const std::string& name) {
  v1::AttachRequest req;
  req.set_client_name(name);
  v1::AttachResponse resp;
  grpc::Status s = stub.Attach(Deadline(absl::Seconds(30)).get(), req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp.session();
}

grpc::Status ResumeAll(v1::Debug::Stub& stub, const std::string& session) {
  v1::ResumeRequest req;
  req.set_session(session);
  req.add_actions()->set_mode(v1::RESUME_MODE_CONTINUE);
  v1::ResumeResponse resp;
  return stub.Resume(Deadline(absl::Seconds(30)).get(), req, &resp);
}

// What connect(2) to PATH gets now: 0 or an errno. (A second gRPC channel would not tell: it
// shares the first one's connection.)
int ConnectErrno(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  const int err = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 ? 0 : errno;
  close(fd);
  return err;
}

TEST_P(FaultInjectionTest, DebugSocketRemovedOrReplacedKeepsTheSessionAndLeavesTheNewFile) {
  HeldKm km;
  ASSERT_NO_FATAL_FAILURE(km.Start(GetParam()));
  auto stub = km.Connect();
  const std::string session = Attach(*stub, "fault-injection");
  auto events_ctx = Deadline(absl::Seconds(60));
  v1::EventsRequest events_req;
  events_req.set_session(session);
  auto events = stub->Events(events_ctx.get(), events_req);
  v1::Event ev;
  while (events->Read(&ev) && !ev.has_stop()) {
  }
  ASSERT_TRUE(ev.has_stop()) << "no stop at entry";
  const int tid = ev.stop().tid();

  // Removed: the session's connection lives on; a new client finds nothing to connect to.
  ASSERT_EQ(unlink(km.socket().c_str()), 0);
  v1::Target target;
  EXPECT_TRUE(stub->GetTarget(Deadline(absl::Seconds(10)).get(), {}, &target).ok());
  EXPECT_EQ(ConnectErrno(km.socket()), ENOENT);

  // Replaced by another file: still the same for both, and km's exit leaves that file alone.
  { std::ofstream(km.socket()) << "not km's\n"; }
  v1::ReadRegistersRequest regs_req;
  regs_req.set_tid(tid);
  v1::Registers regs;
  grpc::Status s = stub->ReadRegisters(Deadline(absl::Seconds(10)).get(), regs_req, &regs);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_NE(regs.rip(), 0u);
  EXPECT_EQ(ConnectErrno(km.socket()), ECONNREFUSED);
  ASSERT_EQ(km.km().Wait(absl::ZeroDuration()), -1) << "km ended: " << km.km().Err();

  s = ResumeAll(*stub, session);
  ASSERT_TRUE(s.ok()) << s.error_message();
  km.ExpectFinished();
  std::ifstream left(km.socket());
  std::string content((std::istreambuf_iterator<char>(left)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "not km's\n") << "km removed a file that was not its socket";
  events_ctx->TryCancel();
}

TEST_P(FaultInjectionTest, ManyUnreadEventStreamsKeepKmBoundedAndOthersServed) {
  constexpr int kStreams = 100;
  HeldKm km;
  ASSERT_NO_FATAL_FAILURE(km.Start(GetParam()));
  auto greedy = km.Connect();
  const std::string session = Attach(*greedy, "greedy");
  v1::Target target;
  ASSERT_TRUE(greedy->GetTarget(Deadline(absl::Seconds(10)).get(), {}, &target).ok());
  ASSERT_GT(target.regions_size(), 0);
  const long rss_before = km.RssKb();
  ASSERT_GT(rss_before, 0);

  // Streams opened and never read: each is a call km keeps open.
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::Event>>> streams;
  v1::EventsRequest events_req;
  events_req.set_session(session);
  for (int i = 0; i < kStreams; i++) {
    contexts.push_back(Deadline(absl::Seconds(120)));
    streams.push_back(greedy->Events(contexts.back().get(), events_req));
  }

  // Another client is served all the while, promptly.
  auto other = km.Connect();
  for (int i = 0; i < 20; i++) {
    v1::ListThreadsResponse threads;
    grpc::Status s = other->ListThreads(Deadline(absl::Seconds(5)).get(), {}, &threads);
    ASSERT_TRUE(s.ok()) << "call " << i << ": " << s.error_message();
    EXPECT_EQ(threads.threads_size(), 1);
    v1::ReadMemoryRequest read;
    read.set_addr(target.regions(0).start());
    read.set_len(64);
    v1::ReadMemoryResponse data;
    s = other->ReadMemory(Deadline(absl::Seconds(5)).get(), read, &data);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(data.data().size(), 64u);
  }
  const long rss_after = km.RssKb();
  RecordProperty("km_rss_kb_before", std::to_string(rss_before));
  RecordProperty("km_rss_kb_after", std::to_string(rss_after));
  km_test::ExpectRssGrowthBelow(rss_before, rss_after, 64 * 1024,
                                absl::StrCat(kStreams, " unread streams"));

  // The payload finishes normally with all of them still open and unread.
  grpc::Status s = ResumeAll(*greedy, session);
  ASSERT_TRUE(s.ok()) << s.error_message();
  km.ExpectFinished();
  for (auto& ctx : contexts) ctx->TryCancel();
}

INSTANTIATE_TEST_SUITE_P(Engines, FaultInjectionTest, ::testing::Values("kvm", "tcg"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace km_gdb_test
