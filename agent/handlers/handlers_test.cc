#include "agent/handlers/handlers.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/rsp/encoding.h"
#include "agent/rsp/packet_writer.h"
#include "agent/testing/fake_target.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace agent {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using testing::FakeTarget;

constexpr int kMain = FakeTarget::kPid;  // 0x64
constexpr int kWorker = 101;             // 0x65

class HandlersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    handlers_ = std::make_unique<Handlers>(target_, target_.info());
    ASSERT_TRUE(handlers_->Begin().ok());
    Send("qSupported:multiprocess+;swbreak+;hwbreak+");
    target_.calls().clear();
  }

  // The single reply to a packet.
  std::string Send(absl::string_view packet) {
    Response r = handlers_->Handle(packet);
    EXPECT_EQ(r.packets.size(), r.resumed ? 0u : 1u) << packet;
    return r.packets.empty() ? "<none>" : r.packets.front();
  }

  // Runs the target's queued events through the handlers; the stop reply if one came.
  std::string DeliverEvents() {
    std::string reply = "<none>";
    while (std::optional<Event> e = target_.NextEvent()) {
      if (std::optional<std::string> r = handlers_->HandleEvent(*e)) reply = *r;
    }
    return reply;
  }

  // A worker born while everything is stopped: the agent stops it at once.
  void WorkerBornWhileStopped() {
    target_.AddThread(kWorker, "worker-1", /*running=*/true);
    target_.PushEvent(ThreadCreated{kWorker});
    DeliverEvents();
  }

  // What km sends with main's next stop answered in the call: both threads listed (main under
  // main_name) and 8 bytes of 0x11 as main's stack at 0x400100.
  void MainStopsWithThreadsAndStack(absl::string_view main_name) {
    ThreadStop& main = target_.threads()[kMain].stop;
    main.threads = {ThreadInfo{kMain, std::string(main_name), ThreadState::kStopped},
                    ThreadInfo{kWorker, "worker-1", ThreadState::kStopped}};
    main.stack_addr = 0x400100;
    main.stack = std::string(8, '\x11');
  }

  void AddRunningWorker() {
    target_.AddThread(kWorker, "worker-1", /*running=*/false);
    target_.threads()[kWorker].stop.reason = StopReason{StopKind::kInterrupted, 0};
  }

  FakeTarget target_;
  std::unique_ptr<Handlers> handlers_;
};

TEST_F(HandlersTest, QSupportedOffersWhatGdbNeeds) {
  const std::string reply = Send("qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386");
  for (const char* feature :
       {"PacketSize=20000", "QStartNoAckMode+", "qXfer:features:read+", "qXfer:auxv:read+",
        "qXfer:exec-file:read+", "qXfer:threads:read+", "vContSupported+", "swbreak+",
        "hwbreak+", "ConditionalBreakpoints+", "BreakpointCommands+", "multiprocess+",
        "ConditionalTracepoints+", "qXfer:traceframe-info:read+", "QTBuffer:size+", "tracenz+",
        "exec-events+"}) {
    EXPECT_THAT(reply, HasSubstr(feature));
  }
  EXPECT_EQ(Send("qSupported:swbreak+").find("multiprocess+"), std::string::npos);
}

TEST_F(HandlersTest, InitialStopReportsTheMainThreadWithExpeditedRegisters) {
  EXPECT_EQ(Send("?"),
            "T0506:0000000000000000;07:64f0ff7f00000000;10:0010400000000000;thread:p64.64;");
  EXPECT_EQ(Send("qAttached:64"), "1");
  EXPECT_EQ(Send("qC"), "QCp64.64");
  EXPECT_EQ(Send("qfThreadInfo"), "mp64.64");
  EXPECT_EQ(Send("qsThreadInfo"), "l");
  EXPECT_EQ(Send("Tp64.64"), "OK");
  EXPECT_EQ(Send("Tp64.99"), "E01");
}

TEST_F(HandlersTest, GeneralRegistersComeFromTheStopWithoutAnRpc) {
  const std::string g = Send("g");
  EXPECT_EQ(g.size(), (17 * 8 + 7 * 4) * 2u);
  EXPECT_EQ(g.substr(16 * 16, 16), "0010400000000000");  // rip
  EXPECT_EQ(Send("p10"), "0010400000000000");
  EXPECT_EQ(Send("p3a"), "0000000000000000");  // fs_base: general too
  EXPECT_TRUE(target_.calls().empty());
}

TEST_F(HandlersTest, FpuRegistersAreFetchedOncePerStop) {
  EXPECT_EQ(Send("p38"), "801f0000");  // mxcsr
  EXPECT_EQ(Send("p29"), "42000000000000000000000000000000");  // xmm1
  EXPECT_EQ(Send("p20"), "7f030000");  // fctrl
  EXPECT_THAT(target_.calls(), ElementsAre("ReadRegisters(100,1)"));
  EXPECT_EQ(Send("p4c"), "E01");  // ymm0h: no AVX here
}

TEST_F(HandlersTest, RegisterWritesGoToKmAndTheCache) {
  EXPECT_EQ(Send("P10=3412400000000000"), "OK");
  EXPECT_EQ(Send("p10"), "3412400000000000");
  EXPECT_EQ(Send("P28=01000000000000000000000000000000"), "OK");  // xmm0
  EXPECT_THAT(target_.calls(), ElementsAre("WriteRegisters(100,0)", "ReadRegisters(100,1)",
                                           "WriteRegisters(100,1)"));
  EXPECT_EQ(Send("P10=12"), "E01");
  const std::string g = Send("g");
  EXPECT_EQ(Send("G" + g), "OK");
}

TEST_F(HandlersTest, Memory) {
  EXPECT_EQ(Send("M400010,2:abcd"), "OK");
  EXPECT_EQ(Send("m400010,3"), "abcd00");
  EXPECT_EQ(Send("X400020,2:}]*"), "OK");
  EXPECT_EQ(Send("m400020,2"), "7d2a");
  EXPECT_EQ(Send("X400020,0:"), "OK");
  EXPECT_EQ(Send("m10,4"), "E0e");
  EXPECT_EQ(Send("M10,1:00"), "E0e");
  EXPECT_EQ(Send("m400010"), "E01");
}

// lldb's qMemoryRegionInfo: the mapping that holds an address, or the unmapped gap around it.
TEST_F(HandlersTest, MemoryRegionInfoNamesTheMappingOrTheGapAroundAnAddress) {
  EXPECT_EQ(Send("qMemoryRegionInfo:400800"),
            absl::StrCat("start:400000;size:1000;permissions:rw;name:", rsp::HexEncode("test"), ";"));
  EXPECT_EQ(Send("qMemoryRegionInfo:10"), "start:0;size:400000;");
  EXPECT_EQ(Send("qMemoryRegionInfo:401000"), "start:401000;size:ffffffffffbfefff;");
  EXPECT_EQ(Send("qMemoryRegionInfo:zz"), "E01");
  EXPECT_EQ(Send("qMemoryRegionInfo"), "E01");
}

TEST_F(HandlersTest, OffsetsAreTheLoadBiasOfAStaticPieAndUnansweredOtherwise) {
  EXPECT_EQ(Send("qOffsets"), "");
  TargetInfo pie = target_.info();
  pie.pie = true;
  pie.load_bias = 0x555555554000;
  Handlers handlers(target_, pie);
  ASSERT_TRUE(handlers.Begin().ok());
  EXPECT_THAT(handlers.Handle("qOffsets").packets,
              ElementsAre("Text=555555554000;Data=555555554000;Bss=555555554000"));
}

TEST_F(HandlersTest, MemoryReadsDuringAStopCostOneRpcPerPage) {
  target_.memory()[0x10] = '\x90';
  EXPECT_EQ(Send("m400010,1"), "90");
  EXPECT_EQ(Send("m400010,1"), "90");
  EXPECT_EQ(Send("m400c80,40").size(), 0x80u);
  EXPECT_THAT(target_.calls(), ElementsAre("ReadMemory(400000,4096)"));
  EXPECT_EQ(Send("X400010,1:\xcc"), "OK");
  EXPECT_EQ(Send("m400010,1"), "cc");
  EXPECT_TRUE(handlers_->Handle("vCont;c").resumed);
  target_.StopsOnItsOwn(kMain, StopReason{StopKind::kStep, 5}, 0x401004);
  DeliverEvents();
  target_.memory()[0x10] = '\x91';  // the payload ran and wrote
  EXPECT_EQ(Send("m400010,1"), "91");
  EXPECT_EQ(Send("m400ff0,20"), "00000000000000000000000000000000");  // crosses into unmapped
}

TEST_F(HandlersTest, StackBytesThatCameWithAStepAnswerGdbsUnwindingReads) {
  ThreadStop& main = target_.threads()[kMain].stop;
  main.stack_addr = 0x7fff0100;  // outside the fake's memory: any read there is an RPC
  main.stack = std::string("\x11\x22\x33\x44\x55\x66\x77\x88", 8) + std::string(8, '\0');
  EXPECT_TRUE(handlers_->Handle("vCont;s:p64.64").resumed);
  target_.StopsOnItsOwn(kMain, StopReason{StopKind::kStep, 5}, 0x401004);
  EXPECT_THAT(DeliverEvents(), StartsWith("T05"));
  EXPECT_EQ(Send("m7fff0100,8"), "1122334455667788");
  EXPECT_EQ(Send("m7fff0104,c"), "556677880000000000000000");
  EXPECT_THAT(target_.calls(), ElementsAre("Resume(100:s:0)")) << "a read cost an RPC";
  // Past the bytes that came with the stop: km is asked.
  EXPECT_EQ(Send("m7fff010c,8"), "E0e");
  EXPECT_EQ(target_.calls().size(), 3u);

  // Once the target ran again, they are gone.
  target_.calls().clear();
  main.stack.clear();
  EXPECT_TRUE(handlers_->Handle("vCont;s:p64.64").resumed);
  target_.StopsOnItsOwn(kMain, StopReason{StopKind::kStep, 5}, 0x401008);
  DeliverEvents();
  EXPECT_EQ(Send("m7fff0100,8"), "E0e");
  EXPECT_EQ(target_.calls().size(), 3u);
}

TEST_F(HandlersTest, StackBytesAreNotTrustedWhenAnotherThreadRanPastTheStop) {
  AddRunningWorker();
  ThreadStop& main = target_.threads()[kMain].stop;
  main.stack_addr = 0x400100;
  main.stack = std::string(8, '\x11');  // what the stack held at main's stop
  target_.memory().replace(0x100, 8, std::string(8, '\x22'));  // the worker wrote it since
  EXPECT_TRUE(handlers_->Handle("vCont;s:p64.64;c").resumed);
  target_.PushEvent(ThreadCreated{kWorker});  // running while main steps
  target_.StopsOnItsOwn(kMain, StopReason{StopKind::kStep, 5}, 0x401004);
  EXPECT_THAT(DeliverEvents(), HasSubstr("thread:p64.64;"));
  EXPECT_EQ(Send("m400100,8"), "2222222222222222");
}

TEST_F(HandlersTest, ThreadsListedWithALoneStepAnswerGdbsThreadListRead) {
  target_.threads()[kMain].stop.threads = {ThreadInfo{kMain, "renamed", ThreadState::kStopped}};
  EXPECT_TRUE(handlers_->Handle("vCont;s:p64.64").resumed);
  EXPECT_TRUE(target_.last_wait().list_threads);
  EXPECT_GT(target_.last_wait().wait, absl::ZeroDuration());
  target_.StopsOnItsOwn(kMain, StopReason{StopKind::kStep, 5}, 0x401004);
  DeliverEvents();
  EXPECT_THAT(Send("qXfer:threads:read::0,1000"), HasSubstr("name=\"renamed\""));
  EXPECT_THAT(target_.calls(), ElementsAre("Resume(100:s:0)")) << "the list cost an RPC";
  // After the next resume they are history: gdb's next read asks km.
  target_.threads()[kMain].stop.threads.clear();
  EXPECT_TRUE(handlers_->Handle("vCont;c").resumed);
  target_.StopsOnItsOwn(kMain, StopReason{StopKind::kStep, 5}, 0x401008);
  DeliverEvents();
  EXPECT_THAT(Send("qXfer:threads:read::0,1000"), HasSubstr("name=\"main\""));
  EXPECT_EQ(target_.calls().back(), "ListThreads");
}

// A stop that came on the stream while others ran: the agent stops them and asks for the list.
TEST_F(HandlersTest, ThreadsAreAskedForWhenTheStopCameWhileOthersRan) {
  WorkerBornWhileStopped();
  target_.calls().clear();
  EXPECT_TRUE(handlers_->Handle("vCont;s:p64.64;c").resumed);
  EXPECT_TRUE(target_.last_wait().stop_others);
  target_.threads()[kMain].stop.threads = {ThreadInfo{kMain, "stale", ThreadState::kStopped}};
  target_.threads()[kWorker].running = true;
  target_.StopsOnItsOwn(kMain, StopReason{StopKind::kStep, 5}, 0x401004);
  DeliverEvents();
  EXPECT_THAT(Send("qXfer:threads:read::0,1000"),
              AllOf(HasSubstr("name=\"main\""), HasSubstr("name=\"worker-1\"")));
  EXPECT_THAT(target_.calls(), ElementsAre("Resume(100:s:0;0:c:0)", "Stop()", "ListThreads"));
}

// All-stop in km: the stop answered in the call comes with every thread stopped, so a step
// that let another thread run costs one call, its stack and thread list good for gdb's reads.
TEST_F(HandlersTest, AStopWithTheOthersStoppedInKmCostsOneCall) {
  WorkerBornWhileStopped();
  target_.calls().clear();
  EXPECT_TRUE(handlers_->Handle("vCont;s:p64.64;c").resumed);
  EXPECT_TRUE(target_.last_wait().stop_others);
  EXPECT_TRUE(target_.last_wait().list_threads);
  target_.threads()[kWorker].running = true;
  MainStopsWithThreadsAndStack("renamed");
  target_.StopsInTheCall(kMain, StopReason{StopKind::kStep, 5}, 0x401004);
  EXPECT_THAT(DeliverEvents(), HasSubstr("thread:p64.64;"));
  EXPECT_THAT(Send("qXfer:threads:read::0,1000"),
              AllOf(HasSubstr("name=\"renamed\""), HasSubstr("name=\"worker-1\"")));
  EXPECT_EQ(Send("m400100,8"), "1111111111111111");
  EXPECT_THAT(target_.calls(), ElementsAre("Resume(100:s:0;0:c:0)"));
  // The worker is stopped as far as the agent knows: gdb's next step of main runs it alone.
  EXPECT_TRUE(handlers_->Handle("vCont;s:p64.64").resumed);
  EXPECT_FALSE(target_.last_wait().stop_others);
}

// Two threads at a breakpoint at once: the second's stop is held back and reported at gdb's
// next resume with nothing run in between, so what gdb read at the first stays good.
TEST_F(HandlersTest, AHeldBackStopKeepsWhatGdbReadAtTheStopBefore) {
  WorkerBornWhileStopped();
  EXPECT_EQ(Send("Z0,401100,1"), "OK");
  EXPECT_TRUE(handlers_->Handle("vCont;c").resumed);
  target_.threads()[kWorker].running = true;
  target_.StopsOnItsOwn(kWorker, StopReason{StopKind::kBreakpoint, 5}, 0x401100,
                        /*push_event=*/false);
  MainStopsWithThreadsAndStack("main");
  target_.StopsInTheCall(kMain, StopReason{StopKind::kBreakpoint, 5}, 0x401100);
  EXPECT_THAT(DeliverEvents(), HasSubstr("thread:p64.64;"));
  EXPECT_EQ(Send("m400100,8"), "1111111111111111");
  EXPECT_THAT(Send("qXfer:threads:read::0,1000"), HasSubstr("name=\"worker-1\""));
  target_.calls().clear();
  EXPECT_EQ(Send("z0,401100,1"), "OK");
  EXPECT_EQ(Send("Z0,401100,1"), "OK");
  EXPECT_THAT(Send("vCont;c"), HasSubstr("thread:p64.65;"));
  EXPECT_EQ(Send("m400100,8"), "1111111111111111");
  EXPECT_THAT(Send("qXfer:threads:read::0,1000"), HasSubstr("name=\"worker-1\""));
  EXPECT_THAT(target_.calls(), ::testing::IsEmpty());
}

TEST_F(HandlersTest, BreakpointRemovalsWaitForTheNextResume) {
  EXPECT_EQ(Send("Z0,401126,1"), "OK");
  EXPECT_EQ(Send("Z0,401200,1"), "OK");
  EXPECT_EQ(Send("z0,401126,1"), "OK");
  EXPECT_EQ(Send("z0,401200,1"), "OK");
  EXPECT_EQ(Send("Z0,401126,1"), "OK");  // gdb re-inserts at resume: still in km, no RPC
  EXPECT_THAT(target_.calls(), ElementsAre("Insert(0,401126,1)", "Insert(0,401200,1)"));
  target_.calls().clear();
  EXPECT_EQ(Send("vCont;c"), "<none>");
  EXPECT_THAT(target_.calls(), ElementsAre("Remove(0,401200,1)", "Resume(0:c:0)"));
}

// gdb steps a thread alone off a breakpoint at its pc by taking the breakpoint out and putting
// it back after: km steps over its own int3 there, so neither reaches km. Anything else that
// runs, or a step with a signal, takes it out first.
TEST_F(HandlersTest, SteppingAloneOffABreakpointLeavesItInKm) {
  EXPECT_EQ(Send("Z0,401000,1"), "OK");  // at main's pc
  EXPECT_EQ(Send("Z0,401200,1"), "OK");
  target_.calls().clear();
  EXPECT_EQ(Send("z0,401000,1"), "OK");
  EXPECT_EQ(Send("z0,401200,1"), "OK");
  EXPECT_TRUE(handlers_->Handle("vCont;s:p64.64").resumed);
  target_.StopsOnItsOwn(kMain, StopReason{StopKind::kStep, 5}, 0x401004);
  DeliverEvents();
  EXPECT_EQ(Send("Z0,401000,1"), "OK");  // back, after the step: it never left km
  EXPECT_THAT(target_.calls(), ElementsAre("Remove(0,401200,1)", "Resume(100:s:0)"));
  target_.calls().clear();

  // Removed and not put back: the next resume takes it out.
  EXPECT_EQ(Send("z0,401000,1"), "OK");
  EXPECT_TRUE(handlers_->Handle("vCont;s:p64.64").resumed);  // from 0x401004: not its pc
  EXPECT_THAT(target_.calls(), ElementsAre("Remove(0,401000,1)", "Resume(100:s:0)"));
  target_.StopsOnItsOwn(kMain, StopReason{StopKind::kStep, 5}, 0x401000);
  DeliverEvents();
  target_.calls().clear();

  // At its pc again, but others run too, or the step delivers a signal: out first.
  EXPECT_EQ(Send("Z0,401000,1"), "OK");
  EXPECT_EQ(Send("z0,401000,1"), "OK");
  EXPECT_TRUE(handlers_->Handle("vCont;s:p64.64;c").resumed);
  target_.StopsOnItsOwn(kMain, StopReason{StopKind::kStep, 5}, 0x401000);
  DeliverEvents();
  EXPECT_EQ(Send("Z0,401000,1"), "OK");
  EXPECT_EQ(Send("z0,401000,1"), "OK");
  target_.HandlesSignal(SIGUSR1);
  EXPECT_TRUE(handlers_->Handle("vCont;S1e:p64.64").resumed);
  EXPECT_THAT(target_.calls(),
              ElementsAre("Insert(0,401000,1)", "Remove(0,401000,1)", "Resume(100:s:0;0:c:0)",
                          "Insert(0,401000,1)", "Remove(0,401000,1)", "Resume(100:s:10)"));
}

TEST_F(HandlersTest, BreakpointConditionsReachKmOnlyWhenTheyChange) {
  EXPECT_EQ(Send("Z0,401126,1;X3,220127"), "OK");
  EXPECT_EQ(Send("z0,401126,1"), "OK");
  EXPECT_EQ(Send("Z0,401126,1;X3,220127"), "OK");  // the same again after a stop: no RPC
  EXPECT_EQ(Send("Z0,401126,1;X3,220027X2,2227"), "OK");  // a new condition list replaces it
  EXPECT_EQ(Send("Z0,401126,1"), "OK");  // and none makes it unconditional
  EXPECT_EQ(Send("z0,401126,1"), "OK");
  EXPECT_EQ(Send("Z0,401126,1;X1,27"), "OK");  // deferred removal, new condition
  EXPECT_THAT(target_.calls(),
              ElementsAre("Insert(0,401126,1,3B)", "Insert(0,401126,1,3B,2B)",
                          "Insert(0,401126,1)", "Insert(0,401126,1,1B)"));
  EXPECT_EQ(Send("Z0,401126,1;X1,zz"), "E01");
}

TEST_F(HandlersTest, BreakpointCommandsReachKmWithTheirPersistence) {
  // A dprintf (agent style): its printf bytecode after "cmds:", gdb's disconnected-dprintf flag.
  EXPECT_EQ(Send("Z0,401126,1;cmds:0,X3,220027"), "OK");
  EXPECT_EQ(Send("z0,401126,1"), "OK");
  EXPECT_EQ(Send("Z0,401126,1;cmds:0,X3,220027"), "OK");  // the same again: no RPC
  EXPECT_EQ(Send("Z0,401126,1;cmds:1,X3,220027"), "OK");  // persistence changed
  EXPECT_EQ(Send("Z0,401126,1;X1,27;cmds:0,X3,220027X1,27"), "OK");
  EXPECT_EQ(Send("Z0,401126,1"), "OK");  // a plain breakpoint again
  EXPECT_THAT(target_.calls(),
              ElementsAre("Insert(0,401126,1,cmds:3B)", "Insert(0,401126,1,cmds!:3B)",
                          "Insert(0,401126,1,1B,cmds:3B1B)", "Insert(0,401126,1)"));
  EXPECT_EQ(Send("Z0,401126,1;cmds:"), "E01");
}

TEST_F(HandlersTest, RangeStepReachesKm) {
  EXPECT_TRUE(handlers_->Handle("vCont;r401126,40113a:p64.64;c").resumed);
  EXPECT_THAT(target_.calls(), ElementsAre("Resume(100:r401126-40113a:0;0:c:0)"));
  target_.StopsOnItsOwn(kMain, StopReason{StopKind::kStep, 5}, 0x40113a);
  EXPECT_THAT(DeliverEvents(), AllOf(StartsWith("T05"), HasSubstr("10:3a11400000000000;")));
}

TEST_F(HandlersTest, UnsupportedWatchpointsGetTheEmptyReply) {
  target_.set_refuse_watchpoints(true);
  EXPECT_EQ(Send("Z2,404010,4"), "");
  EXPECT_EQ(Send("Z9,404010,4"), "E01");
}

TEST_F(HandlersTest, ContinueToABreakpointInASingleThreadedPayload) {
  EXPECT_EQ(Send("Z0,401126,1"), "OK");
  EXPECT_TRUE(handlers_->Handle("vCont;c").resumed);
  EXPECT_TRUE(handlers_->running());
  target_.StopsOnItsOwn(kMain, StopReason{StopKind::kBreakpoint, 5}, 0x401126);
  EXPECT_THAT(DeliverEvents(), AllOf(StartsWith("T05"), HasSubstr("10:2611400000000000;"),
                                     HasSubstr("thread:p64.64;swbreak:;")));
  EXPECT_FALSE(handlers_->running());
  // One thread: nothing else to stop, so the hit cost only Resume.
  EXPECT_THAT(target_.calls(), ElementsAre("Insert(0,401126,1)", "Resume(0:c:0)"));
  EXPECT_EQ(Send("g").substr(16 * 16, 16), "2611400000000000");
}

TEST_F(HandlersTest, StepReportsAPlainTrap) {
  EXPECT_TRUE(handlers_->Handle("vCont;s:p64.64").resumed);
  target_.StopsOnItsOwn(kMain, StopReason{StopKind::kStep, 5}, 0x401004);
  EXPECT_THAT(DeliverEvents(), AllOf(StartsWith("T05"), HasSubstr("10:0410400000000000;"),
                                     HasSubstr("thread:p64.64;")));
  EXPECT_THAT(target_.calls(), ElementsAre("Resume(100:s:0)"));
}

TEST_F(HandlersTest, WatchpointAndHardwareBreakpointReasons) {
  EXPECT_EQ(Send("Z3,404010,4"), "OK");
  EXPECT_TRUE(handlers_->Handle("vCont;c").resumed);
  StopReason watch{StopKind::kWatchpoint, 5, 0, 0x404010, WatchKind::kRead};
  target_.StopsOnItsOwn(kMain, watch, 0x401130);
  EXPECT_THAT(DeliverEvents(), HasSubstr("rwatch:404010;"));
  EXPECT_TRUE(handlers_->Handle("vCont;c").resumed);
  target_.StopsOnItsOwn(kMain, StopReason{StopKind::kHwBreakpoint, 5}, 0x401140);
  EXPECT_THAT(DeliverEvents(), HasSubstr("hwbreak:;"));
}

// The target followed an exec: the new program's one thread, held at its start. A gdb that
// follows execs is told the program's path; what the agent knew of the old program is gone, its
// breakpoints included (km has none of them: the same address goes to km again).
TEST_F(HandlersTest, AnExecIsReportedWithTheNewProgramAndTheOldBreakpointsForgotten) {
  Send("qSupported:multiprocess+;exec-events+");
  EXPECT_EQ(Send("Z0,401126,1"), "OK");
  EXPECT_TRUE(handlers_->Handle("vCont;c").resumed);
  StopReason exec{StopKind::kExec, 5};
  exec.exec_path = "/payloads/hello";
  target_.StopsOnItsOwn(kMain, exec, 0x40102b);
  EXPECT_THAT(DeliverEvents(),
              AllOf(StartsWith("T05"), HasSubstr("10:2b10400000000000;thread:p64.64;"),
                    HasSubstr(absl::StrCat("exec:", rsp::HexEncode("/payloads/hello"), ";"))));
  EXPECT_FALSE(handlers_->running());
  EXPECT_EQ(Send("qfThreadInfo"), "mp64.64");
  target_.calls().clear();
  EXPECT_EQ(Send("Z0,401126,1"), "OK");
  EXPECT_THAT(target_.calls(), ElementsAre("Insert(0,401126,1)"));
}

// A fork while the payload runs is told on gdb's console, as gdb tells of a native child it does
// not follow; the payload runs on and the next stop is reported as ever.
TEST_F(HandlersTest, AForkIsToldOnTheConsoleAndThePayloadRunsOn) {
  EXPECT_TRUE(handlers_->Handle("vCont;c").resumed);
  target_.PushEvent(ChildForked{kMain, 4242, /*vfork=*/true});
  EXPECT_EQ(DeliverEvents(), rsp::ConsoleOutput(
                                 "[km: child process 4242 runs without the debugger (vfork)]\n"));
  EXPECT_TRUE(handlers_->running());
  target_.StopsOnItsOwn(kMain, StopReason{StopKind::kBreakpoint, 5}, 0x401126);
  EXPECT_THAT(DeliverEvents(), StartsWith("T05"));
}

// Non-stop gdb takes no console output from a running target: nothing is said.
TEST_F(HandlersTest, AForkInNonStopModeSaysNothing) {
  EXPECT_EQ(Send("QNonStop:1"), "OK");
  target_.PushEvent(ChildForked{kMain, 4242, /*vfork=*/false});
  EXPECT_EQ(DeliverEvents(), "<none>");
}

TEST_F(HandlersTest, AGdbThatFollowsNoExecSeesATrap) {
  EXPECT_TRUE(handlers_->Handle("vCont;c").resumed);
  StopReason exec{StopKind::kExec, 5};
  exec.exec_path = "/payloads/hello";
  target_.StopsOnItsOwn(kMain, exec, 0x40102b);
  const std::string reply = DeliverEvents();
  EXPECT_THAT(reply, StartsWith("T05"));
  EXPECT_THAT(reply, Not(HasSubstr("exec:")));
}

TEST_F(HandlersTest, FaultIsReportedWithItsSignalAndPassingItOnEndsThePayload) {
  EXPECT_TRUE(handlers_->Handle("vCont;c").resumed);
  target_.StopsOnItsOwn(kMain, StopReason{StopKind::kSignal, 11, 0}, 0x401150);
  EXPECT_THAT(DeliverEvents(), StartsWith("T0b"));
  target_.calls().clear();
  EXPECT_TRUE(handlers_->Handle("vCont;C0b:p64.64;c").resumed);
  EXPECT_THAT(target_.calls(), ElementsAre("Resume(100:c:11;0:c:0)"));
  EXPECT_EQ(DeliverEvents(), "X0b;process:64");
  EXPECT_TRUE(handlers_->payload_gone());
}

TEST_F(HandlersTest, SigbusTravelsAsGdbsNumber) {
  EXPECT_TRUE(handlers_->Handle("vCont;c").resumed);
  target_.StopsOnItsOwn(kMain, StopReason{StopKind::kSignal, 7, 0}, 0x401150);
  EXPECT_THAT(DeliverEvents(), StartsWith("T0a"));
  target_.calls().clear();
  EXPECT_TRUE(handlers_->Handle("vCont;C0a:p64.64").resumed);
  EXPECT_THAT(target_.calls(), ElementsAre("Resume(100:c:7)"));
  EXPECT_EQ(DeliverEvents(), "X0a;process:64");
}

TEST_F(HandlersTest, StreamEndAfterAFatalSignalReportsThatSignal) {
  EXPECT_TRUE(handlers_->Handle("vCont;c").resumed);
  target_.StopsOnItsOwn(kMain, StopReason{StopKind::kSignal, 11, 0}, 0x401150);
  DeliverEvents();
  EXPECT_TRUE(handlers_->Handle("vCont;C0b:p64.64").resumed);
  // km exits before its ProcessExited reaches the stream.
  while (target_.NextEvent()) {
  }
  target_.PushEvent(EventsEnded{"km's event stream failed: Socket closed"});
  EXPECT_EQ(DeliverEvents(), "X0b;process:64");
}

// $_siginfo: a fault's carries its address, a sent signal its sender; no signal, no siginfo.
TEST_F(HandlersTest, SiginfoOfTheCurrentThreadsStop) {
  auto siginfo = [&]() -> std::string {
    Response r = handlers_->Handle("qXfer:siginfo:read::0,200");
    if (r.packets.size() != 1 || r.packets[0].empty() || r.packets[0][0] != 'l') {
      return r.packets.empty() ? "" : r.packets[0];
    }
    absl::StatusOr<std::string> bytes = rsp::UnescapeBinary(r.packets[0].substr(1));
    return bytes.ok() ? *bytes : "bad escape";
  };
  auto field = [](const std::string& info, size_t offset) {
    int32_t v = 0;
    std::memcpy(&v, info.data() + offset, sizeof v);
    return v;
  };
  EXPECT_EQ(siginfo(), "E01") << "stopped at entry: no signal";
  EXPECT_TRUE(handlers_->Handle("vCont;c").resumed);
  StopReason segv{StopKind::kSignal, 11, 0xdead0};
  segv.signal_code = 1;  // SEGV_MAPERR
  target_.StopsOnItsOwn(kMain, segv, 0x401150);
  DeliverEvents();
  std::string info = siginfo();
  ASSERT_EQ(info.size(), 128u);
  EXPECT_EQ(field(info, 0), 11);
  EXPECT_EQ(field(info, 8), 1);
  uint64_t addr = 0;
  std::memcpy(&addr, info.data() + 16, sizeof addr);
  EXPECT_EQ(addr, 0xdead0u);
  target_.HandlesSignal(11);
  EXPECT_TRUE(handlers_->Handle("vCont;C0b:p64.64").resumed);
  while (target_.NextEvent()) {
  }
  StopReason usr1{StopKind::kSignal, 10, 0};
  usr1.signal_code = -6;  // SI_TKILL
  usr1.sender_pid = 4242;
  usr1.sender_uid = 7;
  target_.StopsOnItsOwn(kMain, usr1, 0x401160);
  DeliverEvents();
  info = siginfo();
  ASSERT_EQ(info.size(), 128u);
  EXPECT_EQ(field(info, 0), 10);
  EXPECT_EQ(field(info, 8), -6);
  EXPECT_EQ(field(info, 16), 4242);
  EXPECT_EQ(field(info, 20), 7);
}

// The payload handles the signal it is resumed with: its handler runs into a breakpoint.
TEST_F(HandlersTest, AStopAfterResumingWithAHandledSignalIsReported) {
  target_.HandlesSignal(10);
  EXPECT_TRUE(handlers_->Handle("vCont;c").resumed);
  target_.StopsOnItsOwn(kMain, StopReason{StopKind::kSignal, 10, 0}, 0x401150);
  EXPECT_EQ(DeliverEvents().substr(0, 3), "T1e") << "gdb's SIGUSR1";
  target_.calls().clear();
  EXPECT_TRUE(handlers_->Handle("vCont;C1e:p64.64").resumed);
  EXPECT_THAT(target_.calls(), Contains(HasSubstr("Resume(100:c:10)")));
  while (target_.NextEvent()) {
  }
  target_.StopsOnItsOwn(kMain, StopReason{StopKind::kBreakpoint, 5, 0}, 0x401234);
  EXPECT_EQ(DeliverEvents().substr(0, 3), "T05");
}

TEST_F(HandlersTest, ExitStatus) {
  EXPECT_TRUE(handlers_->Handle("c").resumed);
  target_.PushEvent(ThreadExited{kMain, 3});
  target_.PushEvent(ProcessExited{3, 0});
  EXPECT_EQ(DeliverEvents(), "W03;process:64");
}

TEST_F(HandlersTest, InterruptStopsEverythingAndReportsSigint) {
  AddRunningWorker();
  EXPECT_TRUE(handlers_->Handle("vCont;c").resumed);
  target_.calls().clear();
  std::optional<std::string> stop = handlers_->Interrupt();
  ASSERT_TRUE(stop.has_value());
  EXPECT_THAT(*stop, AllOf(StartsWith("T02"), HasSubstr("thread:p64.64;")));
  EXPECT_THAT(target_.calls(), ElementsAre("Stop()"));
  EXPECT_FALSE(handlers_->Interrupt().has_value());  // nothing runs any more
}

TEST_F(HandlersTest, StopInOneThreadStopsTheOthersOnce) {
  AddRunningWorker();
  EXPECT_EQ(Send("Z0,401126,1"), "OK");
  EXPECT_TRUE(handlers_->Handle("vCont;c").resumed);
  target_.calls().clear();
  target_.StopsOnItsOwn(kWorker, StopReason{StopKind::kBreakpoint, 5}, 0x401126);
  EXPECT_THAT(DeliverEvents(), HasSubstr("thread:p64.65;swbreak:;"));
  EXPECT_THAT(target_.calls(), ElementsAre("Stop()"));
  EXPECT_EQ(Send("qfThreadInfo"), "mp64.64,p64.65");
  EXPECT_EQ(Send("qC"), "QCp64.65");
  EXPECT_EQ(Send("Hgp64.64"), "OK");
  EXPECT_EQ(Send("qC"), "QCp64.64");
}

// lldb shows thread names and asks for each other thread's stop with qThreadStopInfo; gdb never
// sees the hexname key, having the names from qXfer:threads.
TEST_F(HandlersTest, LldbGetsThreadNamesAndEachThreadsStop) {
  AddRunningWorker();
  EXPECT_EQ(Send("Z0,401126,1"), "OK");
  EXPECT_EQ(Send("qHostInfo"), "");
  EXPECT_TRUE(handlers_->Handle("vCont;c").resumed);
  target_.StopsOnItsOwn(kWorker, StopReason{StopKind::kBreakpoint, 5}, 0x401126);
  const std::string stop = DeliverEvents();
  EXPECT_THAT(stop, HasSubstr(absl::StrCat("thread:p64.65;hexname:", rsp::HexEncode("worker-1"),
                                           ";swbreak:;")));
  EXPECT_EQ(Send("qThreadStopInfo65"), stop);
  const std::string main = Send("qThreadStopInfo64");
  EXPECT_THAT(main, AllOf(StartsWith("T00"), HasSubstr(absl::StrCat("thread:p64.64;hexname:",
                                                                    rsp::HexEncode("main"), ";"))));
  EXPECT_THAT(main, Not(HasSubstr("swbreak")));
  EXPECT_EQ(Send("qThreadStopInfo99"), "E01");
  EXPECT_EQ(Send("qThreadStopInfo"), "E01");
  EXPECT_EQ(Send("qThreadStopInfozz"), "E01");
}

// gdb's pass list in its numbering becomes Linux's (gdb's SIGBUS is 10, Linux's 7); signals
// Linux has not (gdb's SIGEMT, 7) are left out.
TEST_F(HandlersTest, PassSignals) {
  EXPECT_THAT(Send("qSupported:multiprocess+"), HasSubstr("QPassSignals+"));
  EXPECT_EQ(Send("QPassSignals:e;a;7;1e;"), "OK");
  EXPECT_EQ(Send("QPassSignals:e;zz"), "E01");
  EXPECT_TRUE(target_.calls().empty()) << "the list waits for a resume";
  EXPECT_TRUE(handlers_->Handle("vCont;c").resumed);
  EXPECT_THAT(target_.calls(), ElementsAre("PassSignals(14,7,10)", "Resume(0:c:0)"));
  target_.StopsOnItsOwn(kMain, StopReason{StopKind::kBreakpoint, 5}, 0x401004);
  DeliverEvents();
  target_.calls().clear();
  // gdb's step off a breakpoint: no list for the step, its list again for the continue. A lone
  // step stops at any signal whatever km's list says, so km hears of neither.
  EXPECT_EQ(Send("QPassSignals:"), "OK");
  EXPECT_TRUE(handlers_->Handle("vCont;s:p64.64").resumed);
  target_.StopsOnItsOwn(kMain, StopReason{StopKind::kStep, 5}, 0x401008);
  DeliverEvents();
  EXPECT_EQ(Send("QPassSignals:e;a;7;1e;"), "OK");
  EXPECT_TRUE(handlers_->Handle("vCont;c").resumed);
  target_.StopsOnItsOwn(kMain, StopReason{StopKind::kBreakpoint, 5}, 0x401004);
  DeliverEvents();
  // A change that holds for a continue reaches km with it.
  EXPECT_EQ(Send("QPassSignals:"), "OK");
  EXPECT_TRUE(handlers_->Handle("vCont;c").resumed);
  EXPECT_THAT(target_.calls(), ElementsAre("Resume(100:s:0)", "Resume(0:c:0)", "PassSignals()",
                                           "Resume(0:c:0)"));
}

// Non-stop: threads run while gdb changes the list, so it reaches km at once.
TEST_F(HandlersTest, PassSignalsInNonStopReachKmAtOnce) {
  EXPECT_EQ(Send("QPassSignals:e;"), "OK");
  EXPECT_EQ(Send("QNonStop:1"), "OK");
  EXPECT_THAT(target_.calls(), ElementsAre("PassSignals(14)"));
  EXPECT_EQ(Send("QPassSignals:e;14;"), "OK");  // gdb's SIGCHLD is 20, Linux's 17
  EXPECT_THAT(target_.calls(), ElementsAre("PassSignals(14)", "PassSignals(14,17)"));
}

// gdb's `catch syscall`: the set goes to km, and a caught syscall's stops say which syscall.
TEST_F(HandlersTest, CatchSyscalls) {
  EXPECT_THAT(Send("qSupported:multiprocess+"), HasSubstr("QCatchSyscalls+"));
  EXPECT_EQ(Send("QCatchSyscalls:1;14;e7"), "OK");
  EXPECT_EQ(Send("QCatchSyscalls:0"), "OK");
  EXPECT_EQ(Send("QCatchSyscalls:1;zz"), "E01");
  EXPECT_THAT(target_.calls(), ElementsAre("CatchSyscalls(1:20,231)", "CatchSyscalls(0:)"));
  EXPECT_TRUE(handlers_->Handle("vCont;c").resumed);
  StopReason entry{StopKind::kSyscallEntry, 5};
  entry.syscall = 20;
  target_.StopsOnItsOwn(kMain, entry, 0x401010);
  EXPECT_THAT(DeliverEvents(), AllOf(StartsWith("T05"), HasSubstr("thread:p64.64;syscall_entry:14;")));
  EXPECT_TRUE(handlers_->Handle("vCont;c").resumed);
  StopReason ret{StopKind::kSyscallReturn, 5};
  ret.syscall = 20;
  target_.StopsOnItsOwn(kMain, ret, 0x401010);
  EXPECT_THAT(DeliverEvents(), HasSubstr("thread:p64.64;syscall_return:14;"));
}

TEST_F(HandlersTest, GdbStopRepliesCarryNoThreadName) {
  AddRunningWorker();
  EXPECT_EQ(Send("Z0,401126,1"), "OK");
  EXPECT_TRUE(handlers_->Handle("vCont;c").resumed);
  target_.calls().clear();
  target_.StopsOnItsOwn(kWorker, StopReason{StopKind::kBreakpoint, 5}, 0x401126);
  EXPECT_THAT(DeliverEvents(), Not(HasSubstr("hexname")));
  EXPECT_THAT(target_.calls(), ElementsAre("Stop()"));  // and no ListThreads for a name
}

TEST_F(HandlersTest, SimultaneousStopIsHeldBackThenReportedAndItsDuplicateDropped) {
  AddRunningWorker();
  EXPECT_EQ(Send("Z0,401126,1"), "OK");
  EXPECT_TRUE(handlers_->Handle("vCont;c").resumed);
  // Both hit the breakpoint; the worker's event is still in flight when main's arrives.
  target_.StopsOnItsOwn(kWorker, StopReason{StopKind::kBreakpoint, 5}, 0x401126, /*push_event=*/false);
  target_.StopsOnItsOwn(kMain, StopReason{StopKind::kBreakpoint, 5}, 0x401126);
  EXPECT_THAT(DeliverEvents(), HasSubstr("thread:p64.64;swbreak:;"));
  // km's own event for the worker arrives late: already known, so not a new stop.
  target_.PushEvent(target_.threads()[kWorker].stop);
  EXPECT_EQ(DeliverEvents(), "<none>");
  target_.calls().clear();
  // gdb resumes: the worker's hit is reported at once, nothing runs.
  Response r = handlers_->Handle("vCont;c");
  ASSERT_EQ(r.packets.size(), 1u);
  EXPECT_THAT(r.packets[0], HasSubstr("thread:p64.65;swbreak:;"));
  EXPECT_THAT(target_.calls(), ElementsAre());
  // The next resume runs everything.
  EXPECT_TRUE(handlers_->Handle("vCont;c").resumed);
  EXPECT_THAT(target_.calls(), ElementsAre("Resume(0:c:0)"));
}

TEST_F(HandlersTest, HeldBackBreakpointHitIsDroppedWhenGdbRemovedTheBreakpoint) {
  AddRunningWorker();
  EXPECT_EQ(Send("Z0,401126,1"), "OK");
  EXPECT_TRUE(handlers_->Handle("vCont;c").resumed);
  target_.StopsOnItsOwn(kWorker, StopReason{StopKind::kBreakpoint, 5}, 0x401126, false);
  target_.StopsOnItsOwn(kMain, StopReason{StopKind::kBreakpoint, 5}, 0x401126);
  DeliverEvents();
  EXPECT_EQ(Send("z0,401126,1"), "OK");
  EXPECT_TRUE(handlers_->Handle("vCont;c").resumed);
}

TEST_F(HandlersTest, ThreadBornWhileStoppedIsStoppedToo) {
  EXPECT_TRUE(handlers_->Handle("vCont;c").resumed);
  target_.AddThread(kWorker, "worker-1", /*running=*/true);
  target_.PushEvent(ThreadCreated{kWorker});
  target_.StopsOnItsOwn(kMain, StopReason{StopKind::kBreakpoint, 5}, 0x401126);
  DeliverEvents();
  EXPECT_EQ(Send("qfThreadInfo"), "mp64.64,p64.65");
  target_.PushEvent(ThreadExited{kWorker, 0});
  DeliverEvents();
  EXPECT_EQ(Send("qfThreadInfo"), "mp64.64");
}

TEST_F(HandlersTest, QXferObjects) {
  const std::string features = Send("qXfer:features:read:target.xml:0,100000");
  EXPECT_THAT(features, StartsWith("l<?xml"));
  EXPECT_THAT(features, HasSubstr("org.gnu.gdb.i386.core"));
  EXPECT_THAT(Send("qXfer:features:read:target.xml:0,10"), StartsWith("m<?xml"));
  EXPECT_EQ(Send("qXfer:features:read:other.xml:0,10"), "E00");
  EXPECT_EQ(Send("qXfer:auxv:read::0,1000"), std::string("l\x06\0\0\0\0\0\0\0\0\x10\0\0\0\0\0\0", 17));
  EXPECT_EQ(Send("qXfer:exec-file:read:64:0,1000"), "l/payloads/hello");
  AddRunningWorker();
  const std::string threads = Send("qXfer:threads:read::0,1000");
  EXPECT_THAT(threads, HasSubstr("<thread id=\"p64.64\" name=\"main\"/>"));
  // Not in the agent's list yet (no stop has shown it): not reported.
  EXPECT_THAT(threads, Not(HasSubstr("p64.65")));
  EXPECT_EQ(Send("qXfer:libraries:read::0,1000"), "");
}

TEST_F(HandlersTest, VFileReadsHostFiles) {
  const std::string path = absl::StrCat(getenv("TEST_TMPDIR"), "/vfile.txt");
  std::ofstream(path) << "0123456789";
  const std::string open = Send(absl::StrCat("vFile:open:", rsp::HexEncode(path), ",0,0"));
  ASSERT_THAT(open, StartsWith("F"));
  const std::string fd = open.substr(1);
  EXPECT_EQ(Send(absl::StrCat("vFile:pread:", fd, ",4,2")), "F4;2345");
  EXPECT_EQ(Send(absl::StrCat("vFile:pread:", fd, ",4,a")), "F0;");
  const std::string st = Send(absl::StrCat("vFile:fstat:", fd));
  EXPECT_THAT(st, StartsWith("F40;"));
  EXPECT_EQ(Send(absl::StrCat("vFile:close:", fd)), "F0");
  EXPECT_EQ(Send(absl::StrCat("vFile:close:", fd)), "F-1,9");
  EXPECT_EQ(Send(absl::StrCat("vFile:open:", rsp::HexEncode(path), ",1,0")), "F-1,d");
  EXPECT_EQ(Send(absl::StrCat("vFile:open:", rsp::HexEncode("/no/such/file"), ",0,0")), "F-1,2");
  EXPECT_EQ(Send("vFile:setfs:0"), "F0");
  EXPECT_EQ(Send("vFile:unlink:2f78"), "F-1,58");
}

// gdb's `info proc` reads /proc/PID/... with the payload's pid, which is km's: the payload's
// command line, executable and memory map come from km, not from km's own /proc files.
TEST_F(HandlersTest, ThePayloadsProcFilesComeFromKm) {
  TargetInfo info = target_.info();
  info.argv = {"/payloads/hello", "a b", "c"};
  Handlers handlers(target_, info);
  ASSERT_TRUE(handlers.Begin().ok());
  auto send = [&](const std::string& packet) {
    Response r = handlers.Handle(packet);
    return r.packets.empty() ? std::string("<none>") : r.packets.front();
  };
  auto read_whole = [&](const std::string& path) {
    const std::string open = send(absl::StrCat("vFile:open:", rsp::HexEncode(path), ",0,1c0"));
    EXPECT_THAT(open, StartsWith("F")) << path;
    const std::string fd = open.substr(1);
    EXPECT_THAT(send(absl::StrCat("vFile:fstat:", fd)), StartsWith("F40;"));
    const std::string data = send(absl::StrCat("vFile:pread:", fd, ",1000,0"));
    EXPECT_EQ(send(absl::StrCat("vFile:close:", fd)), "F0");
    return data;
  };
  EXPECT_EQ(read_whole("/proc/100/cmdline"), std::string("F16;/payloads/hello\0a b\0c\0", 26));
  EXPECT_EQ(read_whole("/proc/100/maps"),
            "F3b;00400000-00401000 rw-p 00000000 00:00 0    /payloads/hello\n");
  EXPECT_EQ(send(absl::StrCat("vFile:readlink:", rsp::HexEncode("/proc/100/exe"))),
            "Ff;/payloads/hello");
  EXPECT_EQ(send(absl::StrCat("vFile:open:", rsp::HexEncode("/proc/100/smaps"), ",0,1c0")), "F-1,2");
  // Another process's files, and the payload's that km has no view of, are the host's.
  EXPECT_EQ(send(absl::StrCat("vFile:readlink:", rsp::HexEncode("/proc/1000000000/exe"))), "F-1,2");
}

TEST_F(HandlersTest, MonitorCommands) {
  Response r = handlers_->Handle(absl::StrCat("qRcmd,", rsp::HexEncode("help")));
  ASSERT_EQ(r.packets.size(), 2u);
  EXPECT_EQ(r.packets[1], "OK");
  EXPECT_THAT(*rsp::HexDecode(r.packets[0].substr(1)), HasSubstr("threads"));
  r = handlers_->Handle(absl::StrCat("qRcmd,", rsp::HexEncode("threads")));
  EXPECT_THAT(*rsp::HexDecode(r.packets[0].substr(1)), HasSubstr("main"));
  r = handlers_->Handle(absl::StrCat("qRcmd,", rsp::HexEncode("memory")));
  EXPECT_THAT(*rsp::HexDecode(r.packets[0].substr(1)), HasSubstr("0x0000000000400000"));
  r = handlers_->Handle(absl::StrCat("qRcmd,", rsp::HexEncode("info")));
  EXPECT_THAT(*rsp::HexDecode(r.packets[0].substr(1)), HasSubstr("km pid:      100"));
  r = handlers_->Handle(absl::StrCat("qRcmd,", rsp::HexEncode("bogus")));
  EXPECT_THAT(*rsp::HexDecode(r.packets[0].substr(1)), HasSubstr("unknown monitor command"));
}

// The console text of a monitor command's reply.
std::string MonitorText(Handlers& handlers, absl::string_view command) {
  Response r = handlers.Handle(absl::StrCat("qRcmd,", rsp::HexEncode(command)));
  if (r.packets.size() != 2 || r.packets[1] != "OK" || r.packets[0].empty() || r.packets[0][0] != 'O') {
    return "<not console output and OK>";
  }
  return rsp::HexDecode(r.packets[0].substr(1)).value_or("<bad hex>");
}

TEST_F(HandlersTest, ReverseExecutionIsNotOfferedWhenTheEngineCannotRecord) {
  EXPECT_THAT(Send("qSupported:multiprocess+"), Not(HasSubstr("Reverse")));
  EXPECT_EQ(MonitorText(*handlers_, "record on"), "km's fake engine cannot record (km --accel=tcg can)\n");
  // gdb may still send bs (extended mode offered it before the process came): km answers, and
  // gdb's user learns why there is no history, without asking km whether it records.
  Response r = handlers_->Handle("bs");
  EXPECT_TRUE(r.resumed);
  ASSERT_EQ(r.packets.size(), 1u);
  EXPECT_THAT(rsp::HexDecode(r.packets[0].substr(1)).value_or(""), HasSubstr("engine cannot record"));
  EXPECT_THAT(DeliverEvents(), HasSubstr("thread:p64.64;replaylog:begin;"));
  EXPECT_THAT(target_.calls(), ElementsAre("Resume(100:bs:0)"));
}

// A fake whose engine records, for reverse execution.
class ReverseHandlersTest : public HandlersTest {
 protected:
  void SetUp() override {
    target_.set_can_record(true);
    HandlersTest::SetUp();
  }

  // Begins anew, so that the agent knows every thread the fake has now.
  void Restart() {
    handlers_ = std::make_unique<Handlers>(target_, target_.info());
    ASSERT_TRUE(handlers_->Begin().ok());
    Send("qSupported:multiprocess+;swbreak+;hwbreak+");
    target_.calls().clear();
  }
};

TEST_F(ReverseHandlersTest, QSupportedOffersReverseStepAndContinue) {
  EXPECT_THAT(Send("qSupported:multiprocess+"),
              AllOf(HasSubstr(";ReverseStep+;"), HasSubstr(";ReverseContinue+;")));
}

TEST_F(ReverseHandlersTest, MonitorRecordTurnsRecordingOnAndOffAndSaysWhatItHolds) {
  EXPECT_EQ(MonitorText(*handlers_, "record"), "recording: off\n");
  EXPECT_EQ(MonitorText(*handlers_, "record on 5000"),
            "recording: on, 0 instructions kept (at most 5000)\n");
  EXPECT_EQ(MonitorText(*handlers_, "record on"),
            "recording: on, 0 instructions kept (at most 200000)\n");
  target_.Recorded({0x400ff0, 0x400ff8, 0x400ffc});
  EXPECT_EQ(MonitorText(*handlers_, "record"),
            "recording: on, 3 instructions kept (at most 200000)\n");
  EXPECT_TRUE(handlers_->Handle("bs").resumed);
  DeliverEvents();
  EXPECT_EQ(MonitorText(*handlers_, "record"),
            "recording: on, 3 instructions kept (at most 200000)\n"
            "replaying 1 instructions back from the end\n");
  // Off while replaying would move the payload under gdb: refused, with what to do instead.
  EXPECT_THAT(MonitorText(*handlers_, "record off"), HasSubstr("go forward to the present first"));
  target_.Recorded({});  // back at the end
  EXPECT_EQ(MonitorText(*handlers_, "record off"), "recording: off\n");
  EXPECT_THAT(target_.calls(),
              ElementsAre("GetRecording", "SetRecording(1,5000)", "SetRecording(1,0)", "GetRecording",
                          "Resume(100:bs:0)", "GetRecording", "GetRecording", "GetRecording",
                          "SetRecording(0,0)"));
  for (const char* bad : {"record on 0", "record on lots", "record on 1 2", "record off now", "record back"}) {
    EXPECT_EQ(MonitorText(*handlers_, bad), "usage: monitor record [on [MAX] | off]\n") << bad;
  }
  EXPECT_THAT(MonitorText(*handlers_, "help"), HasSubstr("record on [MAX]"));
}

// One reverse-stepi costs one Resume: km holds the call for the stop, and the stop brings the
// registers gdb reads first.
TEST_F(ReverseHandlersTest, ReverseStepGoesBackOneInstructionPerResume) {
  EXPECT_THAT(MonitorText(*handlers_, "record on"), HasSubstr("recording: on"));
  target_.Recorded({0x400ff0, 0x400ff8});
  target_.calls().clear();
  EXPECT_EQ(Send("Hc0"), "OK");
  Response r = handlers_->Handle("bs");
  EXPECT_TRUE(r.resumed);
  EXPECT_TRUE(r.packets.empty());  // recording: nothing to tell the user
  EXPECT_GT(target_.last_wait().wait, absl::ZeroDuration());
  std::string stop = DeliverEvents();
  EXPECT_THAT(stop, AllOf(StartsWith("T05"), HasSubstr("10:f80f400000000000;thread:p64.64;")));
  EXPECT_THAT(stop, Not(HasSubstr("replaylog")));
  EXPECT_EQ(Send("g").substr(16 * 16, 16), "f80f400000000000");
  EXPECT_TRUE(handlers_->Handle("bs").resumed);
  EXPECT_THAT(DeliverEvents(), HasSubstr("10:f00f400000000000;thread:p64.64;"));
  // Nothing older: the history's beginning, where the thread stays.
  EXPECT_TRUE(handlers_->Handle("bs").resumed);
  EXPECT_THAT(DeliverEvents(), HasSubstr("10:f00f400000000000;thread:p64.64;replaylog:begin;"));
  EXPECT_THAT(target_.calls(),
              ElementsAre("Resume(100:bs:0)", "Resume(100:bs:0)", "Resume(100:bs:0)"));
}

TEST_F(ReverseHandlersTest, ReverseStepStepsTheHcThreadAndRefreshesTheOthers) {
  AddRunningWorker();
  Restart();
  EXPECT_THAT(MonitorText(*handlers_, "record on"), HasSubstr("recording: on"));
  target_.Recorded({0x401200});
  EXPECT_EQ(Send("Hcp64.65"), "OK");
  target_.calls().clear();
  // Undoing the worker's last instruction undoes main's since then too: km has main here now.
  target_.threads()[kMain].stop.regs.rip = 0x401100;
  EXPECT_TRUE(handlers_->Handle("bs").resumed);
  EXPECT_THAT(DeliverEvents(), AllOf(StartsWith("T05"), HasSubstr("10:0012400000000000;thread:p64.65;")));
  // So the agent asks km for every thread's state instead of serving what main stopped with.
  EXPECT_THAT(target_.calls(), ElementsAre("Resume(101:bs:0)", "Stop()"));
  EXPECT_EQ(Send("Hgp64.64"), "OK");
  EXPECT_EQ(Send("p10"), "0011400000000000");
}

TEST_F(ReverseHandlersTest, ReverseContinueReportsTheHistorysBeginning) {
  EXPECT_THAT(MonitorText(*handlers_, "record on"), HasSubstr("recording: on"));
  target_.Recorded({0x400f00, 0x400f80, 0x400fc0});
  target_.calls().clear();
  EXPECT_EQ(Send("Hcp64.0"), "OK");  // gdb with multiprocess: the process, any thread
  EXPECT_TRUE(handlers_->Handle("bc").resumed);
  const std::string stop = DeliverEvents();
  EXPECT_THAT(stop, AllOf(StartsWith("T05"), HasSubstr("10:000f400000000000;"),
                          HasSubstr("thread:p64.64;replaylog:begin;")));
  EXPECT_THAT(target_.calls(), ElementsAre("Resume(0:bc:0)"));
  EXPECT_EQ(Send("?"), stop);
}

TEST_F(ReverseHandlersTest, ReverseWithoutARecordingSaysHowToStartOne) {
  Response r = handlers_->Handle("bc");
  EXPECT_TRUE(r.resumed);
  ASSERT_EQ(r.packets.size(), 1u);
  ASSERT_THAT(r.packets[0], StartsWith("O"));
  EXPECT_THAT(rsp::HexDecode(r.packets[0].substr(1)).value_or(""), HasSubstr("`monitor record on`"));
  // km answers that there is no history; the thread stays where it was.
  EXPECT_THAT(DeliverEvents(), HasSubstr("10:0010400000000000;thread:p64.64;replaylog:begin;"));
  // km was asked once whether it records; the next reverse command knows.
  EXPECT_EQ(handlers_->Handle("bs").packets.size(), 1u);
  DeliverEvents();
  EXPECT_THAT(target_.calls(), ElementsAre("GetRecording", "Resume(0:bc:0)", "Resume(100:bs:0)"));
}

TEST_F(ReverseHandlersTest, WritesWhileReplayingAreRefusedAndChangeNothing) {
  EXPECT_THAT(MonitorText(*handlers_, "record on"), HasSubstr("recording: on"));
  target_.Recorded({0x400ff0});
  EXPECT_TRUE(handlers_->Handle("bs").resumed);
  DeliverEvents();
  EXPECT_EQ(Send("P10=3412400000000000"), "E01");
  EXPECT_EQ(Send("p10"), "f00f400000000000");
  EXPECT_EQ(Send("M400010,1:cc"), "E0e");
  EXPECT_EQ(Send("m400010,1"), "00");
}

// A stop gdb has not heard of happened in the present; reverse execution leaves it behind.
TEST_F(ReverseHandlersTest, AHeldBackStopIsNotTheAnswerToAReverseResume) {
  AddRunningWorker();
  Restart();
  EXPECT_THAT(MonitorText(*handlers_, "record on"), HasSubstr("recording: on"));
  target_.Recorded({0x401100});
  EXPECT_EQ(Send("Z0,401126,1"), "OK");
  EXPECT_TRUE(handlers_->Handle("vCont;c").resumed);
  target_.StopsOnItsOwn(kWorker, StopReason{StopKind::kBreakpoint, 5}, 0x401126, /*push_event=*/false);
  target_.StopsOnItsOwn(kMain, StopReason{StopKind::kBreakpoint, 5}, 0x401126);
  EXPECT_THAT(DeliverEvents(), HasSubstr("thread:p64.64;swbreak:;"));
  target_.calls().clear();
  EXPECT_TRUE(handlers_->Handle("bs").resumed);
  EXPECT_THAT(DeliverEvents(), HasSubstr("10:0011400000000000;thread:p64.64;"));
  EXPECT_EQ(target_.calls().front(), "Resume(100:bs:0)");
}

// gdb's QProgramSignals (gdb numbers; SIGUSR1 is 30 there, 10 on Linux) reaches km at once, so
// that it holds however the session ends.
TEST_F(HandlersTest, ProgramSignalsReachKmAtOnce) {
  EXPECT_THAT(Send("qSupported:multiprocess+"), HasSubstr("QProgramSignals+"));
  EXPECT_EQ(Send("QProgramSignals:e;1e;"), "OK");
  EXPECT_EQ(Send("QProgramSignals:2;e;1e;8f;"), "OK");  // replaces the list
  EXPECT_EQ(Send("QProgramSignals:e;zz"), "E01");      // a bad one changes nothing
  EXPECT_EQ(Send("QProgramSignals:"), "OK");           // none: keep every signal back
  EXPECT_EQ(Send("D"), "OK");
  // 0x8f, gdb's "unknown", stands for SIGSTKFLT, which gdb has no number for.
  EXPECT_THAT(target_.calls(), ElementsAre("ProgramSignals(14,10)", "ProgramSignals(2,14,10,16)",
                                           "ProgramSignals()", "Detach"));
}

TEST_F(HandlersTest, DetachAndKill) {
  EXPECT_EQ(Send("D;64"), "OK");
  EXPECT_THAT(target_.calls(), ElementsAre("Detach"));
  EXPECT_EQ(Send("g"), "E01");
}

// gdb removes its breakpoints before 'D' (and at stops): a dprintf whose commands persist, which
// km keeps past the session, leaves km at once, not at the next resume like the others.
TEST_F(HandlersTest, PersistentBreakpointsGdbRemovesLeaveKmAtOnce) {
  EXPECT_EQ(Send("Z0,401126,1;cmds:1,X3,220027"), "OK");
  EXPECT_EQ(Send("z0,401126,1"), "OK");
  EXPECT_EQ(Send("D"), "OK");
  EXPECT_THAT(target_.calls(),
              ElementsAre("Insert(0,401126,1,cmds!:3B)", "Remove(0,401126,1)", "Detach"));
}

TEST_F(HandlersTest, OtherBreakpointsGdbRemovesWaitForTheNextResume) {
  EXPECT_EQ(Send("Z0,401126,1;cmds:0,X3,220027"), "OK");
  EXPECT_EQ(Send("Z0,401130,1;cmds:1,X3,220027"), "OK");
  EXPECT_EQ(Send("z0,401126,1"), "OK");
  EXPECT_EQ(Send("z0,401130,1"), "OK");
  handlers_->Disconnect();
  EXPECT_THAT(target_.calls(),
              ElementsAre("Insert(0,401126,1,cmds:3B)", "Insert(0,401130,1,cmds!:3B)",
                          "Remove(0,401130,1)", "Detach"));
}

TEST_F(HandlersTest, StreamEndAfterDetachIsNotThePayloadsEnd) {
  EXPECT_EQ(Send("D"), "OK");
  target_.PushEvent(EventsEnded{"km ended the event stream"});
  EXPECT_EQ(DeliverEvents(), "<none>");
  EXPECT_FALSE(handlers_->payload_gone());
}

TEST_F(HandlersTest, StreamEndWhileRunningIsReportedAsTheProcessKilled) {
  EXPECT_TRUE(handlers_->Handle("vCont;c").resumed);
  target_.PushEvent(EventsEnded{"km's event stream failed: socket closed"});
  EXPECT_EQ(DeliverEvents(), "X09;process:64");
  EXPECT_TRUE(handlers_->payload_gone());
}

TEST_F(HandlersTest, ExitWhileStoppedIsReportedAtTheNextResume) {
  target_.PushEvent(ProcessExited{0, 0});
  EXPECT_EQ(DeliverEvents(), "<none>");
  EXPECT_EQ(Send("vCont;c"), "W00;process:64");
}

TEST_F(HandlersTest, KillWithKHasNoReply) {
  EXPECT_TRUE(handlers_->Handle("k").packets.empty());
  EXPECT_THAT(target_.calls(), ElementsAre("Resume(0:c:9)"));
  EXPECT_TRUE(handlers_->payload_gone());
}

// lldb (known by its qHostInfo) waits for the exit status lldb-server sends after a kill.
TEST_F(HandlersTest, KillWithKRepliesWithTheExitStatusToLldb) {
  EXPECT_EQ(Send("qHostInfo"), "");
  EXPECT_THAT(handlers_->Handle("k").packets, ElementsAre("X09"));
  EXPECT_THAT(target_.calls(), ElementsAre("Resume(0:c:9)"));
}

TEST_F(HandlersTest, VKillSaysOkEvenThoughKmLeftMidCall) {
  EXPECT_EQ(Send("vKill;64"), "OK");
  EXPECT_TRUE(handlers_->payload_gone());
  EXPECT_EQ(DeliverEvents(), "<none>");
  handlers_->Disconnect();
  EXPECT_THAT(target_.calls(), ElementsAre("Resume(0:c:9)"));  // no Detach of a dead km
}

TEST_F(HandlersTest, UnknownAndMalformedPackets) {
  EXPECT_EQ(Send("qTMinFTPILen"), "");  // no fast tracepoints
  EXPECT_EQ(Send("vMustReplyEmpty"), "");
  EXPECT_EQ(Send("QNonStop:2"), "E01");
  EXPECT_EQ(Send("Hq1"), "E01");
  EXPECT_EQ(Send("vCont;x"), "E01");
  EXPECT_EQ(Send("vCont?"), "vCont;c;C;s;S;t;r");
  EXPECT_EQ(Send("qSymbol::"), "OK");
}

}  // namespace
}  // namespace agent

namespace agent {
namespace {

// Non-stop mode over the fake target: replies at once, stops as notifications, one at a time.
class NonStopHandlersTest : public HandlersTest {
 protected:
  void SetUp() override {
    HandlersTest::SetUp();
    AddRunningWorker();
    // The worker existed at Begin in the fake: take it over stopped, as Begin left everything.
    handlers_ = std::make_unique<Handlers>(target_, target_.info());
    ASSERT_TRUE(handlers_->Begin().ok());
    Send("qSupported:multiprocess+;swbreak+;hwbreak+");
    ASSERT_EQ(Send("QNonStop:1"), "OK");
    target_.calls().clear();
  }

  // Delivers queued events; the notification due afterwards, if any.
  std::string Notification() {
    DeliverEvents();
    return handlers_->TakeNotification().value_or("<none>");
  }
};

TEST_F(NonStopHandlersTest, QuestionMarkReportsEveryStoppedThreadThenOK) {
  EXPECT_THAT(Send("?"), StartsWith("T00"));  // stopped by the debugger: no signal
  EXPECT_THAT(Send("vStopped"), HasSubstr("thread:p64.65;"));
  EXPECT_EQ(Send("vStopped"), "OK");
}

TEST_F(NonStopHandlersTest, StopsOfSeveralThreadsQueueBehindOneNotification) {
  EXPECT_EQ(Send("vCont;c:p64.-1"), "OK");  // no stop reply: OK at once
  EXPECT_EQ(Send("m400000,4"), "00000000");  // memory while everything runs
  target_.StopsOnItsOwn(kWorker, StopReason{StopKind::kBreakpoint}, 0x401234);
  target_.StopsOnItsOwn(kMain, StopReason{StopKind::kBreakpoint}, 0x401234);
  const std::string first = Notification();
  EXPECT_THAT(first, StartsWith("T05"));
  EXPECT_THAT(first, HasSubstr("thread:p64.65;swbreak:;"));
  EXPECT_EQ(handlers_->TakeNotification(), std::nullopt);  // one outstanding at a time
  EXPECT_THAT(Send("vStopped"), HasSubstr("thread:p64.64;swbreak:;"));
  EXPECT_EQ(Send("vStopped"), "OK");
}

TEST_F(NonStopHandlersTest, ResumeOfOneThreadLeavesTheOtherStopped) {
  EXPECT_EQ(Send("vCont;c:p64.65"), "OK");
  EXPECT_THAT(target_.calls(), ElementsAre("Resume(101:c:0)"));
  EXPECT_TRUE(target_.threads()[kWorker].running);
  EXPECT_FALSE(target_.threads()[kMain].running);
  // The stopped main thread's registers are there while the worker runs.
  EXPECT_THAT(Send("Hgp64.64"), "OK");
  EXPECT_NE(Send("g"), "E01");
}

TEST_F(NonStopHandlersTest, VContTStopsOneThreadWithSignalZero) {
  ASSERT_EQ(Send("vCont;c:p64.-1"), "OK");
  target_.calls().clear();
  EXPECT_EQ(Send("vCont;t:p64.65"), "OK");
  EXPECT_THAT(target_.calls(), ElementsAre("Stop(101)"));
  const std::optional<std::string> n = handlers_->TakeNotification();
  ASSERT_TRUE(n.has_value());
  EXPECT_THAT(*n, StartsWith("T00"));
  EXPECT_THAT(*n, HasSubstr("thread:p64.65;"));
  EXPECT_TRUE(target_.threads()[kMain].running);
}

TEST_F(NonStopHandlersTest, ThreadWhoseStopGdbHasNotSeenIsNotResumed) {
  ASSERT_EQ(Send("vCont;c:p64.-1"), "OK");
  target_.StopsOnItsOwn(kWorker, StopReason{StopKind::kBreakpoint}, 0x401234);
  ASSERT_NE(Notification(), "<none>");
  target_.calls().clear();
  // gdb resumes "all" before it has acknowledged the worker's stop: the worker stays.
  EXPECT_EQ(Send("vCont;c:p64.-1"), "OK");
  EXPECT_THAT(target_.calls(), ::testing::IsEmpty());
  EXPECT_EQ(Send("vStopped"), "OK");
  EXPECT_EQ(Send("vCont;c:p64.-1"), "OK");
  EXPECT_THAT(target_.calls(), ElementsAre("Resume(101:c:0)"));
}

TEST_F(NonStopHandlersTest, ExitIsANotificationToo) {
  ASSERT_EQ(Send("vCont;c:p64.-1"), "OK");
  target_.PushEvent(ProcessExited{0, 0});
  EXPECT_EQ(Notification(), "W00;process:64");
  EXPECT_EQ(Send("vStopped"), "OK");
  EXPECT_TRUE(handlers_->payload_gone());
}

// gdb does not reverse in non-stop mode; the agent does not pretend to.
TEST_F(NonStopHandlersTest, ReverseExecutionIsRefused) {
  EXPECT_EQ(Send("Hcp64.64"), "OK");
  EXPECT_EQ(Send("bs"), "E01");
  EXPECT_EQ(Send("bc"), "E01");
  EXPECT_THAT(target_.calls(), ::testing::IsEmpty());
}

TEST_F(NonStopHandlersTest, BreakpointRemovalReachesKmAtOnce) {
  ASSERT_EQ(Send("Z0,401000,1"), "OK");
  ASSERT_EQ(Send("z0,401000,1"), "OK");
  EXPECT_THAT(target_.calls(), ElementsAre("Insert(0,401000,1)", "Remove(0,401000,1)"));
}

}  // namespace
}  // namespace agent
