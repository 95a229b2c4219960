// Drives a real km through its gRPC debug service, on every engine this machine has.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "proto/km_debug.grpc.pb.h"
#include "tests/child_process.h"
#include "tests/engines.h"

namespace {

namespace v1 = ::km::debug::v1;

std::map<std::string, uint64_t> Symbols(const std::string& payload) {
  std::map<std::string, uint64_t> syms;
  std::ifstream in(km_test::Runfile("km_hooks/" + payload + ".syms"));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string addr, type, name;
    if (fields >> addr >> type >> name) syms[name] = std::stoull(addr, nullptr, 16);
  }
  return syms;
}


class DebugServiceTest : public ::testing::TestWithParam<std::string> {
 protected:
  // What km runs and how; subclasses change it.
  virtual std::string Payload() const { return "target"; }
  virtual bool WithSocket() const { return true; }
  virtual std::vector<std::string> KmFlags() const { return {}; }

  void SetUp() override {
    km_test::EngineInfo engine = km_test::FindEngine(GetParam());
    if (!engine.available) GTEST_SKIP() << engine.skip_reason;
    syms_ = Symbols(Payload());
    ASSERT_TRUE(syms_.count("main"));
    // Tests run in a pid namespace: pid and counter alone may match a file an earlier run left.
    socket_ = absl::StrFormat("/tmp/km-test-%d-%d-%d.sock", getpid(), counter_++,
                              absl::ToUnixMicros(absl::Now()) % 1000000);
    unlink(socket_.c_str());
    const std::string km = km_test::Runfile("km/km");
    const std::string payload = km_test::Runfile("km_hooks/bin/" + Payload());
    std::vector<std::string> args = {km, "--accel=" + GetParam()};
    for (const std::string& flag : KmFlags()) args.push_back(flag);
    if (WithSocket()) {
      args.insert(args.end(), {"--debug-socket", socket_});
      if (Payload() == "target") args.push_back("--debug-wait");
    }
    args.push_back(payload);
    const std::string out = absl::StrFormat("%s/km-%d", getenv("TEST_TMPDIR"), counter_);
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; e++) env.emplace_back(*e);
    auto km_child = km_test::Child::Start(args, env, out + ".out", out + ".err");
    ASSERT_TRUE(km_child.ok()) << km_child.status();
    km_.emplace(*std::move(km_child));
    km_pid_ = km_->pid();
    if (!WithSocket()) {
      socket_ = absl::StrFormat("/tmp/km-%d.sock", km_pid_);
      return;
    }
    ASSERT_NO_FATAL_FAILURE(ConnectWhenReady());
  }

  void ConnectWhenReady() {
    struct stat st;
    for (int i = 0; i < 2000 && stat(socket_.c_str(), &st) != 0; i++) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    ASSERT_EQ(stat(socket_.c_str(), &st), 0) << "km made no socket at " << socket_;
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    stub_ = v1::Debug::NewStub(grpc::CreateChannel("unix:" + socket_,
                                                   grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    km_.reset();  // kills km if it still runs
    if (!socket_.empty()) unlink(socket_.c_str());
  }

  // km's exit status (a shell's view: 128+signal if killed), waiting at most 20 s: well under
  // the calls' deadline, so that a thread stopped by mistake shows as a failure.
  int WaitKm() { return km_->Wait(absl::Seconds(20)); }

  std::unique_ptr<grpc::ClientContext> Context() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    return ctx;
  }

  std::string Attach(const std::string& name = "test-client") {
    std::string session;
    grpc::Status s = TryAttach(name, &session);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return session;
  }
  grpc::Status TryAttach(const std::string& name, std::string* session = nullptr) {
    v1::AttachRequest req;
    req.set_client_name(name);
    v1::AttachResponse resp;
    grpc::Status s = stub_->Attach(Context().get(), req, &resp);
    if (session != nullptr) *session = resp.session();
    return s;
  }

  void OpenEvents(const std::string& session) {
    events_ctx_ = Context();
    v1::EventsRequest req;
    req.set_session(session);
    events_ = stub_->Events(events_ctx_.get(), req);
    // km sends it once the stream is open: what the test does next reaches the stream.
    events_->WaitForInitialMetadata();
  }

  // The next stop event, skipping thread and process notices unless asked for.
  v1::Event NextEvent() {
    v1::Event ev;
    EXPECT_TRUE(events_->Read(&ev)) << "the event stream ended";
    return ev;
  }
  v1::StopEvent NextStop() {
    for (;;) {
      v1::Event ev = NextEvent();
      if (ev.has_stop()) return ev.stop();
      if (ev.kind_case() == v1::Event::KIND_NOT_SET) return {};
    }
  }

  grpc::Status Resume(const std::string& session, int tid, v1::ResumeMode mode) {
    v1::ResumeRequest req;
    req.set_session(session);
    v1::ThreadAction* a = req.add_actions();
    a->set_tid(tid);
    a->set_mode(mode);
    v1::ResumeResponse resp;
    return stub_->Resume(Context().get(), req, &resp);
  }

  // A Resume that asks km to answer the next stop in the call (ResumeRequest.wait_for_stop_ms).
  v1::ResumeResponse ResumeWaiting(const std::string& session, int tid, v1::ResumeMode mode,
                                   uint32_t wait_ms, bool list_threads = false) {
    v1::ResumeRequest req;
    req.set_session(session);
    req.set_wait_for_stop_ms(wait_ms);
    req.set_list_threads(list_threads);
    v1::ThreadAction* a = req.add_actions();
    a->set_tid(tid);
    a->set_mode(mode);
    v1::ResumeResponse resp;
    grpc::Status s = stub_->Resume(Context().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  grpc::Status Breakpoint(const std::string& session, v1::BreakpointKind kind, uint64_t addr,
                          uint64_t len, bool insert) {
    v1::BreakpointRequest req;
    req.set_session(session);
    req.set_kind(kind);
    req.set_addr(addr);
    req.set_len(len);
    v1::BreakpointResponse resp;
    return insert ? stub_->InsertBreakpoint(Context().get(), req, &resp)
                  : stub_->RemoveBreakpoint(Context().get(), req, &resp);
  }

  absl::StatusOr<std::string> Read(uint64_t addr, uint64_t len) {
    v1::ReadMemoryRequest req;
    req.set_addr(addr);
    req.set_len(len);
    v1::ReadMemoryResponse resp;
    grpc::Status s = stub_->ReadMemory(Context().get(), req, &resp);
    if (!s.ok()) return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
    return resp.data();
  }

  int StopWithSignalThenDie(bool listed);

  void ExpectPayloadFinished() {
    EXPECT_EQ(WaitKm(), 7);
    EXPECT_EQ(km_->Out(), "done 3 42\n");
  }

  static int counter_;
  std::map<std::string, uint64_t> syms_;
  std::string socket_;
  std::optional<km_test::Child> km_;
  pid_t km_pid_ = -1;
  std::unique_ptr<v1::Debug::Stub> stub_;
  std::unique_ptr<grpc::ClientContext> events_ctx_;
  std::unique_ptr<grpc::ClientReader<v1::Event>> events_;
};

int DebugServiceTest::counter_ = 0;

TEST_P(DebugServiceTest, HeldAtEntryThenStepsOneInstructionAndRunsToExit) {
  ASSERT_TRUE(syms_.count("watched") && syms_.count("worker") && syms_.count("touch"));
  v1::Target target;
  ASSERT_TRUE(stub_->GetTarget(Context().get(), {}, &target).ok());
  EXPECT_EQ(target.engine().name(), GetParam());
  EXPECT_EQ(target.pid(), km_pid_);
  ASSERT_EQ(target.argv_size(), 1);
  EXPECT_EQ(target.argv(0), target.payload_path());
  EXPECT_FALSE(target.auxv().empty());
  bool text_has_entry = false;
  for (const auto& r : target.regions()) {
    if (r.kind() == v1::REGION_KIND_TEXT && r.exec() && target.entry() >= r.start() &&
        target.entry() < r.start() + r.size()) {
      text_has_entry = true;
    }
  }
  EXPECT_TRUE(text_has_entry);

  const std::string session = Attach();
  OpenEvents(session);
  v1::StopEvent first = NextStop();
  EXPECT_EQ(first.tid(), km_pid_);
  EXPECT_EQ(first.reason().kind(), v1::STOP_KIND_INTERRUPTED);
  EXPECT_EQ(first.rip(), target.entry());

  // musl's _start begins with `xor %rbp,%rbp` (48 31 ed): one step is three bytes on.
  auto code = Read(target.entry(), 3);
  ASSERT_TRUE(code.ok());
  ASSERT_EQ(*code, std::string("\x48\x31\xed", 3));
  ASSERT_TRUE(Resume(session, km_pid_, v1::RESUME_MODE_STEP).ok());
  v1::StopEvent step = NextStop();
  EXPECT_EQ(step.reason().kind(), v1::STOP_KIND_STEP);
  EXPECT_EQ(step.rip(), target.entry() + 3);

  ASSERT_TRUE(Resume(session, 0, v1::RESUME_MODE_CONTINUE).ok());
  bool created = false, exited = false;
  int exit_status = -1;
  for (;;) {
    v1::Event ev = NextEvent();
    if (ev.has_thread_created()) created = true;
    if (ev.has_thread_exited()) exited = true;
    if (ev.has_process_exited()) {
      exit_status = ev.process_exited().status();
      break;
    }
    if (ev.kind_case() == v1::Event::KIND_NOT_SET) break;
  }
  EXPECT_TRUE(created);
  EXPECT_TRUE(exited);
  EXPECT_EQ(exit_status, 7);
  ExpectPayloadFinished();
}

TEST_P(DebugServiceTest, SoftwareBreakpointsHitTheRightThreadAndHideTheirInt3) {
  const std::string session = Attach();
  OpenEvents(session);
  NextStop();
  const uint64_t main_addr = syms_["main"], worker_addr = syms_["worker"];
  auto before = Read(main_addr, 16);
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(Breakpoint(session, v1::BREAKPOINT_KIND_SOFTWARE, main_addr, 1, true).ok());
  ASSERT_TRUE(Breakpoint(session, v1::BREAKPOINT_KIND_SOFTWARE, worker_addr, 1, true).ok());
  auto during = Read(main_addr, 16);
  ASSERT_TRUE(during.ok());
  EXPECT_EQ(*during, *before) << "reads must show the original code, not the int3";

  ASSERT_TRUE(Resume(session, 0, v1::RESUME_MODE_CONTINUE).ok());
  v1::StopEvent at_main = NextStop();
  EXPECT_EQ(at_main.reason().kind(), v1::STOP_KIND_BREAKPOINT);
  EXPECT_EQ(at_main.rip(), main_addr);
  EXPECT_EQ(at_main.tid(), km_pid_);

  // Resuming on top of the breakpoint steps over it inside km.
  ASSERT_TRUE(Resume(session, 0, v1::RESUME_MODE_CONTINUE).ok());
  v1::StopEvent at_worker = NextStop();
  EXPECT_EQ(at_worker.reason().kind(), v1::STOP_KIND_BREAKPOINT);
  EXPECT_EQ(at_worker.rip(), worker_addr);
  EXPECT_NE(at_worker.tid(), km_pid_);

  ASSERT_TRUE(Breakpoint(session, v1::BREAKPOINT_KIND_SOFTWARE, main_addr, 1, false).ok());
  ASSERT_TRUE(Breakpoint(session, v1::BREAKPOINT_KIND_SOFTWARE, worker_addr, 1, false).ok());
  ASSERT_TRUE(Resume(session, 0, v1::RESUME_MODE_CONTINUE).ok());
  ExpectPayloadFinished();
}

TEST_P(DebugServiceTest, RegisterWriteThenReadRoundTrips) {
  const std::string session = Attach();
  OpenEvents(session);
  NextStop();
  v1::ReadRegistersRequest rreq;
  rreq.set_tid(km_pid_);
  rreq.set_fpu(true);
  v1::Registers original;
  ASSERT_TRUE(stub_->ReadRegisters(Context().get(), rreq, &original).ok());
  ASSERT_EQ(original.fpu().xmm_size(), 16);
  EXPECT_EQ(original.fpu().fcw(), 0x37fu);
  EXPECT_EQ(original.fpu().mxcsr(), 0x1f80u);

  v1::Registers changed = original;
  changed.set_rbx(0x1122334455667788);
  changed.mutable_fpu()->set_xmm(3, std::string("0123456789abcdef"));
  v1::WriteRegistersRequest wreq;
  wreq.set_session(session);
  wreq.set_tid(km_pid_);
  *wreq.mutable_registers() = changed;
  v1::WriteRegistersResponse wresp;
  ASSERT_TRUE(stub_->WriteRegisters(Context().get(), wreq, &wresp).ok());
  v1::Registers back;
  ASSERT_TRUE(stub_->ReadRegisters(Context().get(), rreq, &back).ok());
  EXPECT_EQ(back.rbx(), 0x1122334455667788u);
  EXPECT_EQ(back.fpu().xmm(3), "0123456789abcdef");
  EXPECT_EQ(back.rip(), original.rip());

  *wreq.mutable_registers() = original;
  ASSERT_TRUE(stub_->WriteRegisters(Context().get(), wreq, &wresp).ok());
  ASSERT_TRUE(Resume(session, 0, v1::RESUME_MODE_CONTINUE).ok());
  ExpectPayloadFinished();
}

TEST_P(DebugServiceTest, WriteWatchpointStopsAfterTheStoreWithItsAddress) {
  v1::Target target;
  ASSERT_TRUE(stub_->GetTarget(Context().get(), {}, &target).ok());
  const std::string session = Attach();
  OpenEvents(session);
  NextStop();
  const uint64_t watched = syms_["watched"];
  grpc::Status s = Breakpoint(session, v1::BREAKPOINT_KIND_WATCH_WRITE, watched, 8, true);
  if (!target.engine().data_watchpoints()) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED) << s.error_message();
    GTEST_SKIP() << GetParam() << ": no data watchpoints on this engine yet";
  }
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(Resume(session, 0, v1::RESUME_MODE_CONTINUE).ok());
  v1::StopEvent hit = NextStop();
  EXPECT_EQ(hit.reason().kind(), v1::STOP_KIND_WATCHPOINT);
  EXPECT_EQ(hit.reason().watch_addr(), watched);
  EXPECT_EQ(hit.reason().watch_kind(), v1::WATCH_KIND_WRITE);
  auto value = Read(watched, 8);
  ASSERT_TRUE(value.ok());
  uint64_t v;
  memcpy(&v, value->data(), 8);
  EXPECT_EQ(v, 42u);
  ASSERT_TRUE(Breakpoint(session, v1::BREAKPOINT_KIND_WATCH_WRITE, watched, 8, false).ok());
  ASSERT_TRUE(Resume(session, 0, v1::RESUME_MODE_CONTINUE).ok());
  ExpectPayloadFinished();
}

TEST_P(DebugServiceTest, BadAddressesGetClearErrorsOrShortReads) {
  v1::Target target;
  ASSERT_TRUE(stub_->GetTarget(Context().get(), {}, &target).ok());
  auto unmapped = Read(0x1000, 16);
  EXPECT_EQ(unmapped.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unmapped.status().message().find("0x1000"), std::string::npos);
  auto huge = Read(target.entry(), 1ull << 40);
  EXPECT_EQ(huge.status().code(), absl::StatusCode::kInvalidArgument);
  // The stack is the top mapping: a read running past its end comes back short.
  const v1::MemoryRegion* stack = nullptr;
  for (const auto& r : target.regions()) {
    if (r.kind() == v1::REGION_KIND_STACK) stack = &r;
  }
  ASSERT_NE(stack, nullptr);
  auto partial = Read(stack->start() + stack->size() - 8, 64);
  ASSERT_TRUE(partial.ok());
  EXPECT_EQ(partial->size(), 8u);
}

// A step from a breakpoint on a `syscall` ends when the syscall returns, one instruction on, as
// any step of a syscall does.
TEST_P(DebugServiceTest, StepFromABreakpointOnASyscallEndsAfterIt) {
  const uint64_t syscall = syms_["pid_syscall"];
  ASSERT_NE(syscall, 0u);
  const std::string session = Attach();
  OpenEvents(session);
  NextStop();
  ASSERT_TRUE(Breakpoint(session, v1::BREAKPOINT_KIND_SOFTWARE, syscall, 1, true).ok());
  ASSERT_TRUE(Resume(session, 0, v1::RESUME_MODE_CONTINUE).ok());
  v1::StopEvent hit = NextStop();
  EXPECT_EQ(hit.reason().kind(), v1::STOP_KIND_BREAKPOINT);
  ASSERT_EQ(hit.rip(), syscall);
  ASSERT_TRUE(Resume(session, hit.tid(), v1::RESUME_MODE_STEP).ok());
  v1::StopEvent step = NextStop();
  EXPECT_EQ(step.reason().kind(), v1::STOP_KIND_STEP);
  EXPECT_EQ(step.rip(), syscall + 2);
  EXPECT_EQ(step.registers().rax(), static_cast<uint64_t>(km_pid_)) << "getpid's answer";
  ASSERT_TRUE(Resume(session, 0, v1::RESUME_MODE_CONTINUE).ok());
  ExpectPayloadFinished();
}

// What gdb's tests cannot send: signal numbers Linux has not, and a list without a session.
// (gdb_test's SignalsGdbPassesReachThePayloadWithoutAStop shows passed signals not stopping.)
TEST_P(DebugServiceTest, PassSignalsRefusesWhatIsNotALinuxSignal) {
  const std::string session = Attach();
  auto pass = [&](const std::string& s, std::vector<int> signals) {
    v1::PassSignalsRequest req;
    req.set_session(s);
    for (int n : signals) req.add_signals(n);
    v1::PassSignalsResponse resp;
    return stub_->PassSignals(Context().get(), req, &resp);
  };
  EXPECT_TRUE(pass(session, {14, 17, 64}).ok());
  EXPECT_TRUE(pass(session, {}).ok());
  for (int bad : {0, 65, -1}) {
    grpc::Status s = pass(session, {14, bad});
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_TRUE(absl::StrContains(s.error_message(), absl::StrFormat("signal %d", bad)))
        << s.error_message();
  }
  EXPECT_FALSE(pass("not-the-session", {14}).ok());
  // The same for the signals a Detach lets the program have; the session goes on.
  v1::DetachRequest detach;
  detach.set_session(session);
  detach.mutable_program_signals()->add_signals(65);
  v1::DetachResponse detached;
  grpc::Status s = stub_->Detach(Context().get(), detach, &detached);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_TRUE(pass(session, {14}).ok());
}

// gdb's `catch syscall`: a caught syscall stops its thread at entry (not yet run: rax is its
// number) and at return (rax is its result); a step from the entry stop ends after the syscall.
TEST_P(DebugServiceTest, CaughtSyscallsStopAtEntryAndReturn) {
  const uint64_t syscall = syms_["pid_syscall"];
  ASSERT_NE(syscall, 0u);
  const std::string session = Attach();
  OpenEvents(session);
  NextStop();
  auto catch_syscalls = [&](bool enabled, std::vector<int64_t> numbers) {
    v1::CatchSyscallsRequest req;
    req.set_session(session);
    req.set_enabled(enabled);
    for (int64_t n : numbers) req.add_numbers(n);
    v1::CatchSyscallsResponse resp;
    return stub_->CatchSyscalls(Context().get(), req, &resp);
  };
  EXPECT_EQ(catch_syscalls(true, {-1}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(catch_syscalls(true, {SYS_getpid}).ok());
  ASSERT_TRUE(Resume(session, 0, v1::RESUME_MODE_CONTINUE).ok());
  v1::StopEvent entry = NextStop();
  EXPECT_EQ(entry.reason().kind(), v1::STOP_KIND_SYSCALL_ENTRY);
  EXPECT_EQ(entry.reason().syscall(), SYS_getpid);
  EXPECT_EQ(entry.rip(), syscall + 2);
  EXPECT_EQ(entry.registers().rax(), static_cast<uint64_t>(SYS_getpid));
  ASSERT_TRUE(Resume(session, entry.tid(), v1::RESUME_MODE_CONTINUE).ok());
  v1::StopEvent ret = NextStop();
  EXPECT_EQ(ret.reason().kind(), v1::STOP_KIND_SYSCALL_RETURN);
  EXPECT_EQ(ret.reason().syscall(), SYS_getpid);
  EXPECT_EQ(ret.rip(), syscall + 2);
  EXPECT_EQ(ret.registers().rax(), static_cast<uint64_t>(km_pid_)) << "getpid's answer";
  ASSERT_TRUE(catch_syscalls(false, {}).ok());
  ASSERT_TRUE(Resume(session, 0, v1::RESUME_MODE_CONTINUE).ok());
  ExpectPayloadFinished();
}

TEST_P(DebugServiceTest, AStepFromASyscallEntryStopEndsAfterTheSyscall) {
  const uint64_t syscall = syms_["pid_syscall"];
  ASSERT_NE(syscall, 0u);
  const std::string session = Attach();
  OpenEvents(session);
  NextStop();
  v1::CatchSyscallsRequest req;
  req.set_session(session);
  req.set_enabled(true);  // every syscall
  v1::CatchSyscallsResponse resp;
  ASSERT_TRUE(stub_->CatchSyscalls(Context().get(), req, &resp).ok());
  // Every thread's syscalls stop it: each stop's own thread is resumed, never all at once, so
  // no stop reported meanwhile goes stale.
  v1::StopEvent entry;
  int tid = 0;
  do {
    ASSERT_TRUE(Resume(session, tid, v1::RESUME_MODE_CONTINUE).ok());
    entry = NextStop();
    tid = entry.tid();
    ASSERT_TRUE(entry.reason().kind() == v1::STOP_KIND_SYSCALL_ENTRY ||
                entry.reason().kind() == v1::STOP_KIND_SYSCALL_RETURN)
        << entry.ShortDebugString();
  } while (entry.rip() != syscall + 2 || entry.reason().kind() != v1::STOP_KIND_SYSCALL_ENTRY);
  grpc::Status stepped = Resume(session, entry.tid(), v1::RESUME_MODE_STEP);
  ASSERT_TRUE(stepped.ok()) << stepped.error_message();
  v1::StopEvent step = NextStop();
  EXPECT_EQ(step.reason().kind(), v1::STOP_KIND_STEP);
  EXPECT_EQ(step.rip(), syscall + 2);
  EXPECT_EQ(step.registers().rax(), static_cast<uint64_t>(km_pid_)) << "getpid's answer";
  req.set_enabled(false);
  ASSERT_TRUE(stub_->CatchSyscalls(Context().get(), req, &resp).ok());
  ASSERT_TRUE(Resume(session, 0, v1::RESUME_MODE_CONTINUE).ok());
  ExpectPayloadFinished();
}

TEST_P(DebugServiceTest, SecondClientMayReadButNotControl) {
  const std::string session = Attach("first-debugger");
  grpc::Status s = TryAttach("second");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("first-debugger"), std::string::npos) << s.error_message();
  EXPECT_EQ(Resume("not-a-session", 0, v1::RESUME_MODE_CONTINUE).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::ListThreadsResponse threads;
  ASSERT_TRUE(stub_->ListThreads(Context().get(), {}, &threads).ok());
  ASSERT_EQ(threads.threads_size(), 1);
  EXPECT_EQ(threads.threads(0).state(), v1::THREAD_STATE_STOPPED);
}

// A client that attached and died before opening its Events stream does not hold km forever.
class StaleSessionTest : public DebugServiceTest {
 protected:
  std::vector<std::string> KmFlags() const override { return {"--debug-session-grace=1s"}; }
};

TEST_P(StaleSessionTest, AnAttachThatNeverOpenedItsStreamIsTakenOverAfterTheGrace) {
  ASSERT_FALSE(Attach("died-before-events").empty());
  grpc::Status s = TryAttach("next");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << "within the grace";
  EXPECT_NE(s.error_message().find("died-before-events"), std::string::npos) << s.error_message();
  absl::SleepFor(absl::Milliseconds(1200));
  const std::string next = Attach("next");
  ASSERT_FALSE(next.empty());
  // Taking over ended the stale session as a Detach does: the payload, held at entry, was let
  // go. From here km may exit at any moment (no stream waits for its exit), so no further call
  // is made to it; that the dead session lost control is session_test's.
  ExpectPayloadFinished();
}

TEST_P(StaleSessionTest, ASessionWithItsStreamOpenIsKeptPastTheGrace) {
  const std::string live = Attach("gdb");
  OpenEvents(live);
  NextStop();
  absl::SleepFor(absl::Milliseconds(1200));
  EXPECT_EQ(TryAttach("next").error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(Resume(live, 0, v1::RESUME_MODE_CONTINUE).ok());
  ExpectPayloadFinished();
}

TEST_P(DebugServiceTest, ClientDeathRemovesBreakpointsAndLetsThePayloadFinish) {
  const std::string session = Attach();
  OpenEvents(session);
  NextStop();
  ASSERT_TRUE(Breakpoint(session, v1::BREAKPOINT_KIND_SOFTWARE, syms_["touch"], 1, true).ok());
  // The client goes away without a word: its event stream ends.
  events_ctx_->TryCancel();
  events_.reset();
  ExpectPayloadFinished();
}

// gdb's QProgramSignals reaches km as the session goes on: a signal a thread stopped with is
// kept from the payload when the session ends however it ends, a dead client's included,
// unless listed. Returns km's exit status.
int DebugServiceTest::StopWithSignalThenDie(bool listed) {
  const std::string session = Attach();
  OpenEvents(session);
  NextStop();
  // km forwards a signal sent to it to the payload (here held at its entry: the signal waits).
  EXPECT_EQ(kill(km_pid_, SIGUSR2), 0);
  EXPECT_TRUE(Resume(session, 0, v1::RESUME_MODE_CONTINUE).ok());
  v1::StopEvent stop = NextStop();
  EXPECT_EQ(stop.reason().kind(), v1::STOP_KIND_SIGNAL);
  EXPECT_EQ(stop.reason().signal(), SIGUSR2);
  v1::ProgramSignalsRequest req;
  req.set_session(session);
  req.add_signals(SIGUSR1);
  if (listed) req.add_signals(SIGUSR2);
  v1::ProgramSignalsResponse resp;
  EXPECT_TRUE(stub_->ProgramSignals(Context().get(), req, &resp).ok());
  // A bad list changes nothing.
  req.add_signals(65);
  EXPECT_EQ(stub_->ProgramSignals(Context().get(), req, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  events_ctx_->TryCancel();
  events_.reset();
  return WaitKm();
}

TEST_P(DebugServiceTest, ASignalLeftOutOfProgramSignalsIsKeptWhenTheClientDies) {
  EXPECT_EQ(StopWithSignalThenDie(/*listed=*/false), 7);
  EXPECT_EQ(km_->Out(), "done 3 42\n");
}

TEST_P(DebugServiceTest, ASignalInProgramSignalsIsDeliveredWhenTheClientDies) {
  EXPECT_EQ(StopWithSignalThenDie(/*listed=*/true), 128 + SIGUSR2);
}

TEST_P(DebugServiceTest, DetachRemovesBreakpointsAndLetsThePayloadFinish) {
  const std::string session = Attach();
  OpenEvents(session);
  NextStop();
  ASSERT_TRUE(Breakpoint(session, v1::BREAKPOINT_KIND_SOFTWARE, syms_["touch"], 1, true).ok());
  ASSERT_TRUE(Breakpoint(session, v1::BREAKPOINT_KIND_HARDWARE, syms_["worker"], 1, true).ok());
  v1::DetachRequest req;
  req.set_session(session);
  v1::DetachResponse resp;
  ASSERT_TRUE(stub_->Detach(Context().get(), req, &resp).ok());
  ExpectPayloadFinished();
}

// A breakpoint command as gdb's agent-style dprintf sends it: printf(label " %d\n", $rdi), or
// printf(label "\n") without rdi.
std::string PrintCommand(const std::string& label, bool rdi) {
  const std::string format = label + (rdi ? " %d\\n" : "\\n");
  std::string code;
  if (rdi) code += std::string("\x26\x00\x05", 3);
  code += std::string("\x22\x00\x22\x00\x34", 5);
  code += static_cast<char>(rdi ? 1 : 0);
  code += '\0';
  code += static_cast<char>(format.size() + 1);
  code += format;
  code += std::string("\0\x27", 2);
  return code;
}

TEST_P(DebugServiceTest, BreakpointCommandsPrintWithoutAStopAndOnlyPersistWhenAsked) {
  const std::string session = Attach();
  OpenEvents(session);
  NextStop();
  auto insert = [&](v1::BreakpointKind kind, uint64_t addr, const std::string& command,
                    bool persist) {
    v1::BreakpointRequest req;
    req.set_session(session);
    req.set_kind(kind);
    req.set_addr(addr);
    req.set_len(1);
    req.add_commands(command);
    req.set_persist_commands(persist);
    v1::BreakpointResponse resp;
    return stub_->InsertBreakpoint(Context().get(), req, &resp);
  };
  // Bad input changes nothing: commands on a watchpoint, bytecode that does not decode.
  grpc::Status s = insert(v1::BREAKPOINT_KIND_WATCH_WRITE, syms_["watched"],
                          PrintCommand("w", false), false);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  s = insert(v1::BREAKPOINT_KIND_SOFTWARE, syms_["touch"], std::string("\x34\x01", 2), true);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();

  // The worker's hit prints while the session lasts; touch's persists past it (a hardware
  // breakpoint kept in the debug registers); printf's would print only in the session.
  ASSERT_TRUE(insert(v1::BREAKPOINT_KIND_HARDWARE, syms_["worker"], PrintCommand("worker", true),
                     true).ok());
  ASSERT_TRUE(insert(v1::BREAKPOINT_KIND_HARDWARE, syms_["touch"], PrintCommand("touch", true),
                     true).ok());
  ASSERT_TRUE(insert(v1::BREAKPOINT_KIND_SOFTWARE, syms_["printf"], PrintCommand("printf", false),
                     false).ok());
  ASSERT_TRUE(Breakpoint(session, v1::BREAKPOINT_KIND_SOFTWARE, syms_["pid_syscall"], 1, true)
                  .ok());
  ASSERT_TRUE(Resume(session, 0, v1::RESUME_MODE_CONTINUE).ok());
  // The first stop is the plain breakpoint's: the worker's hit printed instead of stopping.
  v1::StopEvent stop = NextStop();
  EXPECT_EQ(stop.reason().kind(), v1::STOP_KIND_BREAKPOINT);
  EXPECT_EQ(stop.rip(), syms_["pid_syscall"]);
  EXPECT_EQ(km_->Out(), "worker 0\n");
  v1::DetachRequest req;
  req.set_session(session);
  v1::DetachResponse resp;
  ASSERT_TRUE(stub_->Detach(Context().get(), req, &resp).ok());
  EXPECT_EQ(WaitKm(), 7);
  EXPECT_EQ(km_->Out(), "worker 0\ntouch 42\ndone 3 42\n");
}

TEST_P(DebugServiceTest, TracepointsCollectWithoutAStopBesideTheDebuggersBreakpoints) {
  const std::string session = Attach();
  OpenEvents(session);
  NextStop();
  const uint64_t worker = syms_["worker"], touch = syms_["touch"];
  v1::StartTraceRequest req;
  v1::Tracepoint* tp = req.add_tracepoints();
  tp->set_number(1);
  tp->set_address(worker);
  tp->set_enabled(true);
  tp->set_collect_registers(true);
  v1::MemoryCollection* m = tp->add_memory();
  m->set_base_register(-1);
  m->set_offset(static_cast<int64_t>(syms_["counter"]));
  m->set_length(8);
  tp = req.add_tracepoints();
  tp->set_number(2);
  tp->set_address(touch);
  tp->set_enabled(true);
  tp->set_condition(std::string("\x26\x00\x05\x22\x2a\x13\x27", 7));  // $rdi == 42
  m = tp->add_memory();
  m->set_base_register(-1);
  m->set_offset(static_cast<int64_t>(syms_["watched"]));
  m->set_length(8);
  v1::TraceStatus status;
  // Without the session, and at an address with no code, nothing starts.
  grpc::Status s = stub_->StartTrace(Context().get(), req, &status);
  EXPECT_FALSE(s.ok());
  req.set_session(session);
  v1::StartTraceRequest bad = req;
  bad.mutable_tracepoints(1)->set_address(0x10);
  s = stub_->StartTrace(Context().get(), bad, &status);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  s = stub_->StartTrace(Context().get(), req, &status);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(status.running());

  // The debugger's breakpoint at the worker comes and goes; the tracepoint's int3 stays.
  ASSERT_TRUE(Breakpoint(session, v1::BREAKPOINT_KIND_SOFTWARE, worker, 1, true).ok());
  ASSERT_TRUE(Breakpoint(session, v1::BREAKPOINT_KIND_SOFTWARE, worker, 1, false).ok());
  ASSERT_TRUE(Breakpoint(session, v1::BREAKPOINT_KIND_SOFTWARE, touch, 1, true).ok());
  ASSERT_TRUE(Resume(session, 0, v1::RESUME_MODE_CONTINUE).ok());
  // The worker's hit collected and ran on: the first stop is the debugger's, at touch, whose
  // tracepoint collected first.
  v1::StopEvent stop = NextStop();
  EXPECT_EQ(stop.reason().kind(), v1::STOP_KIND_BREAKPOINT);
  EXPECT_EQ(stop.rip(), touch);
  ASSERT_TRUE(stub_->GetTraceStatus(Context().get(), {}, &status).ok());
  EXPECT_TRUE(status.running());
  EXPECT_EQ(status.frames(), 2u);
  ASSERT_EQ(status.tracepoints_size(), 2);
  EXPECT_EQ(status.tracepoints(0).hits() + status.tracepoints(1).hits(), 2u);

  auto frame = [&](uint64_t n) {
    v1::FindTraceFrameRequest find;
    find.set_number(n);
    v1::TraceFrame f;
    EXPECT_TRUE(stub_->FindTraceFrame(Context().get(), find, &f).ok());
    return f;
  };
  v1::TraceFrame f = frame(0);
  ASSERT_TRUE(f.found());
  EXPECT_EQ(f.tracepoint(), 1u);
  EXPECT_EQ(f.pc(), worker);
  EXPECT_NE(f.tid(), km_pid_);
  EXPECT_EQ(f.registers().rip(), worker);
  EXPECT_TRUE(f.registers().has_fpu());
  ASSERT_EQ(f.memory_size(), 1);
  EXPECT_EQ(f.memory(0).address(), syms_["counter"]);
  EXPECT_EQ(f.memory(0).data(), std::string(8, '\0'));
  f = frame(1);
  ASSERT_TRUE(f.found());
  EXPECT_EQ(f.tracepoint(), 2u);
  EXPECT_EQ(f.tid(), km_pid_);
  EXPECT_FALSE(f.has_registers());
  ASSERT_EQ(f.memory_size(), 1);
  EXPECT_EQ(f.memory(0).data(), std::string(8, '\0'));  // before touch stores 42
  EXPECT_FALSE(frame(2).found());

  v1::StopTraceRequest stop_req;
  stop_req.set_session(session);
  ASSERT_TRUE(stub_->StopTrace(Context().get(), stop_req, &status).ok());
  EXPECT_FALSE(status.running());
  EXPECT_EQ(status.stop_reason(), v1::TRACE_STOP_REASON_REQUESTED);
  v1::DetachRequest detach;
  detach.set_session(session);
  v1::DetachResponse resp;
  ASSERT_TRUE(stub_->Detach(Context().get(), detach, &resp).ok());
  ExpectPayloadFinished();
}

// while-stepping through a syscall instruction: the syscall is one step, its frame at the
// instruction after it, as ptrace's single-step gives gdbserver.
TEST_P(DebugServiceTest, WhileSteppingStepsASyscallAsOneInstruction) {
  const std::string session = Attach();
  OpenEvents(session);
  NextStop();
  v1::StartTraceRequest req;
  req.set_session(session);
  v1::Tracepoint* tp = req.add_tracepoints();
  tp->set_number(1);
  tp->set_address(syms_["own_pid"]);
  tp->set_enabled(true);
  tp->set_step_count(6);
  tp->set_step_collect_registers(true);
  v1::TraceStatus status;
  ASSERT_TRUE(stub_->StartTrace(Context().get(), req, &status).ok());
  ASSERT_TRUE(Breakpoint(session, v1::BREAKPOINT_KIND_SOFTWARE, syms_["touch"], 1, true).ok());
  ASSERT_TRUE(Resume(session, 0, v1::RESUME_MODE_CONTINUE).ok());
  EXPECT_EQ(NextStop().rip(), syms_["touch"]);
  ASSERT_TRUE(stub_->GetTraceStatus(Context().get(), {}, &status).ok());
  ASSERT_EQ(status.frames(), 7u);
  std::vector<uint64_t> pcs;
  for (uint64_t n = 0; n < status.frames(); ++n) {
    v1::FindTraceFrameRequest find;
    find.set_number(n);
    v1::TraceFrame f;
    ASSERT_TRUE(stub_->FindTraceFrame(Context().get(), find, &f).ok());
    if (n > 0) {
      EXPECT_EQ(f.registers().rip(), f.pc());
    }
    pcs.push_back(f.pc());
  }
  const uint64_t syscall = syms_["pid_syscall"];
  auto at = std::find(pcs.begin(), pcs.end(), syscall);
  ASSERT_NE(at, pcs.end()) << "no step reached the syscall";
  ASSERT_NE(at + 1, pcs.end());
  EXPECT_EQ(*(at + 1), syscall + 2) << "the syscall's step ends after it";
  v1::DetachRequest detach;
  detach.set_session(session);
  v1::DetachResponse resp;
  ASSERT_TRUE(stub_->Detach(Context().get(), detach, &resp).ok());
  ExpectPayloadFinished();
}

TEST_P(DebugServiceTest, PeerOfAnotherUserIsRefused) {
  if (getuid() != 0) GTEST_SKIP() << "needs root to connect as another user";
  // Past the file mode (0600, checked in SetUp), km checks who connected: open the mode up and
  // connect as nobody. km must hang up without a word.
  ASSERT_EQ(chmod(socket_.c_str(), 0666), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(2);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, socket_.c_str(), sizeof(addr.sun_path) - 1);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) _exit(3);
    // An HTTP/2 preface: a served client would get the server's SETTINGS frame back.
    const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    (void)!send(fd, preface, sizeof(preface) - 1, MSG_NOSIGNAL);
    char buf[64];
    // Hung up: end of file, or a reset since the preface was never read.
    _exit(read(fd, buf, sizeof(buf)) <= 0 ? 0 : 4);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 2) GTEST_SKIP() << "cannot switch to uid 65534 here";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "3: connect failed, 4: km answered";
  // km itself goes on serving its own user.
  v1::Target target;
  EXPECT_TRUE(stub_->GetTarget(Context().get(), {}, &target).ok());
}

TEST_P(DebugServiceTest, HardwareBreakpointStopsBeforeTheInstruction) {
  const std::string session = Attach();
  OpenEvents(session);
  NextStop();
  ASSERT_TRUE(Breakpoint(session, v1::BREAKPOINT_KIND_HARDWARE, syms_["touch"], 1, true).ok());
  ASSERT_TRUE(Resume(session, 0, v1::RESUME_MODE_CONTINUE).ok());
  v1::StopEvent hit = NextStop();
  EXPECT_EQ(hit.reason().kind(), v1::STOP_KIND_HW_BREAKPOINT);
  EXPECT_EQ(hit.rip(), syms_["touch"]);
  EXPECT_EQ(hit.tid(), km_pid_);
  // Continuing from it runs the instruction it stopped before, and the payload ends.
  ASSERT_TRUE(Resume(session, 0, v1::RESUME_MODE_CONTINUE).ok());
  ExpectPayloadFinished();
}

TEST_P(DebugServiceTest, StepWithWaitAnswersTheStopInTheCallAndNotOnTheStream) {
  v1::Target target;
  ASSERT_TRUE(stub_->GetTarget(Context().get(), {}, &target).ok());
  const std::string session = Attach();
  OpenEvents(session);
  NextStop();  // the hold at entry: the stream's first event

  // musl's _start: `xor %rbp,%rbp` (3 bytes), then `mov %rsp,%rdi` (3 bytes).
  v1::ResumeResponse step = ResumeWaiting(session, km_pid_, v1::RESUME_MODE_STEP, 100);
  ASSERT_TRUE(step.has_stop()) << "the step's stop did not come inside the call";
  EXPECT_EQ(step.stop().tid(), km_pid_);
  EXPECT_EQ(step.stop().reason().kind(), v1::STOP_KIND_STEP);
  EXPECT_EQ(step.stop().rip(), target.entry() + 3);
  EXPECT_EQ(step.stop().registers().rip(), target.entry() + 3);
  EXPECT_EQ(step.stream_events_before(), 1u);
  // The stack around rsp comes with the stop, as ReadMemory shows it.
  EXPECT_EQ(step.stop().stack_addr(), step.stop().rsp() - 128);
  auto stack = Read(step.stop().stack_addr(), 128 + 256);
  ASSERT_TRUE(stack.ok());
  EXPECT_EQ(step.stop().stack().size(), 128u + 256u);
  EXPECT_EQ(step.stop().stack(), *stack);
  EXPECT_EQ(step.threads_size(), 0) << "not asked for";
  v1::ResumeResponse again =
      ResumeWaiting(session, km_pid_, v1::RESUME_MODE_STEP, 100, /*list_threads=*/true);
  ASSERT_TRUE(again.has_stop());
  EXPECT_EQ(again.stop().rip(), target.entry() + 6);
  EXPECT_EQ(again.stream_events_before(), 1u) << "nothing went on the stream in between";
  ASSERT_EQ(again.threads_size(), 1);
  EXPECT_EQ(again.threads(0).tid(), km_pid_);
  EXPECT_EQ(again.threads(0).state(), v1::THREAD_STATE_STOPPED);
  EXPECT_EQ(again.threads(0).stop_reason().kind(), v1::STOP_KIND_STEP);
  EXPECT_FALSE(again.threads(0).name().empty());

  // The stream carries neither step: after them come only the run's own events.
  ASSERT_TRUE(Resume(session, 0, v1::RESUME_MODE_CONTINUE).ok());
  for (;;) {
    v1::Event ev = NextEvent();
    EXPECT_FALSE(ev.has_stop()) << "a stop came twice: " << ev.ShortDebugString();
    if (ev.has_process_exited() || ev.kind_case() == v1::Event::KIND_NOT_SET) break;
  }
  ExpectPayloadFinished();
}

TEST_P(DebugServiceTest, AThreadEventFirstKeepsTheLaterStopOnTheStream) {
  const std::string session = Attach();
  OpenEvents(session);
  NextStop();
  ASSERT_TRUE(Breakpoint(session, v1::BREAKPOINT_KIND_SOFTWARE, syms_["touch"], 1, true).ok());
  // The worker's birth is the next event: the call returns without a stop, and everything,
  // the breakpoint hit after it included, comes on the stream in order.
  v1::ResumeResponse resumed = ResumeWaiting(session, 0, v1::RESUME_MODE_CONTINUE, 100);
  EXPECT_FALSE(resumed.has_stop()) << resumed.ShortDebugString();
  EXPECT_TRUE(NextEvent().has_thread_created());
  v1::StopEvent hit = NextStop();
  EXPECT_EQ(hit.reason().kind(), v1::STOP_KIND_BREAKPOINT);
  EXPECT_EQ(hit.rip(), syms_["touch"]);
  ASSERT_TRUE(Breakpoint(session, v1::BREAKPOINT_KIND_SOFTWARE, syms_["touch"], 1, false).ok());
  ASSERT_TRUE(Resume(session, 0, v1::RESUME_MODE_CONTINUE).ok());
  ExpectPayloadFinished();
}

// A payload whose four threads are always running.
class RunningPayloadTest : public DebugServiceTest {
 protected:
  std::string Payload() const override { return "spin"; }

  std::vector<uint64_t> Counters() {
    auto bytes = Read(syms_["counters"], 4 * sizeof(uint64_t));
    EXPECT_TRUE(bytes.ok());
    std::vector<uint64_t> out(4);
    if (bytes.ok()) memcpy(out.data(), bytes->data(), bytes->size());
    return out;
  }

  // Waits for main and the four workers, each of them past its start: a worker that has not run
  // yet still has its thread-created event to send, which would come in the middle of a test.
  v1::ListThreadsResponse AllThreads() {
    v1::ListThreadsResponse threads;
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    do {
      threads.Clear();
      EXPECT_TRUE(stub_->ListThreads(Context().get(), {}, &threads).ok());
    } while (threads.threads_size() < 5 && absl::Now() < deadline);
    auto all_counting = [&] {
      const std::vector<uint64_t> counters = Counters();
      return std::all_of(counters.begin(), counters.end(), [](uint64_t c) { return c != 0; });
    };
    while (!all_counting() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
    EXPECT_TRUE(all_counting()) << "the workers did not all start within 10 s";
    return threads;
  }

  // Tells the payload to end; resumes every stopped thread first if some are stopped.
  void Finish(const std::string& session, bool resume = true) {
    v1::WriteMemoryRequest req;
    req.set_session(session);
    req.set_addr(syms_["done"]);
    req.set_data(std::string("\x01\0\0\0", 4));
    v1::WriteMemoryResponse resp;
    ASSERT_TRUE(stub_->WriteMemory(Context().get(), req, &resp).ok());
    if (resume) {
      ASSERT_TRUE(Resume(session, 0, v1::RESUME_MODE_CONTINUE).ok());
    }
    EXPECT_EQ(WaitKm(), 0);
    EXPECT_EQ(km_->Out(), "spin done\n");
  }
};

// Recording while five threads run, each at its own pace: a reverse resume waits for them all
// to be stopped; then every thread goes back and forward together, and the payload ends as
// without a debugger.
TEST_P(RunningPayloadTest, ReverseExecutionNeedsEveryThreadStoppedThenMovesThemAll) {
  AllThreads();
  v1::Target target;
  ASSERT_TRUE(stub_->GetTarget(Context().get(), {}, &target).ok());
  const std::string session = Attach();
  OpenEvents(session);
  v1::SetRecordingRequest on;
  on.set_session(session);
  on.set_enabled(true);
  v1::RecordingStatus status;
  grpc::Status s = stub_->SetRecording(Context().get(), on, &status);
  if (!target.engine().recording()) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
    Finish(session, /*resume=*/false);
    return;
  }
  ASSERT_TRUE(s.ok()) << s.error_message();
  grpc::Status refused = Resume(session, 0, v1::RESUME_MODE_REVERSE_CONTINUE);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(refused.error_message(), "running")) << refused.error_message();

  // Enough recorded that twenty of a worker's instructions are in it, however slowly it runs.
  v1::RecordingStatus now;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  do {
    absl::SleepFor(absl::Milliseconds(50));
    ASSERT_TRUE(stub_->GetRecording(Context().get(), {}, &now).ok());
  } while (now.instructions() < 50000 && absl::Now() < deadline);
  v1::StopRequest stop;
  stop.set_session(session);
  v1::StopResponse stopped;
  ASSERT_TRUE(stub_->Stop(Context().get(), stop, &stopped).ok());
  const std::vector<uint64_t> present = Counters();
  int worker = 0;
  for (const auto& ev : stopped.stopped()) {
    if (ev.tid() != km_pid_) worker = ev.tid();
  }
  ASSERT_NE(worker, 0);
  for (int i = 0; i < 20; i++) {
    grpc::Status back = Resume(session, worker, v1::RESUME_MODE_REVERSE_STEP);
    ASSERT_TRUE(back.ok()) << back.error_message();
    ASSERT_EQ(NextStop().reason().kind(), v1::STOP_KIND_STEP);
  }
  const std::vector<uint64_t> past = Counters();
  EXPECT_LT(past[0] + past[1] + past[2] + past[3], present[0] + present[1] + present[2] + present[3])
      << "twenty instructions of a counting worker include an increment";
  ASSERT_TRUE(stub_->GetRecording(Context().get(), {}, &now).ok());
  EXPECT_GE(now.replay_position(), 20u);

  // Forwards to the present and on, live: the payload ends as it would have.
  ASSERT_TRUE(Resume(session, 0, v1::RESUME_MODE_CONTINUE).ok());
  absl::SleepFor(absl::Milliseconds(100));
  ASSERT_TRUE(stub_->GetRecording(Context().get(), {}, &now).ok());
  EXPECT_EQ(now.replay_position(), 0u);
  Finish(session, /*resume=*/false);
}

// WriteCore wants a still picture: refused while threads run, then a core of all five once
// they are stopped (gdb reads such cores in //tools/kmctl:kmctl_test and
// //tests/gdb:core_dump_test); a thread that does not exist cannot come first.
TEST_P(RunningPayloadTest, WriteCoreNeedsEveryThreadStopped) {
  AllThreads();
  const std::string session = Attach();
  OpenEvents(session);
  v1::WriteCoreRequest req;
  req.set_session(session);
  req.set_path(absl::StrCat(getenv("TEST_TMPDIR"), "/running.core"));
  v1::WriteCoreResponse written;
  grpc::Status s = stub_->WriteCore(Context().get(), req, &written);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), "a core needs every thread stopped"))
      << s.error_message();

  v1::StopRequest stop;
  stop.set_session(session);
  v1::StopResponse stopped;
  ASSERT_TRUE(stub_->Stop(Context().get(), stop, &stopped).ok());
  req.set_tid(1);
  s = stub_->WriteCore(Context().get(), req, &written);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  req.set_tid(stopped.stopped(stopped.stopped_size() - 1).tid());
  s = stub_->WriteCore(Context().get(), req, &written);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(written.threads(), 5u);
  EXPECT_EQ(written.path(), req.path());
  EXPECT_GT(written.size(), 0u);
  Finish(session);
}

TEST_P(RunningPayloadTest, StopFreezesEveryThreadAndResumeLetsThemRun) {
  // The workers start some time after the socket appears (much later under a sanitizer).
  v1::ListThreadsResponse started;
  for (int i = 0; i < 500 && started.threads_size() < 5; i++) {
    started.Clear();
    ASSERT_TRUE(stub_->ListThreads(Context().get(), {}, &started).ok());
    if (started.threads_size() < 5) absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(started.threads_size(), 5);
  // Memory is readable while everything runs; the counters move.
  auto before = Counters();
  absl::SleepFor(absl::Milliseconds(200));
  auto moving = Counters();
  EXPECT_GT(moving[0] + moving[1] + moving[2] + moving[3], before[0] + before[1] + before[2] + before[3]);

  const std::string session = Attach();
  OpenEvents(session);
  AllThreads();
  v1::StopRequest stop;
  stop.set_session(session);
  v1::StopResponse stopped;
  ASSERT_TRUE(stub_->Stop(Context().get(), stop, &stopped).ok());
  EXPECT_EQ(stopped.stopped_size(), 5);  // main (in pthread_join) and four workers
  for (const auto& ev : stopped.stopped()) {
    EXPECT_EQ(ev.reason().kind(), v1::STOP_KIND_INTERRUPTED);
    EXPECT_NE(ev.rip(), 0u);
  }
  v1::ListThreadsResponse threads;
  ASSERT_TRUE(stub_->ListThreads(Context().get(), {}, &threads).ok());
  for (const auto& t : threads.threads()) EXPECT_EQ(t.state(), v1::THREAD_STATE_STOPPED);

  auto frozen = Counters();
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(Counters(), frozen) << "a stopped thread ran";

  // Resume one worker only: it alone makes progress.
  int worker = 0;
  for (const auto& ev : stopped.stopped()) {
    if (ev.tid() != km_pid_) worker = ev.tid();
  }
  ASSERT_TRUE(Resume(session, worker, v1::RESUME_MODE_CONTINUE).ok());
  absl::SleepFor(absl::Milliseconds(200));
  auto one = Counters();
  int moved = 0;
  for (int i = 0; i < 4; i++) moved += one[i] != frozen[i];
  EXPECT_EQ(moved, 1);

  Finish(session);
}

// Non-stop control as a script uses it: Stop names threads, Resume gives each its own action.
TEST_P(RunningPayloadTest, StopsNamedThreadsAloneAndResumesEachWithItsOwnAction) {
  const std::string session = Attach();
  OpenEvents(session);
  v1::ListThreadsResponse threads = AllThreads();
  std::vector<int> workers;
  for (const auto& t : threads.threads()) {
    if (t.tid() != km_pid_) workers.push_back(t.tid());
  }
  ASSERT_EQ(workers.size(), 4u);

  // Stop two workers by name: the other threads keep running.
  v1::StopRequest stop;
  stop.set_session(session);
  stop.add_tids(workers[0]);
  stop.add_tids(workers[1]);
  v1::StopResponse stopped;
  ASSERT_TRUE(stub_->Stop(Context().get(), stop, &stopped).ok());
  ASSERT_EQ(stopped.stopped_size(), 2);
  ASSERT_TRUE(stub_->ListThreads(Context().get(), {}, &threads).ok());
  int running = 0;
  for (const auto& t : threads.threads()) {
    const bool named = t.tid() == workers[0] || t.tid() == workers[1];
    EXPECT_EQ(t.state(), named ? v1::THREAD_STATE_STOPPED : v1::THREAD_STATE_RUNNING) << t.tid();
    running += t.state() == v1::THREAD_STATE_RUNNING;
  }
  EXPECT_EQ(running, 3);  // main and two workers
  auto before = Counters();
  absl::SleepFor(absl::Milliseconds(200));
  auto after = Counters();
  int moved = 0;
  for (int i = 0; i < 4; i++) moved += after[i] != before[i];
  EXPECT_EQ(moved, 2) << "only the two running workers count";

  // One request: the first stopped worker steps one instruction, the second continues.
  v1::ResumeRequest resume;
  resume.set_session(session);
  v1::ThreadAction* step = resume.add_actions();
  step->set_tid(workers[0]);
  step->set_mode(v1::RESUME_MODE_STEP);
  v1::ThreadAction* cont = resume.add_actions();
  cont->set_tid(workers[1]);
  cont->set_mode(v1::RESUME_MODE_CONTINUE);
  v1::ResumeResponse resumed;
  ASSERT_TRUE(stub_->Resume(Context().get(), resume, &resumed).ok());
  v1::StopEvent stepped = NextStop();
  EXPECT_EQ(stepped.tid(), workers[0]);
  EXPECT_EQ(stepped.reason().kind(), v1::STOP_KIND_STEP);
  ASSERT_TRUE(stub_->ListThreads(Context().get(), {}, &threads).ok());
  for (const auto& t : threads.threads()) {
    EXPECT_EQ(t.state(), t.tid() == workers[0] ? v1::THREAD_STATE_STOPPED : v1::THREAD_STATE_RUNNING)
        << t.tid();
  }

  Finish(session);
}

TEST_P(RunningPayloadTest, ContinueWhoseWaitTimesOutLeavesTheStopToTheStream) {
  const std::string session = Attach();
  OpenEvents(session);
  AllThreads();
  v1::StopRequest stop;
  stop.set_session(session);
  v1::StopResponse stopped;
  ASSERT_TRUE(stub_->Stop(Context().get(), stop, &stopped).ok());
  ASSERT_TRUE(syms_.count("puts"));
  ASSERT_TRUE(Breakpoint(session, v1::BREAKPOINT_KIND_SOFTWARE, syms_["puts"], 1, true).ok());

  // The workers spin until told to stop: nothing stops within the wait, which km caps.
  const absl::Time start = absl::Now();
  v1::ResumeResponse resumed = ResumeWaiting(session, 0, v1::RESUME_MODE_CONTINUE, 60000);
  const absl::Duration took = absl::Now() - start;
  EXPECT_FALSE(resumed.has_stop()) << resumed.ShortDebugString();
  EXPECT_GE(took, absl::Milliseconds(100));
  EXPECT_LT(took, absl::Seconds(10)) << "km did not cap the wait";

  // Told to end, the workers exit and main reaches puts: that stop comes on the stream.
  v1::WriteMemoryRequest req;
  req.set_session(session);
  req.set_addr(syms_["done"]);
  req.set_data(std::string("\x01\0\0\0", 4));
  v1::WriteMemoryResponse resp;
  ASSERT_TRUE(stub_->WriteMemory(Context().get(), req, &resp).ok());
  v1::StopEvent hit = NextStop();
  EXPECT_EQ(hit.reason().kind(), v1::STOP_KIND_BREAKPOINT);
  EXPECT_EQ(hit.rip(), syms_["puts"]);
  EXPECT_EQ(hit.tid(), km_pid_);
  ASSERT_TRUE(Breakpoint(session, v1::BREAKPOINT_KIND_SOFTWARE, syms_["puts"], 1, false).ok());
  ASSERT_TRUE(Resume(session, 0, v1::RESUME_MODE_CONTINUE).ok());
  EXPECT_EQ(WaitKm(), 0);
  EXPECT_EQ(km_->Out(), "spin done\n");
}

// All-stop decided in km: a Resume of every thread that asks for the stop in the call and
// stop_others gets the first stop with every other thread already stopped, all of them listed,
// and that stop's stack bytes read after the others stopped.
TEST_P(RunningPayloadTest, StopOthersAnswersTheStopWithEveryThreadStopped) {
  const std::string session = Attach();
  OpenEvents(session);
  AllThreads();
  v1::StopRequest stop;
  stop.set_session(session);
  v1::StopResponse first;
  ASSERT_TRUE(stub_->Stop(Context().get(), stop, &first).ok());
  const uint64_t counter1 = syms_["counters"] + sizeof(uint64_t);
  ASSERT_TRUE(Breakpoint(session, v1::BREAKPOINT_KIND_WATCH_WRITE, counter1, 8, true).ok());

  v1::ResumeRequest req;
  req.set_session(session);
  req.set_wait_for_stop_ms(100);
  req.set_stop_others(true);
  req.set_list_threads(true);
  req.add_actions()->set_mode(v1::RESUME_MODE_CONTINUE);  // tid 0: every thread
  v1::ResumeResponse resp;
  ASSERT_TRUE(stub_->Resume(Context().get(), req, &resp).ok());
  ASSERT_TRUE(resp.has_stop()) << resp.ShortDebugString();
  EXPECT_EQ(resp.stop().reason().kind(), v1::STOP_KIND_WATCHPOINT);
  EXPECT_EQ(resp.stop().reason().watch_addr(), counter1);
  ASSERT_EQ(resp.stopped_size(), 5);  // main and the four workers
  for (const v1::StopEvent& e : resp.stopped()) {
    if (e.tid() == resp.stop().tid()) {
      EXPECT_EQ(e.reason().kind(), v1::STOP_KIND_WATCHPOINT);
      EXPECT_EQ(e.rip(), resp.stop().rip());
    } else {
      EXPECT_EQ(e.reason().kind(), v1::STOP_KIND_INTERRUPTED) << e.tid();
    }
  }
  ASSERT_EQ(resp.threads_size(), 5);
  for (const v1::Thread& t : resp.threads()) {
    EXPECT_EQ(t.state(), v1::THREAD_STATE_STOPPED) << t.tid();
  }
  // Nothing runs: the counters stay, and the stack bytes are what memory holds now.
  const std::vector<uint64_t> frozen = Counters();
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(Counters(), frozen) << "a thread ran after the stop";
  ASSERT_FALSE(resp.stop().stack().empty());
  absl::StatusOr<std::string> stack = Read(resp.stop().stack_addr(), resp.stop().stack().size());
  ASSERT_TRUE(stack.ok()) << stack.status();
  EXPECT_EQ(*stack, resp.stop().stack());

  ASSERT_TRUE(Breakpoint(session, v1::BREAKPOINT_KIND_WATCH_WRITE, counter1, 8, false).ok());
  Finish(session);
}

// Whether pid blocks SIGUSR1, waiting up to 20 s for it to.
bool BlocksSigusr1(pid_t pid) {
  for (int i = 0; i < 2000; i++) {
    std::ifstream status(absl::StrFormat("/proc/%d/status", pid));
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("SigBlk:", 0) != 0) continue;
      const uint64_t blocked = std::stoull(line.substr(7), nullptr, 16);
      if (blocked & (1ull << (SIGUSR1 - 1))) return true;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

// km started without a socket opens one on SIGUSR1.
class LateAttachTest : public RunningPayloadTest {
 protected:
  bool WithSocket() const override { return false; }
};

TEST_P(LateAttachTest, Sigusr1OpensTheDefaultSocket) {
#if defined(__SANITIZE_THREAD__)
  // TSan keeps blocked signals for itself (the thread's kernel mask stays empty) and never
  // hands SIGUSR1 to km's sigwait.
  GTEST_SKIP() << "under ThreadSanitizer km never receives SIGUSR1 through sigwait";
#endif
  // km blocks SIGUSR1 first thing; before that the signal would kill it.
  ASSERT_TRUE(BlocksSigusr1(km_pid_)) << "km never blocked SIGUSR1";
  ASSERT_EQ(kill(km_pid_, SIGUSR1), 0);
  ASSERT_NO_FATAL_FAILURE(ConnectWhenReady());
  v1::Target target;
  ASSERT_TRUE(stub_->GetTarget(Context().get(), {}, &target).ok());
  EXPECT_EQ(target.pid(), km_pid_);
  const std::string session = Attach();
  Finish(session, /*resume=*/false);
  struct stat st;
  EXPECT_NE(stat(socket_.c_str(), &st), 0) << "km left its socket behind";
}

INSTANTIATE_TEST_SUITE_P(Engines, RunningPayloadTest, ::testing::Values("kvm", "tcg"),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Engines, StaleSessionTest, ::testing::Values("kvm", "tcg"),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Engines, LateAttachTest, ::testing::Values("kvm", "tcg"),
                         [](const auto& info) { return info.param; });

INSTANTIATE_TEST_SUITE_P(Engines, DebugServiceTest, ::testing::Values("kvm", "tcg"),
                         [](const auto& info) { return info.param; });

}  // namespace

#define ASSERT_RESUMED(...)                                 \
  do {                                                      \
    grpc::Status resumed = Resume(__VA_ARGS__);             \
    ASSERT_TRUE(resumed.ok()) << resumed.error_message();   \
  } while (0)

class RecordingTest : public DebugServiceTest {
 protected:
  absl::StatusOr<v1::RecordingStatus> SetRecording(const std::string& session, bool on) {
    v1::SetRecordingRequest req;
    req.set_session(session);
    req.set_enabled(on);
    v1::RecordingStatus status;
    grpc::Status s = stub_->SetRecording(Context().get(), req, &status);
    if (!s.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
    }
    return status;
  }
  v1::RecordingStatus GetRecording() {
    v1::RecordingStatus status;
    EXPECT_TRUE(stub_->GetRecording(Context().get(), {}, &status).ok());
    return status;
  }
  // Attaches, runs to own_pid and starts recording there; skips on engines that cannot record.
  std::string RecordFromOwnPid() {
    v1::Target target;
    EXPECT_TRUE(stub_->GetTarget(Context().get(), {}, &target).ok());
    const std::string session = Attach();
    OpenEvents(session);
    NextStop();
    EXPECT_TRUE(Breakpoint(session, v1::BREAKPOINT_KIND_SOFTWARE, syms_["own_pid"], 1, true).ok());
    EXPECT_TRUE(Resume(session, 0, v1::RESUME_MODE_CONTINUE).ok());
    EXPECT_EQ(NextStop().rip(), syms_["own_pid"]);
    absl::StatusOr<v1::RecordingStatus> on = SetRecording(session, true);
    if (!target.engine().recording()) {
      EXPECT_EQ(on.status().code(), absl::StatusCode::kFailedPrecondition) << on.status();
      return "";
    }
    EXPECT_TRUE(on.ok() && on->enabled()) << on.status();
    return session;
  }
  uint64_t Watched() {
    auto value = Read(syms_["watched"], 8);
    EXPECT_TRUE(value.ok()) << value.status();
    uint64_t v = ~0ull;
    if (value.ok() && value->size() == 8) memcpy(&v, value->data(), 8);
    return v;
  }
};

TEST_P(RecordingTest, ReverseStepAndContinueUndoRegistersAndMemoryAndReplayForwards) {
  const std::string session = RecordFromOwnPid();
  if (session.empty()) GTEST_SKIP() << GetParam() << ": this engine cannot record";
  const uint64_t watched = syms_["watched"];
  ASSERT_TRUE(Breakpoint(session, v1::BREAKPOINT_KIND_WATCH_WRITE, watched, 8, true).ok());
  ASSERT_RESUMED(session, 0, v1::RESUME_MODE_CONTINUE);
  v1::StopEvent hit = NextStop();
  ASSERT_EQ(hit.reason().kind(), v1::STOP_KIND_WATCHPOINT);
  EXPECT_EQ(Watched(), 42u);
  v1::RecordingStatus status = GetRecording();
  EXPECT_GT(status.instructions(), 5u);
  EXPECT_EQ(status.replay_position(), 0u);

  // One instruction back: the store is undone, rip is at it.
  ASSERT_RESUMED(session, km_pid_, v1::RESUME_MODE_REVERSE_STEP);
  v1::StopEvent back = NextStop();
  EXPECT_EQ(back.reason().kind(), v1::STOP_KIND_STEP);
  EXPECT_LT(back.rip(), hit.rip());
  EXPECT_GE(back.rip(), syms_["touch"]);
  EXPECT_EQ(Watched(), 0u);
  EXPECT_EQ(GetRecording().replay_position(), 1u);
  v1::WriteMemoryRequest write;
  write.set_session(session);
  write.set_addr(watched);
  write.set_data(std::string(8, '\1'));
  v1::WriteMemoryResponse written;
  EXPECT_EQ(stub_->WriteMemory(Context().get(), write, &written).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  // Forwards again, the store is replayed and the watchpoint reports it as it did live.
  ASSERT_RESUMED(session, km_pid_, v1::RESUME_MODE_STEP);
  v1::StopEvent again = NextStop();
  EXPECT_EQ(again.reason().kind(), v1::STOP_KIND_WATCHPOINT);
  EXPECT_EQ(again.rip(), hit.rip());
  EXPECT_EQ(Watched(), 42u);

  // Back to the breakpoint where recording began, through the syscall in own_pid.
  ASSERT_TRUE(Breakpoint(session, v1::BREAKPOINT_KIND_WATCH_WRITE, watched, 8, false).ok());
  ASSERT_RESUMED(session, 0, v1::RESUME_MODE_REVERSE_CONTINUE);
  v1::StopEvent start = NextStop();
  EXPECT_EQ(start.reason().kind(), v1::STOP_KIND_BREAKPOINT);
  EXPECT_EQ(start.rip(), syms_["own_pid"]);
  EXPECT_EQ(Watched(), 0u);
  ASSERT_RESUMED(session, 0, v1::RESUME_MODE_REVERSE_CONTINUE);
  EXPECT_EQ(NextStop().reason().kind(), v1::STOP_KIND_HISTORY_BEGIN);
  EXPECT_EQ(GetRecording().replay_position(), GetRecording().instructions());

  // Forwards to the present, then live to the end: the payload's output is as without us.
  ASSERT_TRUE(Breakpoint(session, v1::BREAKPOINT_KIND_SOFTWARE, syms_["own_pid"], 1, false).ok());
  ASSERT_RESUMED(session, 0, v1::RESUME_MODE_CONTINUE);
  ExpectPayloadFinished();
}

TEST_P(RecordingTest, DetachWhileReplayingLetsThePayloadGoOnFromItsPresent) {
  const std::string session = RecordFromOwnPid();
  if (session.empty()) GTEST_SKIP() << GetParam() << ": this engine cannot record";
  ASSERT_TRUE(Breakpoint(session, v1::BREAKPOINT_KIND_SOFTWARE, syms_["touch"], 1, true).ok());
  ASSERT_RESUMED(session, 0, v1::RESUME_MODE_CONTINUE);
  EXPECT_EQ(NextStop().rip(), syms_["touch"]);
  ASSERT_RESUMED(session, 0, v1::RESUME_MODE_REVERSE_CONTINUE);
  EXPECT_EQ(NextStop().rip(), syms_["own_pid"]);
  v1::DetachRequest req;
  req.set_session(session);
  v1::DetachResponse resp;
  ASSERT_TRUE(stub_->Detach(Context().get(), req, &resp).ok());
  ExpectPayloadFinished();
}

TEST_P(RecordingTest, AReverseResumeWithNothingRecordedStopsAtOnceAtTheBeginning) {
  const std::string session = Attach();
  OpenEvents(session);
  v1::StopEvent first = NextStop();
  ASSERT_RESUMED(session, 0, v1::RESUME_MODE_REVERSE_STEP);
  v1::StopEvent stop = NextStop();
  EXPECT_EQ(stop.reason().kind(), v1::STOP_KIND_HISTORY_BEGIN);
  EXPECT_EQ(stop.rip(), first.rip());
  v1::ResumeRequest two;
  two.set_session(session);
  two.add_actions()->set_mode(v1::RESUME_MODE_REVERSE_STEP);
  two.add_actions()->set_mode(v1::RESUME_MODE_CONTINUE);
  v1::ResumeResponse resp;
  EXPECT_EQ(stub_->Resume(Context().get(), two, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_RESUMED(session, 0, v1::RESUME_MODE_CONTINUE);
  ExpectPayloadFinished();
}

INSTANTIATE_TEST_SUITE_P(Engines, RecordingTest, ::testing::Values("kvm", "tcg"),
                         [](const auto& info) { return info.param; });
