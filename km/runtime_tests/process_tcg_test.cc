// Whole payloads on the tcg engine, inside the test process: exit statuses, faults, pausing a
// running thread, and the debug observer hook.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "km/layout.h"
#include "km/runtime/process.h"

namespace km {
namespace {

std::string Runfile(const std::string& path) {
  const char* dir = getenv("TEST_SRCDIR");
  return std::string(dir != nullptr ? dir : ".") + "/km_debug/" + path;
}

std::unique_ptr<Process> Start(const std::string& payload, std::vector<std::string> args) {
  ProcessOptions options;
  options.payload = Runfile(payload);
  options.argv = {options.payload};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.accel = Accel::kTcg;
  options.memory_size = 256ull << 20;
  std::string notice;
  absl::StatusOr<std::unique_ptr<Process>> p = Process::Create(options, &notice);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *std::move(p) : nullptr;
}

TEST(ProcessTcgTest, ExitStatusIsThePayloads) {
  std::unique_ptr<Process> p = Start("tests/payloads/bin/hello", {"7"});
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->Run(), 7);
}

TEST(ProcessTcgTest, FaultEndsWithTheSignalsStatus) {
  std::unique_ptr<Process> p = Start("tests/payloads/bin/fault", {"segv"});
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->Run(), 128 + SIGSEGV);
}

TEST(ProcessTcgTest, Int3WithoutDebuggerIsSigtrap) {
  std::unique_ptr<Process> p = Start("km/runtime_tests/int3", {});
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->Run(), 128 + SIGTRAP);
}

class CountingObserver : public DebugObserver {
 public:
  DebugAction OnStop(GuestThread& thread, const StopEvent& event) override {
    stops++;
    last_signal = event.signal.signo;
    Regs regs;
    regs_readable = thread.GetRegs(&regs).ok();
    return DebugAction::kContinue;  // int3 already advanced rip
  }
  void OnProcessExit(const ExitInfo& info) override { exit_status = info.status; }

  std::atomic<int> stops{0};
  int last_signal = 0;
  bool regs_readable = false;
  int exit_status = -1;
};

TEST(ProcessTcgTest, ObserverSeesEachInt3) {
  std::unique_ptr<Process> p = Start("km/runtime_tests/int3", {});
  ASSERT_NE(p, nullptr);
  CountingObserver observer;
  p->set_debug_observer(&observer);
  EXPECT_EQ(p->Run(), 0);
  EXPECT_EQ(observer.stops, 2);
  EXPECT_EQ(observer.last_signal, SIGTRAP);
  EXPECT_TRUE(observer.regs_readable);
  EXPECT_EQ(observer.exit_status, 0);
}

TEST(ProcessTcgTest, PauseStopsARunningThreadAndResumeContinues) {
  std::unique_ptr<Process> p = Start("tests/payloads/bin/compute", {"3000000"});
  ASSERT_NE(p, nullptr);
  std::shared_ptr<GuestThread> main_thread = p->main_thread();
  std::thread pauser([&] {
    usleep(200 * 1000);
    main_thread->Pause();
    EXPECT_EQ(main_thread->state(), ThreadState::kParked);
    Regs first, second;
    ASSERT_TRUE(main_thread->GetRegs(&first).ok());
    EXPECT_GE(first.rip, 0x400000u);
    EXPECT_LT(first.rip, p->image().brk_start);
    usleep(100 * 1000);
    ASSERT_TRUE(main_thread->GetRegs(&second).ok());
    EXPECT_EQ(first.rip, second.rip);  // parked: not a single instruction ran
    EXPECT_EQ(first.rsp, second.rsp);
    ASSERT_TRUE(main_thread->SetRegs(second).ok());
    main_thread->Resume();
  });
  EXPECT_EQ(p->Run(), 0);
  pauser.join();
}

TEST(ProcessTcgTest, AThreadBlockedInASyscallCountsAsPaused) {
  // The payload reads fd 0: make it a pipe the test controls.
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  const int saved_stdin = dup(0);
  ASSERT_EQ(dup2(p[0], 0), 0);
  std::unique_ptr<Process> proc = Start("km/runtime_tests/read_stdin", {});
  ASSERT_NE(proc, nullptr);
  std::shared_ptr<GuestThread> main_thread = proc->main_thread();
  std::thread pauser([&] {
    while (main_thread->state() != ThreadState::kInSyscall) usleep(1000);
    main_thread->Pause();  // returns at once: the read may never end
    Regs regs;
    ASSERT_TRUE(main_thread->GetRegs(&regs).ok());
    EXPECT_EQ(regs.rax, 0u);  // SYS_read, not yet its result
    ASSERT_EQ(write(p[1], "\x05", 1), 1);
    // The read returns; the thread takes its result and parks without running on.
    while (main_thread->state() != ThreadState::kParked) usleep(1000);
    ASSERT_TRUE(main_thread->GetRegs(&regs).ok());
    EXPECT_EQ(regs.rax, 1u);
    main_thread->Resume();
  });
  EXPECT_EQ(proc->Run(), 5);
  pauser.join();
  dup2(saved_stdin, 0);
  close(saved_stdin);
  close(p[0]);
  close(p[1]);
}

}  // namespace
}  // namespace km
