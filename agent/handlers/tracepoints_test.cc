// Tracepoints through the handlers, against the fake target: gdb's definitions reach km whole
// at QTStart, the run's status reads as gdb parses it, and while gdb looks at a trace frame its
// reads come from that frame.
#include <memory>
#include <string>

#include "agent/arch/amd64/registers.h"
#include "agent/handlers/handlers.h"
#include "agent/rsp/encoding.h"
#include "agent/testing/fake_target.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace agent {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::FakeTarget;

class TracepointsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    handlers_ = std::make_unique<Handlers>(target_, target_.info());
    ASSERT_TRUE(handlers_->Begin().ok());
    Send("qSupported:multiprocess+;swbreak+;hwbreak+");
    target_.calls().clear();
  }

  std::string Send(absl::string_view packet) {
    Response r = handlers_->Handle(packet);
    EXPECT_EQ(r.packets.size(), 1u) << packet;
    return r.packets.empty() ? "<none>" : r.packets.front();
  }

  // Two frames of a run: 0, a hit of tracepoint 2 that collected registers and two adjacent
  // blocks of stack; 1, a hit of tracepoint 3 that collected 4 bytes of a global only.
  void TwoFrames() {
    TraceFrame with_registers;
    with_registers.number = 0;
    with_registers.tracepoint = 2;
    with_registers.pc = 0x401143;
    amd64::Registers regs;
    regs.general.gpr[0] = 3;
    regs.general.rip = 0x401143;
    regs.fpu.emplace();
    regs.fpu->mxcsr = 0x1f80;
    regs.fpu->xmm[1][0] = 0x42;
    with_registers.registers = regs;
    with_registers.memory = {{0x7fffe5c8, std::string("\x04\0\0\0", 4)},
                             {0x7fffe5cc, std::string("\x03\0\0\0", 4)}};
    with_registers.variables = {{1, 1000}};
    TraceFrame memory_only;
    memory_only.number = 1;
    memory_only.tracepoint = 3;
    memory_only.pc = 0x401157;
    memory_only.memory = {{0x409144, std::string("\x07\0\0\0", 4)}};
    target_.trace_frames() = {with_registers, memory_only};
  }

  FakeTarget target_;
  std::unique_ptr<Handlers> handlers_;
};

TEST_F(TracepointsTest, QSupportedOffersTracing) {
  const std::string reply = Send("qSupported:multiprocess+;swbreak+;hwbreak+");
  for (const char* feature : {"ConditionalTracepoints+", "qXfer:traceframe-info:read+",
                              "QTBuffer:size+", "tracenz+"}) {
    EXPECT_THAT(reply, HasSubstr(feature));
  }
  // gdb would send QTDPsrc, QTDisconnected, ftrace and QTEnable only if offered.
  for (const char* feature : {"TracepointSource", "DisconnectedTracing", "FastTracepoints",
                              "EnableDisableTracepoints", "InstallInTrace"}) {
    EXPECT_THAT(reply, ::testing::Not(HasSubstr(feature)));
  }
}

TEST_F(TracepointsTest, DefinitionsReachKmWholeAtQTStart) {
  EXPECT_EQ(Send("QTinit"), "OK");
  EXPECT_EQ(Send("QTDP:2:0000000000401143:E:0:5:X3,220127-"), "OK");
  EXPECT_EQ(Send("QTDP:-2:0000000000401143:R0fffffffffffffffffffffffffffffffffffff-"), "OK");
  EXPECT_EQ(Send("QTDP:-2:0000000000401143:M6,ffffffffffffffec,4X2,2627"), "OK");
  EXPECT_EQ(Send("QTDP:3:0000000000401157:D:0:0-"), "OK");
  EXPECT_EQ(Send("QTDP:-3:0000000000401157:M-1,409144,4"), "OK");
  EXPECT_EQ(Send("QTDV:1:0000000000000000:1:74726163655f74696d657374616d70"), "OK");
  EXPECT_EQ(Send("QTDV:2:ffffffffffffffff:0:6e"), "OK");
  EXPECT_EQ(Send("QTro:0000000000401000,0000000000401003:0000000000401010,0000000000406a33"),
            "OK");
  EXPECT_EQ(Send("QTDisconnected:0"), "OK");
  EXPECT_EQ(Send("QTBuffer:circular:1"), "OK");
  EXPECT_EQ(Send("QTBuffer:size:100000"), "OK");
  EXPECT_EQ(Send("QTNotes:user:;notes:;"), "OK");
  EXPECT_TRUE(target_.calls().empty());
  EXPECT_EQ(Send("QTStart"), "OK");
  EXPECT_THAT(target_.calls(), ElementsAre("StartTrace(2,2)"));

  const TraceSetup& setup = target_.trace_setup();
  ASSERT_EQ(setup.tracepoints.size(), 2u);
  Tracepoint add;
  add.number = 2;
  add.address = 0x401143;
  add.pass_count = 5;
  add.condition = std::string("\x22\x01\x27", 3);
  add.collect_registers = true;
  add.memory = {TraceMemory{6, -20, 4}};
  add.expressions = {"\x26\x27"};
  EXPECT_EQ(setup.tracepoints[0], add);
  Tracepoint bump;
  bump.number = 3;
  bump.address = 0x401157;
  bump.enabled = false;
  bump.memory = {TraceMemory{-1, 0x409144, 4}};
  EXPECT_EQ(setup.tracepoints[1], bump);
  EXPECT_THAT(setup.variables, ElementsAre(TraceVariable{1, 0, "trace_timestamp"},
                                           TraceVariable{2, -1, "n"}));
  EXPECT_TRUE(setup.circular);
  EXPECT_EQ(setup.buffer_size, 0x100000u);

  EXPECT_EQ(Send("QTStop"), "OK");
  EXPECT_THAT(target_.calls(), ElementsAre("StartTrace(2,2)", "StopTrace"));
}

TEST_F(TracepointsTest, QTinitForgetsTheDefinitionsOfTheRunBefore) {
  Send("QTDP:1:401000:E:0:0");
  Send("QTDV:1:0:1:74");
  Send("QTStart");
  EXPECT_EQ(Send("QTinit"), "OK");
  Send("QTDP:4:402000:E:0:0");
  EXPECT_EQ(Send("QTStart"), "OK");
  ASSERT_EQ(target_.trace_setup().tracepoints.size(), 1u);
  EXPECT_EQ(target_.trace_setup().tracepoints[0].number, 4u);
  EXPECT_TRUE(target_.trace_setup().variables.empty());
}

// gdb's while-stepping: the step count in the first packet, then the stepping actions, of
// which only the first packet carries the S.
TEST_F(TracepointsTest, WhileSteppingActionsAreKeptApart) {
  EXPECT_EQ(Send("QTinit"), "OK");
  EXPECT_EQ(Send("QTDP:1:401000:E:3:0-"), "OK");
  EXPECT_EQ(Send("QTDP:-1:401000:R40-"), "OK");
  EXPECT_EQ(Send("QTDP:-1:401000:X3,220127-"), "OK");
  EXPECT_EQ(Send("QTDP:-1:401000:SR1-"), "OK");
  EXPECT_EQ(Send("QTDP:-1:401000:M-1,409144,4"), "OK");
  EXPECT_EQ(Send("QTDP:2:402000:E:0:0-"), "OK");
  EXPECT_EQ(Send("QTDP:-2:402000:M-1,409148,8"), "OK");  // a new tracepoint's: not stepping
  EXPECT_EQ(Send("QTStart"), "OK");
  const std::vector<Tracepoint>& t = target_.trace_setup().tracepoints;
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].step_count, 3u);
  EXPECT_TRUE(t[0].collect_registers);
  EXPECT_EQ(t[0].expressions, std::vector<std::string>{std::string("\x22\x01\x27")});
  EXPECT_TRUE(t[0].memory.empty());
  EXPECT_TRUE(t[0].step_collect_registers);
  EXPECT_EQ(t[0].step_memory, (std::vector<TraceMemory>{{-1, 0x409144, 4}}));
  EXPECT_TRUE(t[0].step_expressions.empty());
  EXPECT_EQ(t[1].memory, (std::vector<TraceMemory>{{-1, 0x409148, 8}}));
  EXPECT_TRUE(t[1].step_memory.empty());
}

TEST_F(TracepointsTest, WhatKmCannotTraceIsRefusedNotDropped) {
  EXPECT_EQ(Send("QTinit"), "OK");
  EXPECT_EQ(Send("QTDP:2:401000:E:0:0:F5"), "E01");  // a fast tracepoint
  EXPECT_EQ(Send("QTDP:-7:401000:R1"), "E01");       // actions of no tracepoint
  EXPECT_EQ(Send("QTDP:3:401000:E:0:0-"), "OK");
  EXPECT_EQ(Send("QTDP:-3:402000:R1"), "E01");  // another location's
  EXPECT_EQ(Send("QTDP:3:401000:E:0:0:Xzz"), "E01");
  EXPECT_EQ(Send("QTDisconnected:1"), "E01");
  EXPECT_EQ(Send("QTBuffer:size:x"), "E01");
  EXPECT_EQ(Send("QTStart"), "OK");
  ASSERT_EQ(target_.trace_setup().tracepoints.size(), 1u);
  EXPECT_EQ(target_.trace_setup().tracepoints[0].number, 3u);
  EXPECT_FALSE(target_.trace_setup().tracepoints[0].collect_registers);
}

TEST_F(TracepointsTest, StatusForEachWayARunEnds) {
  EXPECT_EQ(Send("qTStatus"),
            "T0;tnotrun:0;tframes:0;tcreated:0;tfree:0;tsize:0;circular:0;disconn:0");
  Send("QTDP:2:401143:E:0:0");
  Send("QTStart");
  EXPECT_EQ(Send("qTStatus"),
            "T1;tframes:0;tcreated:0;tfree:500000;tsize:500000;circular:0;disconn:0;"
            "starttime:1;stoptime:0");
  TraceStatus& s = target_.trace_status();
  s.running = false;
  s.frames = 4;
  s.frames_created = 6;
  s.buffer_free = 0x4ff61d;
  s.circular = true;
  s.stop_time_us = 0x10;
  s.stopping_tracepoint = 2;
  const auto status_for = [&](TraceStopReason reason, std::string error = "") {
    s.stop_reason = reason;
    s.error = std::move(error);
    return Send("qTStatus");
  };
  EXPECT_EQ(status_for(TraceStopReason::kRequested),
            "T0;tstop::0;tframes:4;tcreated:6;tfree:4ff61d;tsize:500000;circular:1;disconn:0;"
            "starttime:1;stoptime:10");
  EXPECT_THAT(status_for(TraceStopReason::kPassCount), ::testing::StartsWith("T0;tpasscount:2;"));
  EXPECT_THAT(status_for(TraceStopReason::kBufferFull), ::testing::StartsWith("T0;tfull:0;"));
  EXPECT_THAT(status_for(TraceStopReason::kDisconnected),
              ::testing::StartsWith("T0;tdisconnected:0;"));
  EXPECT_THAT(status_for(TraceStopReason::kError, "bad"),
              ::testing::StartsWith("T0;terror:626164:2;"));
  EXPECT_THAT(status_for(TraceStopReason::kNone), ::testing::StartsWith("T0;tunknown:0;"));
}

// gdb asks as it connects: a km without tracing must not fail the connection.
TEST_F(TracepointsTest, AKmWithoutTracingGetsTheEmptyStatusReply) {
  target_.set_can_trace(false);
  EXPECT_EQ(Send("qTStatus"), "");
  EXPECT_EQ(Send("QTStart"), "E01");
}

TEST_F(TracepointsTest, HitsAndVariablesOfTheRun) {
  Send("QTDP:2:401143:E:0:0");
  Send("QTDV:1:0000000000000000:1:74");
  Send("QTStart");
  target_.trace_status().tracepoints[0].hits = 3;
  target_.trace_status().tracepoints[0].bytes = 0x45;
  target_.trace_status().variables[0].value = -2;
  EXPECT_EQ(Send("qTP:2:401143"), "V3:45");
  EXPECT_EQ(Send("qTP:2:401144"), "E01");
  EXPECT_EQ(Send("qTP:9:401143"), "E01");
  EXPECT_EQ(Send("qTV:1"), "Vfffffffffffffffe");
  EXPECT_EQ(Send("qTV:2"), "U");
  EXPECT_EQ(Send("qTfP"), "l");
  EXPECT_EQ(Send("qTsP"), "l");
  EXPECT_EQ(Send("qTfV"), "1:0:1:74726163655f74696d657374616d70");  // $trace_timestamp
  EXPECT_EQ(Send("qTsV"), "l");
}

TEST_F(TracepointsTest, AFrameWithRegistersAnswersGAndPAndMemoryReads) {
  TwoFrames();
  EXPECT_EQ(Send("QTFrame:0"), "F0T2");
  EXPECT_THAT(target_.calls(), ElementsAre("FindTraceFrame(0,-1)"));
  target_.calls().clear();
  const std::string g = Send("g");
  EXPECT_EQ(g, rsp::HexEncode(amd64::EncodeGeneral(target_.trace_frames()[0].registers->general)));
  EXPECT_EQ(g.substr(0, 16), "0300000000000000");  // rax
  EXPECT_EQ(Send("p10"), "4311400000000000");
  EXPECT_EQ(Send("p38"), "801f0000");  // mxcsr, from the frame's FPU state
  EXPECT_EQ(Send("p29"), "42000000000000000000000000000000");  // xmm1
  // Across the two blocks, and as far as they go.
  EXPECT_EQ(Send("m7fffe5c8,8"), "0400000003000000");
  EXPECT_EQ(Send("m7fffe5ca,10"), "000003000000");
  EXPECT_EQ(Send("m7fffe5d0,4"), "E01");
  EXPECT_EQ(Send("m400000,4"), "E01");  // live memory, which the frame did not collect
  EXPECT_EQ(Send("qXfer:traceframe-info:read::0,1000"),
            "l<traceframe-info>\n<memory start=\"0x7fffe5c8\" length=\"0x4\"/>\n"
            "<memory start=\"0x7fffe5cc\" length=\"0x4\"/>\n<tvar id=\"1\"/>\n"
            "</traceframe-info>\n");
  EXPECT_EQ(Send("qTV:1"), "V3e8");
  EXPECT_EQ(Send("qTV:2"), "U");
  EXPECT_TRUE(target_.calls().empty());
}

TEST_F(TracepointsTest, AFrameWithoutRegistersHasOnlyItsPc) {
  TwoFrames();
  EXPECT_EQ(Send("QTFrame:1"), "F1T3");
  const std::string g = Send("g");
  const std::string rip = "5711400000000000";
  EXPECT_EQ(g, std::string(16 * 16, 'x') + rip + std::string(7 * 8, 'x'));
  EXPECT_EQ(Send("p10"), rip);
  EXPECT_EQ(Send("p0"), std::string(16, 'x'));
  EXPECT_EQ(Send("p38"), std::string(8, 'x'));   // mxcsr
  EXPECT_EQ(Send("p29"), std::string(32, 'x'));  // xmm1
  EXPECT_EQ(Send("p3a"), std::string(16, 'x'));  // fs_base
  EXPECT_EQ(Send("p4c"), "E01");                 // no such register without AVX
  EXPECT_EQ(Send("m409144,8"), "07000000");
  EXPECT_EQ(Send("qXfer:traceframe-info:read::0,1000"),
            "l<traceframe-info>\n<memory start=\"0x409144\" length=\"0x4\"/>\n"
            "</traceframe-info>\n");
  EXPECT_EQ(Send("qXfer:traceframe-info:read::12,8"), "m<memory ");
  EXPECT_EQ(Send("qTV:1"), "U");
}

TEST_F(TracepointsTest, SearchesGoOnFromTheSelectedFrameAndAMissKeepsIt) {
  TwoFrames();
  EXPECT_EQ(Send("QTFrame:tdp:3"), "F1T3");
  EXPECT_EQ(Send("QTFrame:pc:401143"), "F-1");  // frame 0 is before frame 1
  EXPECT_EQ(Send("p10"), "5711400000000000");   // still frame 1
  EXPECT_EQ(Send("QTFrame:0"), "F0T2");
  EXPECT_EQ(Send("QTFrame:outside:401143:401143"), "F1T3");
  EXPECT_EQ(Send("QTFrame:range:401000:401fff"), "F-1");
  EXPECT_EQ(Send("QTFrame:5"), "F-1");
  EXPECT_THAT(target_.calls(),
              ElementsAre("FindTraceFrame(2,-1)", "FindTraceFrame(1,1)", "FindTraceFrame(0,1)",
                          "FindTraceFrame(4,0)", "FindTraceFrame(3,1)", "FindTraceFrame(0,1)"));
}

TEST_F(TracepointsTest, NothingIsWrittenWhileLookingAtAFrame) {
  TwoFrames();
  Send("QTFrame:0");
  const std::string g = Send("g");
  target_.calls().clear();
  EXPECT_EQ(Send("G" + g), "E01");
  EXPECT_EQ(Send("P10=0010400000000000"), "E01");
  EXPECT_EQ(Send("M400010,2:abcd"), "E01");
  EXPECT_EQ(Send("X400010,0:"), "E01");
  EXPECT_TRUE(target_.calls().empty());
  EXPECT_EQ(target_.memory().substr(0x10, 2), std::string(2, '\0'));
}

TEST_F(TracepointsTest, QTFrameMinusOneGoesBackToTheThreads) {
  TwoFrames();
  target_.memory()[0] = '\x55';
  Send("QTFrame:1");
  EXPECT_EQ(Send("QTFrame:ffffffff"), "OK");
  EXPECT_EQ(Send("p10"), "0010400000000000");  // the main thread's rip
  EXPECT_EQ(Send("m400000,1"), "55");
  EXPECT_EQ(Send("M400010,1:ab"), "OK");
  EXPECT_EQ(Send("qXfer:traceframe-info:read::0,1000"), "E01");
  EXPECT_EQ(Send("qTV:1"), "U");  // from km's run, which has no variables
  // QTinit stops looking at the frame too.
  Send("QTFrame:1");
  EXPECT_EQ(Send("QTinit"), "OK");
  EXPECT_EQ(Send("p10"), "0010400000000000");
}

}  // namespace
}  // namespace agent
