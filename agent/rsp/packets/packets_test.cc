#include "agent/rsp/packets/breakpoint.h"
#include "agent/rsp/packets/memory.h"
#include "agent/rsp/packets/misc.h"
#include "agent/rsp/packets/qxfer.h"
#include "agent/rsp/packets/registers.h"
#include "agent/rsp/packets/thread.h"
#include "agent/rsp/packets/thread_id.h"
#include "agent/rsp/packets/vcont.h"
#include "agent/rsp/packets/vfile.h"
#include "agent/rsp/stop_reply.h"
#include "gtest/gtest.h"

namespace agent::rsp {
namespace {

TEST(ThreadIdTest, Forms) {
  ThreadId id = *ParseThreadId("p1f.20");
  EXPECT_EQ(id.pid, 0x1f);
  EXPECT_EQ(id.tid, 0x20);
  id = *ParseThreadId("p1f.-1");
  EXPECT_TRUE(id.all());
  id = *ParseThreadId("-1");
  EXPECT_TRUE(id.all());
  id = *ParseThreadId("0");
  EXPECT_TRUE(id.any());
  id = *ParseThreadId("p7");
  EXPECT_TRUE(id.all());
  EXPECT_FALSE(ParseThreadId("px.1").ok());
  EXPECT_FALSE(ParseThreadId("").ok());
  EXPECT_EQ(FormatThreadId(0x10, 0x11, true), "p10.11");
  EXPECT_EQ(FormatThreadId(0x10, 0x11, false), "11");
}

TEST(MemoryPacketTest, ReadAndWrites) {
  MemoryRead r = *ParseMemoryRead("401000,40");
  EXPECT_EQ(r.addr, 0x401000u);
  EXPECT_EQ(r.length, 0x40u);
  EXPECT_FALSE(ParseMemoryRead("401000").ok());
  EXPECT_FALSE(ParseMemoryRead("zz,1").ok());

  MemoryWrite w = *ParseMemoryWriteHex("1000,2:cc90");
  EXPECT_EQ(w.addr, 0x1000u);
  EXPECT_EQ(w.data, "\xcc\x90");
  EXPECT_FALSE(ParseMemoryWriteHex("1000,3:cc90").ok());  // length mismatch
  EXPECT_FALSE(ParseMemoryWriteHex("1000,2").ok());

  w = *ParseMemoryWriteBinary("2000,3:a}]b");
  EXPECT_EQ(w.data, "a}b");
  w = *ParseMemoryWriteBinary("2000,0:");
  EXPECT_TRUE(w.data.empty());
}

TEST(RegisterPacketTest, ReadAndWrite) {
  EXPECT_EQ(*ParseRegisterRead("10"), 16);
  EXPECT_FALSE(ParseRegisterRead("").ok());
  RegisterWrite w = *ParseRegisterWrite("10=0010400000000000");
  EXPECT_EQ(w.regnum, 16);
  EXPECT_EQ(w.value.size(), 8u);
  EXPECT_FALSE(ParseRegisterWrite("10").ok());
  EXPECT_FALSE(ParseRegisterWrite("10=abc").ok());
}

TEST(BreakpointPacketTest, InsertRemoveAndMalformed) {
  BreakpointPacket b = *ParseBreakpoint("Z0,401126,1");
  EXPECT_TRUE(b.insert);
  EXPECT_EQ(b.type, BreakpointType::kSoftware);
  EXPECT_EQ(b.addr, 0x401126u);
  b = *ParseBreakpoint("z2,404010,4");
  EXPECT_FALSE(b.insert);
  EXPECT_EQ(b.type, BreakpointType::kWatchWrite);
  EXPECT_EQ(b.kind, 4u);
  EXPECT_TRUE(b.conditions.empty());
  EXPECT_FALSE(ParseBreakpoint("Z5,1,1").ok());
  EXPECT_FALSE(ParseBreakpoint("Z0,1").ok());
}

TEST(BreakpointPacketTest, TargetSideConditions) {
  // gdb writes them back to back after one ';'.
  BreakpointPacket b = *ParseBreakpoint("Z0,401126,1;X3,220927X2,2201");
  EXPECT_EQ(b.addr, 0x401126u);
  ASSERT_EQ(b.conditions.size(), 2u);
  EXPECT_EQ(b.conditions[0], std::string("\x22\x09\x27", 3));
  EXPECT_EQ(b.conditions[1], std::string("\x22\x01", 2));
  b = *ParseBreakpoint("Z1,401126,1;X1,27;X1,28");
  EXPECT_EQ(b.type, BreakpointType::kHardware);
  EXPECT_EQ(b.conditions.size(), 2u);
  EXPECT_FALSE(ParseBreakpoint("Z0,1,1;X2,ab").ok());       // shorter than its length
  EXPECT_FALSE(ParseBreakpoint("Z0,1,1;X0,").ok());
  EXPECT_FALSE(ParseBreakpoint("Z0,1,1;X1,zz").ok());
  EXPECT_FALSE(ParseBreakpoint("Z0,1,1;X1").ok());
  EXPECT_FALSE(ParseBreakpoint("Z2,1,4;X1,27").ok());         // watchpoints have none
  EXPECT_FALSE(ParseBreakpoint("z0,1,1;X1,27").ok());
}

TEST(BreakpointPacketTest, Commands) {
  // What gdb 13 sends for `dprintf visit,"i=%d\n", i` with `set dprintf-style agent`.
  BreakpointPacket b = *ParseBreakpoint(
      "Z0,401144,1;cmds:1,X1e,26000622100222ec1608021916202200220034010007693d25645c6e0027");
  EXPECT_TRUE(b.conditions.empty());
  ASSERT_EQ(b.commands.size(), 1u);
  EXPECT_EQ(b.commands[0].size(), 0x1eu);
  EXPECT_EQ(b.commands[0].substr(22, 6), "i=%d\\n");
  EXPECT_TRUE(b.persist_commands);
  // A condition before them, and two commands.
  b = *ParseBreakpoint("Z1,401126,1;X1,27;cmds:0,X1,27X2,2827");
  EXPECT_EQ(b.conditions.size(), 1u);
  EXPECT_EQ(b.commands.size(), 2u);
  EXPECT_FALSE(b.persist_commands);
  EXPECT_FALSE(ParseBreakpoint("Z0,1,1;cmds:").ok());
  EXPECT_FALSE(ParseBreakpoint("Z0,1,1;cmds:2,X1,27").ok());
  EXPECT_FALSE(ParseBreakpoint("Z0,1,1;cmds:1,").ok());
  EXPECT_FALSE(ParseBreakpoint("Z0,1,1;cmds:1,X2,27").ok());
  EXPECT_FALSE(ParseBreakpoint("Z2,1,4;cmds:1,X1,27").ok());
}

TEST(VContPacketTest, ActionsWithAndWithoutThreads) {
  auto actions = *ParseVCont("vCont;s:p10.11;c");
  ASSERT_EQ(actions.size(), 2u);
  EXPECT_EQ(actions[0].kind, VContAction::Kind::kStep);
  EXPECT_EQ(actions[0].thread->tid, 0x11);
  EXPECT_EQ(actions[1].kind, VContAction::Kind::kContinue);
  EXPECT_FALSE(actions[1].thread.has_value());

  actions = *ParseVCont("vCont;C0b:p10.10;c");
  EXPECT_EQ(actions[0].signal, 11);
  EXPECT_FALSE(ParseVCont("vCont;r1:1").ok());
  EXPECT_FALSE(ParseVCont("vCont;r1,x").ok());
  EXPECT_FALSE(ParseVCont("vCont;").ok());
  EXPECT_FALSE(ParseVCont("vCont;cx").ok());
}

TEST(VContPacketTest, RangeStep) {
  auto actions = *ParseVCont("vCont;r401126,40113a:p10.11;c");
  ASSERT_EQ(actions.size(), 2u);
  EXPECT_EQ(actions[0].kind, VContAction::Kind::kRangeStep);
  EXPECT_EQ(actions[0].range_start, 0x401126u);
  EXPECT_EQ(actions[0].range_end, 0x40113au);
  EXPECT_EQ(actions[0].thread->tid, 0x11);
  EXPECT_EQ(actions[1].kind, VContAction::Kind::kContinue);
  actions = *ParseVCont("vCont;r10,20");
  EXPECT_FALSE(actions[0].thread.has_value());
}

TEST(VContPacketTest, LegacyResume) {
  EXPECT_EQ(ParseLegacyResume("c")->kind, VContAction::Kind::kContinue);
  EXPECT_EQ(ParseLegacyResume("s")->kind, VContAction::Kind::kStep);
  EXPECT_EQ(ParseLegacyResume("C0b")->signal, 11);
  EXPECT_FALSE(ParseLegacyResume("c401000").ok());
}

TEST(ThreadPacketTest, SetThreadAndAlive) {
  SetThread h = *ParseSetThread("Hgp10.12");
  EXPECT_EQ(h.op, 'g');
  EXPECT_EQ(h.thread.tid, 0x12);
  h = *ParseSetThread("Hc-1");
  EXPECT_TRUE(h.thread.all());
  EXPECT_FALSE(ParseSetThread("Hx1").ok());
  EXPECT_EQ(ParseThreadAlive("Tp10.12")->tid, 0x12);
}

TEST(QXferPacketTest, ParseAndReplyChunks) {
  XferRead x = *ParseXferRead("qXfer:features:read:target.xml:0,ffb");
  EXPECT_EQ(x.object, "features");
  EXPECT_EQ(x.annex, "target.xml");
  EXPECT_EQ(x.offset, 0u);
  EXPECT_EQ(x.length, 0xffbu);
  x = *ParseXferRead("qXfer:auxv:read::10,20");
  EXPECT_EQ(x.annex, "");
  EXPECT_FALSE(ParseXferRead("qXfer:features:write:target.xml:0,1").ok());
  EXPECT_FALSE(ParseXferRead("qXfer:features:read:target.xml:0").ok());

  EXPECT_EQ(XferReply("abcdef", 0, 4), "mabcd");
  EXPECT_EQ(XferReply("abcdef", 4, 4), "lef");
  EXPECT_EQ(XferReply("abcdef", 6, 4), "l");
  EXPECT_EQ(XferReply("a#", 0, 10), "la}\x03");
}

TEST(VFilePacketTest, Requests) {
  auto open = std::get<VFileOpen>(*ParseVFile("vFile:open:2f62696e2f6c73,0,1c0"));
  EXPECT_EQ(open.path, "/bin/ls");
  EXPECT_EQ(open.mode, 0x1c0u);
  auto pread = std::get<VFilePread>(*ParseVFile("vFile:pread:3,1000,2000"));
  EXPECT_EQ(pread.fd, 3);
  EXPECT_EQ(pread.count, 0x1000u);
  EXPECT_EQ(pread.offset, 0x2000u);
  EXPECT_EQ(std::get<VFileClose>(*ParseVFile("vFile:close:3")).fd, 3);
  EXPECT_EQ(std::get<VFileFstat>(*ParseVFile("vFile:fstat:3")).fd, 3);
  EXPECT_EQ(std::get<VFileSetFs>(*ParseVFile("vFile:setfs:0")).pid, 0);
  EXPECT_EQ(std::get<VFileUnsupported>(*ParseVFile("vFile:unlink:2f78")).op, "unlink");
  EXPECT_FALSE(ParseVFile("vFile:pread:3,1000").ok());
  EXPECT_FALSE(ParseVFile("vFile:open:zz,0,0").ok());

  EXPECT_EQ(VFileResult(0x10), "F10");
  EXPECT_EQ(VFileResult(2, "a$"), "F2;a}\x04");
  EXPECT_EQ(VFileError(ENOENT), "F-1,2");
  EXPECT_EQ(VFileError(EOWNERDEAD), "F-1,270f");
  const std::string st = FileIoStat(1, 2, 0100644, 1, 0, 0, 0, 0x1234, 4096, 8, 0, 0, 0);
  ASSERT_EQ(st.size(), 64u);
  EXPECT_EQ(st.substr(28, 8), std::string("\0\0\0\0\0\0\x12\x34", 8));  // size, big-endian
}

TEST(MiscPacketTest, QSupportedDetachKillMonitor) {
  auto features = ParseQSupported("qSupported:multiprocess+;swbreak+;xmlRegisters=i386;vContSupported-");
  EXPECT_TRUE(GdbSupports(features, "multiprocess"));
  EXPECT_TRUE(GdbSupports(features, "swbreak"));
  EXPECT_FALSE(GdbSupports(features, "vContSupported"));
  EXPECT_FALSE(GdbSupports(features, "xmlRegisters"));
  EXPECT_TRUE(ParseQSupported("qSupported").empty());

  EXPECT_FALSE(ParseDetach("D")->has_value());
  EXPECT_EQ(**ParseDetach("D;1a"), 0x1a);
  EXPECT_FALSE(ParseDetach("Dx").ok());
  EXPECT_EQ(*ParseVKill("vKill;1a"), 0x1a);
  EXPECT_EQ(*ParseMonitorCommand("qRcmd,68656c70"), "help");
  EXPECT_FALSE(ParseMonitorCommand("qRcmd,6").ok());
}

TEST(MiscPacketTest, CatchSyscalls) {
  absl::StatusOr<CatchSyscalls> c = ParseCatchSyscalls("QCatchSyscalls:0");
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->enabled);
  c = ParseCatchSyscalls("QCatchSyscalls:1");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->enabled);
  EXPECT_TRUE(c->numbers.empty());
  c = ParseCatchSyscalls("QCatchSyscalls:1;14;e7");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->numbers, (std::vector<int64_t>{20, 231}));
  for (const char* bad : {"QCatchSyscalls:", "QCatchSyscalls:2", "QCatchSyscalls:1;", "QCatchSyscalls:1;zz",
                          "QCatchSyscalls:114", "QCatchSyscalls:1;100000000"}) {
    EXPECT_FALSE(ParseCatchSyscalls(bad).ok()) << bad;
  }
}

TEST(MiscPacketTest, ProgramSignals) {
  EXPECT_EQ(*ParseProgramSignals("QProgramSignals:2;e;1e;"), (std::vector<int>{2, 14, 30}));
  EXPECT_TRUE(ParseProgramSignals("QProgramSignals:")->empty());
  EXPECT_FALSE(ParseProgramSignals("QProgramSignals:zz").ok());
  EXPECT_FALSE(ParseProgramSignals("QPassSignals:e").ok());
  EXPECT_FALSE(ParseProgramSignals("QProgramSignalsX:e").ok());
}

TEST(MiscPacketTest, PassSignals) {
  absl::StatusOr<std::vector<int>> p = ParsePassSignals("QPassSignals:");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->empty());
  p = ParsePassSignals("QPassSignals:e;10;97;");  // as gdb sends it
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, (std::vector<int>{14, 16, 151}));
  p = ParsePassSignals("QPassSignals:1e");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, (std::vector<int>{30}));
  for (const char* bad : {"QPassSignals", "QPassSignals:e;;10", "QPassSignals:zz;",
                          "QPassSignals:e;100000000;"}) {
    EXPECT_FALSE(ParsePassSignals(bad).ok()) << bad;
  }
}

TEST(StopReplyTest, Forms) {
  StopReply r;
  r.gdb_signal = 5;
  r.pid = 0x10;
  r.tid = 0x11;
  r.multiprocess = true;
  r.reason = StopReply::Reason::kSwBreak;
  r.registers = {{6, "01"}, {16, "02"}};
  EXPECT_EQ(FormatStopReply(r), "T0506:01;10:02;thread:p10.11;swbreak:;");
  r.registers.clear();
  r.reason = StopReply::Reason::kReadWatch;
  r.watch_addr = 0x404010;
  r.multiprocess = false;
  EXPECT_EQ(FormatStopReply(r), "T05thread:11;rwatch:404010;");
  r.reason = StopReply::Reason::kSyscallEntry;
  r.syscall = 20;
  EXPECT_EQ(FormatStopReply(r), "T05thread:11;syscall_entry:14;");
  r.reason = StopReply::Reason::kSyscallReturn;
  EXPECT_EQ(FormatStopReply(r), "T05thread:11;syscall_return:14;");
  r.reason = StopReply::Reason::kHistoryBegin;
  EXPECT_EQ(FormatStopReply(r), "T05thread:11;replaylog:begin;");
  r.reason = StopReply::Reason::kExec;
  r.exec_path = "/b";
  EXPECT_EQ(FormatStopReply(r), "T05thread:11;exec:2f62;");
  r.reason = StopReply::Reason::kSyscallReturn;
  r.thread_name = "w";
  EXPECT_EQ(FormatStopReply(r), "T05thread:11;hexname:77;syscall_return:14;");
  r.kind = StopReply::Kind::kExited;
  r.exit_code = 3;
  r.multiprocess = true;
  EXPECT_EQ(FormatStopReply(r), "W03;process:10");
  r.kind = StopReply::Kind::kTerminated;
  r.gdb_signal = 11;
  EXPECT_EQ(FormatStopReply(r), "X0b;process:10");
}

}  // namespace
}  // namespace agent::rsp
