#include "agent/rsp/packets/trace.h"

#include <variant>

#include "gtest/gtest.h"

namespace agent::rsp {
namespace {

// The packets gdb 13 sent gdbserver for `trace add` with `collect a, b, $regs` and
// `collect $locals`, then `trace bump` with `collect counter`.
TEST(TracepointPacketTest, WhatGdbSendsForATrace) {
  TracepointHeader h =
      std::get<TracepointHeader>(*ParseTracepoint("QTDP:2:0000000000401143:E:0:0-"));
  EXPECT_EQ(h.number, 2u);
  EXPECT_EQ(h.address, 0x401143u);
  EXPECT_TRUE(h.enabled);
  EXPECT_EQ(h.step_count, 0u);
  EXPECT_EQ(h.pass_count, 0u);
  EXPECT_FALSE(h.fast);
  EXPECT_TRUE(h.condition.empty());

  TracepointActions a = std::get<TracepointActions>(
      *ParseTracepoint("QTDP:-2:0000000000401143:R0fffffffffffffffffffffffffffffffffffff-"));
  EXPECT_EQ(a.number, 2u);
  EXPECT_EQ(a.address, 0x401143u);
  EXPECT_FALSE(a.stepping);
  EXPECT_TRUE(a.collect_registers);
  EXPECT_TRUE(a.memory.empty());

  a = std::get<TracepointActions>(*ParseTracepoint(
      "QTDP:-2:0000000000401143:X0000000F,26000622100222dc16080222040c27X0000000F,"
      "26000622100222d816080222040c27X0000000F,26000622100222ec16080222040c27"));
  EXPECT_FALSE(a.collect_registers);
  ASSERT_EQ(a.expressions.size(), 3u);
  EXPECT_EQ(a.expressions[0].size(), 15u);
  EXPECT_EQ(a.expressions[0][0], '\x26');
  EXPECT_EQ(a.expressions[2][6], '\x22');
  EXPECT_EQ(a.expressions[2][7], '\xec');  // the offset of a local from rbp

  a = std::get<TracepointActions>(*ParseTracepoint("QTDP:-3:0000000000401157:M-1,409144,4"));
  ASSERT_EQ(a.memory.size(), 1u);
  EXPECT_EQ(a.memory[0].base_register, -1);
  EXPECT_EQ(a.memory[0].offset, 0x409144);
  EXPECT_EQ(a.memory[0].length, 4u);
}

TEST(TracepointPacketTest, ConditionPassCountAndDisabled) {
  TracepointHeader h =
      std::get<TracepointHeader>(*ParseTracepoint("QTDP:1f:401000:D:0:a:X3,220127"));
  EXPECT_EQ(h.number, 0x1fu);
  EXPECT_FALSE(h.enabled);
  EXPECT_EQ(h.pass_count, 10u);
  EXPECT_EQ(h.condition, std::string("\x22\x01\x27", 3));
  h = std::get<TracepointHeader>(*ParseTracepoint("QTDP:1:401000:E:2:0:F5"));
  EXPECT_EQ(h.step_count, 2u);
  EXPECT_TRUE(h.fast);
}

TEST(TracepointPacketTest, ActionsTogetherRelativeMemoryAndStepping) {
  // rbp-20 as gdb sends it: the offset in 64-bit two's complement, register and length in
  // upper case.
  TracepointActions a = std::get<TracepointActions>(
      *ParseTracepoint("QTDP:-1:401000:R0M6,ffffffffffffffec,1AX1,27M-1,10,8-"));
  EXPECT_FALSE(a.collect_registers);  // a mask with no bit set
  ASSERT_EQ(a.memory.size(), 2u);
  EXPECT_EQ(a.memory[0].base_register, 6);
  EXPECT_EQ(a.memory[0].offset, -20);
  EXPECT_EQ(a.memory[0].length, 0x1au);
  EXPECT_EQ(a.memory[1].base_register, -1);
  EXPECT_EQ(a.memory[1].offset, 0x10);
  ASSERT_EQ(a.expressions.size(), 1u);
  EXPECT_EQ(a.expressions[0], "\x27");

  a = std::get<TracepointActions>(*ParseTracepoint("QTDP:-1:401000:SR1"));
  EXPECT_TRUE(a.stepping);
  EXPECT_TRUE(a.collect_registers);
  a = std::get<TracepointActions>(*ParseTracepoint("QTDP:-1:401000:"));
  EXPECT_FALSE(a.collect_registers);
}

TEST(TracepointPacketTest, Malformed) {
  for (const char* bad : {
           "QTDP:", "QTDP:1:401000:E:0", "QTDP:1:401000:Y:0:0", "QTDP:1:401000:E:0:0:Q1",
           "QTDP:1:401000:E:0:0:X2,27", "QTDP:1:401000:E:0:0:X1,27ff", "QTDP:1:zz:E:0:0",
           "QTDP:100000000:401000:E:0:0", "QTDP:-1:401000", "QTDP:-1:401000:R",
           "QTDP:-1:401000:M-2,0,4", "QTDP:-1:401000:M1,0", "QTDP:-1:401000:M,1,4",
           "QTDP:-1:401000:X0,", "QTDP:-1:401000:X2,27", "QTDP:-1:401000:Z1", "QTDPsrc:1:2:at",
       }) {
    EXPECT_FALSE(ParseTracepoint(bad).ok()) << bad;
  }
}

TEST(TracePacketTest, Variables) {
  TraceVariableDefinition v =
      *ParseTraceVariable("QTDV:1:0000000000000000:1:74726163655f74696d657374616d70");
  EXPECT_EQ(v.number, 1u);
  EXPECT_EQ(v.initial_value, 0);
  EXPECT_TRUE(v.builtin);
  EXPECT_EQ(v.name, "trace_timestamp");
  v = *ParseTraceVariable("QTDV:2:fffffffffffffffe:0:6e");
  EXPECT_EQ(v.initial_value, -2);
  EXPECT_FALSE(v.builtin);
  EXPECT_FALSE(ParseTraceVariable("QTDV:2:0:2:6e").ok());
  EXPECT_FALSE(ParseTraceVariable("QTDV:2:0:0").ok());
  EXPECT_FALSE(ParseTraceVariable("QTDV:2:0:0:6").ok());

  EXPECT_EQ(*ParseTraceVariableQuery("qTV:1f"), 0x1fu);
  EXPECT_FALSE(ParseTraceVariableQuery("qTV:").ok());
}

TEST(TracePacketTest, BufferDisconnectedAndTracepointQuery) {
  TraceBufferSetting b = *ParseTraceBuffer("QTBuffer:circular:1");
  EXPECT_EQ(b.kind, TraceBufferSetting::Kind::kCircular);
  EXPECT_TRUE(b.circular);
  b = *ParseTraceBuffer("QTBuffer:size:-1");
  EXPECT_EQ(b.kind, TraceBufferSetting::Kind::kSize);
  EXPECT_EQ(b.size, 0u);
  EXPECT_EQ(ParseTraceBuffer("QTBuffer:size:100000")->size, 0x100000u);
  EXPECT_FALSE(ParseTraceBuffer("QTBuffer:circular:2").ok());
  EXPECT_FALSE(ParseTraceBuffer("QTBuffer:size:-2").ok());
  EXPECT_FALSE(ParseTraceBuffer("QTBuffer:other:1").ok());

  EXPECT_FALSE(*ParseDisconnectedTracing("QTDisconnected:0"));
  EXPECT_TRUE(*ParseDisconnectedTracing("QTDisconnected:1"));
  EXPECT_FALSE(ParseDisconnectedTracing("QTDisconnected:").ok());

  TracepointQuery q = *ParseTracepointQuery("qTP:2:401143");
  EXPECT_EQ(q.number, 2u);
  EXPECT_EQ(q.address, 0x401143u);
  EXPECT_FALSE(ParseTracepointQuery("qTP:2").ok());
}

TEST(TracePacketTest, FrameSelection) {
  TraceFrameSelect s = *ParseTraceFrameSelect("QTFrame:1a");
  EXPECT_EQ(s.kind, TraceFrameSelect::Kind::kNumber);
  EXPECT_EQ(s.number, 0x1au);
  EXPECT_EQ(ParseTraceFrameSelect("QTFrame:ffffffff")->kind, TraceFrameSelect::Kind::kNone);
  s = *ParseTraceFrameSelect("QTFrame:pc:401143");
  EXPECT_EQ(s.kind, TraceFrameSelect::Kind::kPc);
  EXPECT_EQ(s.pc, 0x401143u);
  s = *ParseTraceFrameSelect("QTFrame:tdp:3");
  EXPECT_EQ(s.kind, TraceFrameSelect::Kind::kTracepoint);
  EXPECT_EQ(s.tracepoint, 3u);
  s = *ParseTraceFrameSelect("QTFrame:range:401000:401fff");
  EXPECT_EQ(s.kind, TraceFrameSelect::Kind::kInside);
  EXPECT_EQ(s.start, 0x401000u);
  EXPECT_EQ(s.end, 0x401fffu);
  s = *ParseTraceFrameSelect("QTFrame:outside:401000:401fff");
  EXPECT_EQ(s.kind, TraceFrameSelect::Kind::kOutside);
  for (const char* bad : {"QTFrame:", "QTFrame:pc:", "QTFrame:range:1", "QTFrame:tdp:x",
                          "QTFrame:outside:1:2:3"}) {
    EXPECT_FALSE(ParseTraceFrameSelect(bad).ok()) << bad;
  }
}

TEST(TracePacketTest, StatusReplies) {
  TraceStatusReply r;
  r.buffer_size = 0x500000;
  r.buffer_free = 0x500000;
  EXPECT_EQ(FormatTraceStatus(r),
            "T0;tnotrun:0;tframes:0;tcreated:0;tfree:500000;tsize:500000;circular:0;disconn:0");
  r.running = true;
  r.frames = r.frames_created = 2;
  r.circular = true;
  r.start_time_us = 0xed8025d3c;
  EXPECT_EQ(FormatTraceStatus(r),
            "T1;tframes:2;tcreated:2;tfree:500000;tsize:500000;circular:1;disconn:0;"
            "starttime:ed8025d3c;stoptime:0");
  r = TraceStatusReply{};
  const auto stop = [&r](TraceStatusReply::Stop why) {
    r.stop = why;
    const std::string reply = FormatTraceStatus(r);
    return reply.substr(0, reply.find(";tframes"));
  };
  r.tracepoint = 0x1b;
  EXPECT_EQ(stop(TraceStatusReply::Stop::kRequested), "T0;tstop::0");
  EXPECT_EQ(stop(TraceStatusReply::Stop::kPassCount), "T0;tpasscount:1b");
  EXPECT_EQ(stop(TraceStatusReply::Stop::kBufferFull), "T0;tfull:0");
  EXPECT_EQ(stop(TraceStatusReply::Stop::kDisconnected), "T0;tdisconnected:0");
  EXPECT_EQ(stop(TraceStatusReply::Stop::kUnknown), "T0;tunknown:0");
  r.error = "div 0";
  EXPECT_EQ(stop(TraceStatusReply::Stop::kError), "T0;terror:6469762030:1b");
}

TEST(TracePacketTest, FrameReplies) {
  EXPECT_EQ(FormatTraceFrameFound(0x10, 3), "F10T3");
  EXPECT_EQ(FormatTracepointHits(3, 0x45), "V3:45");
  EXPECT_EQ(FormatTraceVariableValue(-1), "Vffffffffffffffff");
  EXPECT_EQ(FormatTraceVariableValue(0x2a), "V2a");
  EXPECT_EQ(TraceframeInfoXml({{0x7fffffffe5cc, 4}, {0x409144, 0x10}}, {1}),
            "<traceframe-info>\n<memory start=\"0x7fffffffe5cc\" length=\"0x4\"/>\n"
            "<memory start=\"0x409144\" length=\"0x10\"/>\n<tvar id=\"1\"/>\n"
            "</traceframe-info>\n");
}

}  // namespace
}  // namespace agent::rsp
