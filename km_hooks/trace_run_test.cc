#include "km_hooks/trace_run.h"

#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace km_hooks {
namespace {

// Agent expression bytecodes (gdb's ax.def).
constexpr char kAdd = 0x02, kTrace = 0x0c, kTraceQuick = 0x0d, kEqual = 0x13, kConst8 = 0x22,
               kReg = 0x26, kEnd = 0x27, kPop = 0x29, kGetv = 0x2c, kSetv = 0x2d,
               kTracev = 0x2e, kTracenz = 0x2f;

std::string Code(std::initializer_list<char> bytes) { return std::string(bytes); }

// Guest memory: 256 bytes at 0x1000, byte i = i, with a string at 0x1080; nothing else mapped.
class TraceRunTest : public ::testing::Test {
 protected:
  TraceRunTest()
      : run_(
            [this](uint64_t addr, void* dst, uint64_t len) -> uint64_t {
              if (addr < 0x1000 || addr >= 0x1100) return 0;
              const uint64_t n = std::min<uint64_t>(len, 0x1100 - addr);
              std::memcpy(dst, memory_.data() + (addr - 0x1000), n);
              return n;
            },
            {[this](uint64_t addr) {
               if (addr == kUnmapped) return absl::InvalidArgumentError("address not mapped");
               int3s_.insert(addr);
               return absl::OkStatus();
             },
             [this](uint64_t addr) { int3s_.erase(addr); }}) {
    for (int i = 0; i < 256; ++i) memory_.push_back(static_cast<char>(i));
    std::memcpy(memory_.data() + 0x80, "hello\0world", 12);
  }

  static constexpr uint64_t kUnmapped = 0x10;

  // The int3s the run holds after the hit.
  std::set<uint64_t> Hit(uint64_t addr, uint64_t rbx = 0x1010, int tid = 7) {
    km::Regs regs{};
    regs.rip = addr;
    regs.rbx = rbx;
    run_.OnHit(addr, regs, tid, [] {
      km::FpuRegs f = {};
      f.mxcsr = 0x1f80;
      return absl::StatusOr<km::FpuRegs>(f);
    });
    return int3s_;
  }

  static v1::Tracepoint* Add(v1::StartTraceRequest& req, uint32_t number, uint64_t addr) {
    v1::Tracepoint* tp = req.add_tracepoints();
    tp->set_number(number);
    tp->set_address(addr);
    tp->set_enabled(true);
    return tp;
  }

  v1::TraceFrame Frame(uint64_t n) {
    v1::FindTraceFrameRequest req;
    req.set_number(n);
    return run_.Find(req);
  }

  std::string memory_;
  std::set<uint64_t> int3s_;
  TraceRun run_;
};

TEST_F(TraceRunTest, CollectsRegistersMemoryAndExpressionsAtEachHit) {
  v1::StartTraceRequest req;
  v1::Tracepoint* tp = Add(req, 1, 0x400000);
  tp->set_collect_registers(true);
  v1::MemoryCollection* m = tp->add_memory();
  m->set_base_register(1);  // rbx
  m->set_offset(-0x10);
  m->set_length(4);
  m = tp->add_memory();
  m->set_base_register(-1);
  m->set_offset(0x10fe);
  m->set_length(8);  // runs past the end of memory: only 2 bytes are there
  tp->add_expressions(Code({kConst8, 0x20, kReg, 0, 1, kAdd, kConst8, 2, kTrace, kEnd}));
  tp->add_expressions(Code({kConst8, 0x70, kReg, 0, 1, kAdd, kConst8, 64, kTracenz, kEnd}));
  Add(req, 2, 0x400010);
  ASSERT_TRUE(run_.Start(req).ok());
  EXPECT_EQ(int3s_, (std::set<uint64_t>{0x400000, 0x400010}));

  Hit(0x400000);
  Hit(0x400010, 0, 9);
  EXPECT_EQ(Hit(0x400020).size(), 2u);  // no tracepoint there

  const v1::TraceFrame f0 = Frame(0);
  ASSERT_TRUE(f0.found());
  EXPECT_EQ(f0.tracepoint(), 1u);
  EXPECT_EQ(f0.pc(), 0x400000u);
  EXPECT_EQ(f0.tid(), 7);
  EXPECT_EQ(f0.registers().rbx(), 0x1010u);
  EXPECT_EQ(f0.registers().fpu().mxcsr(), 0x1f80u);
  ASSERT_EQ(f0.memory_size(), 4);
  EXPECT_EQ(f0.memory(0).address(), 0x1000u);
  EXPECT_EQ(f0.memory(0).data(), std::string("\x00\x01\x02\x03", 4));
  EXPECT_EQ(f0.memory(1).address(), 0x10feu);
  EXPECT_EQ(f0.memory(1).data(), "\xfe\xff");
  EXPECT_EQ(f0.memory(2).address(), 0x1030u);
  EXPECT_EQ(f0.memory(2).data(), "\x30\x31");
  EXPECT_EQ(f0.memory(3).address(), 0x1080u);
  EXPECT_EQ(f0.memory(3).data(), std::string("hello\0", 6));  // up to the zero, included

  const v1::TraceFrame f1 = Frame(1);
  ASSERT_TRUE(f1.found());
  EXPECT_EQ(f1.tracepoint(), 2u);
  EXPECT_EQ(f1.tid(), 9);
  EXPECT_FALSE(f1.has_registers());
  EXPECT_EQ(f1.memory_size(), 0);
  EXPECT_FALSE(Frame(2).found());

  const v1::TraceStatus status = run_.Status();
  EXPECT_TRUE(status.running());
  EXPECT_EQ(status.frames(), 2u);
  EXPECT_EQ(status.frames_created(), 2u);
  EXPECT_LT(status.buffer_free(), status.buffer_size());
  EXPECT_EQ(status.buffer_size(), kDefaultTraceBufferSize);
  ASSERT_EQ(status.tracepoints_size(), 2);
  EXPECT_EQ(status.tracepoints(0).hits(), 1u);
  EXPECT_GT(status.tracepoints(0).bytes(), status.tracepoints(1).bytes());

  run_.Stop(v1::TRACE_STOP_REASON_REQUESTED);
  EXPECT_TRUE(int3s_.empty());
  Hit(0x400000);
  EXPECT_EQ(run_.Status().frames(), 2u);  // no more frames once stopped
  EXPECT_EQ(run_.Status().stop_reason(), v1::TRACE_STOP_REASON_REQUESTED);
  EXPECT_GT(run_.Status().stop_time_us(), 0);
}

TEST_F(TraceRunTest, FindSearchesForwardFromAFrame) {
  v1::StartTraceRequest req;
  Add(req, 1, 0x400000);
  Add(req, 2, 0x400100);
  run_.Start(req);
  for (uint64_t addr : {0x400000, 0x400100, 0x400000, 0x400100}) Hit(addr);
  auto find = [this](int64_t after, auto set) {
    v1::FindTraceFrameRequest req;
    req.set_after(after);
    set(req);
    const v1::TraceFrame f = run_.Find(req);
    return f.found() ? static_cast<int64_t>(f.number()) : -1;
  };
  EXPECT_EQ(find(-1, [](auto& r) { r.set_pc(0x400100); }), 1);
  EXPECT_EQ(find(1, [](auto& r) { r.set_pc(0x400100); }), 3);
  EXPECT_EQ(find(3, [](auto& r) { r.set_pc(0x400100); }), -1);
  EXPECT_EQ(find(0, [](auto& r) { r.set_tracepoint(1); }), 2);
  EXPECT_EQ(find(-1, [](auto& r) {
              r.mutable_inside()->set_start(0x400100);
              r.mutable_inside()->set_end(0x400100);
            }), 1);
  EXPECT_EQ(find(1, [](auto& r) {
              r.mutable_outside()->set_start(0x400100);
              r.mutable_outside()->set_end(0x400200);
            }), 2);
}

TEST_F(TraceRunTest, AConditionAndThePassCountDecideWhichHitsCollect) {
  v1::StartTraceRequest req;
  v1::Tracepoint* tp = Add(req, 3, 0x400000);
  tp->set_condition(Code({kReg, 0, 1, kConst8, 5, kEqual, kEnd}));  // rbx == 5
  tp->set_pass_count(2);
  run_.Start(req);
  EXPECT_EQ(Hit(0x400000, 4).size(), 1u);
  EXPECT_EQ(Hit(0x400000, 5).size(), 1u);
  EXPECT_EQ(run_.Status().frames(), 1u);
  EXPECT_TRUE(Hit(0x400000, 5).empty());  // the second: the run ends, its int3 goes
  const v1::TraceStatus status = run_.Status();
  EXPECT_FALSE(status.running());
  EXPECT_EQ(status.stop_reason(), v1::TRACE_STOP_REASON_PASS_COUNT);
  EXPECT_EQ(status.stopping_tracepoint(), 3u);
  EXPECT_EQ(status.frames(), 2u);
  EXPECT_EQ(status.tracepoints(0).hits(), 2u);
}

TEST_F(TraceRunTest, VariablesAreReadWrittenAndRecorded) {
  v1::StartTraceRequest req;
  v1::TraceVariable* v = req.add_variables();
  v->set_number(1);
  v->set_name("trace_timestamp");
  v = req.add_variables();
  v->set_number(2);
  v->set_name("count");
  v->set_initial_value(10);
  v1::Tracepoint* tp = Add(req, 1, 0x400000);
  // teval $count = $count + 1; collect $count, $trace_timestamp
  tp->add_expressions(Code({kGetv, 0, 2, kConst8, 1, kAdd, kSetv, 0, 2, kPop, kEnd}));
  tp->add_expressions(Code({kTracev, 0, 2, kTracev, 0, 1, kEnd}));
  // A condition reads variables too: only while $count < 12 (before this hit's increment).
  tp->set_condition(Code({kGetv, 0, 2, kConst8, 12, 0x14, kEnd}));
  run_.Start(req);
  Hit(0x400000);
  Hit(0x400000);
  Hit(0x400000);
  const v1::TraceStatus status = run_.Status();
  EXPECT_EQ(status.frames(), 2u);
  ASSERT_EQ(status.variables_size(), 2);
  EXPECT_EQ(status.variables(1).value(), 12);
  const v1::TraceFrame f = Frame(1);
  ASSERT_EQ(f.variables_size(), 2);
  EXPECT_EQ(f.variables(0).number(), 2u);
  EXPECT_EQ(f.variables(0).value(), 12);
  EXPECT_EQ(f.variables(1).number(), 1u);
  EXPECT_GT(f.variables(1).value(), 1'600'000'000'000'000);  // microseconds since 1970
}

TEST_F(TraceRunTest, AFailingExpressionEndsTheRunSayingWhy) {
  v1::StartTraceRequest req;
  v1::Tracepoint* tp = Add(req, 4, 0x400000);
  tp->add_expressions(Code({kGetv, 0, 9, kEnd}));  // no variable 9
  run_.Start(req);
  EXPECT_TRUE(Hit(0x400000).empty());
  const v1::TraceStatus status = run_.Status();
  EXPECT_EQ(status.stop_reason(), v1::TRACE_STOP_REASON_ERROR);
  EXPECT_EQ(status.stopping_tracepoint(), 4u);
  EXPECT_NE(status.error().find("no trace state variable 9"), std::string::npos);
  EXPECT_EQ(status.frames(), 0u);
}

TEST_F(TraceRunTest, AFullBufferEndsTheRunUnlessCircular) {
  for (bool circular : {false, true}) {
    v1::StartTraceRequest req;
    req.set_buffer_size(600);
    req.set_circular(circular);
    v1::Tracepoint* tp = Add(req, 1, 0x400000);
    tp->add_expressions(Code({kReg, 0, 1, kTraceQuick, 100, kPop, kEnd}));
    run_.Start(req);
    int hits = 0;
    while (hits < 20 && !Hit(0x400000, 0x1000 + hits).empty()) ++hits;
    const v1::TraceStatus status = run_.Status();
    if (circular) {
      EXPECT_EQ(hits, 20);
      EXPECT_TRUE(status.running());
      EXPECT_EQ(status.frames_created(), 20u);
      EXPECT_LT(status.frames(), 20u);
      // The oldest went: frame 0 is a recent hit's.
      EXPECT_EQ(Frame(0).memory(0).address(), 0x1000u + 20 - status.frames());
    } else {
      EXPECT_EQ(status.stop_reason(), v1::TRACE_STOP_REASON_BUFFER_FULL);
      EXPECT_EQ(status.frames(), static_cast<uint64_t>(hits));
      EXPECT_EQ(Frame(0).memory(0).address(), 0x1000u);
    }
    EXPECT_LE(status.buffer_size() - status.buffer_free(), 600u);
  }
}

TEST_F(TraceRunTest, AStartThatCannotPutAnInt3InLeavesNoneAndKeepsTheFramesBefore) {
  v1::StartTraceRequest req;
  Add(req, 1, 0x400000);
  ASSERT_TRUE(run_.Start(req).ok());
  Hit(0x400000);
  Add(req, 2, kUnmapped);
  const absl::Status s = run_.Start(req);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("0x10 (tracepoint 2)"), std::string::npos) << s;
  EXPECT_TRUE(int3s_.empty());
  EXPECT_FALSE(run_.Status().running());
  EXPECT_EQ(run_.Status().frames(), 1u);
}

// A frame that could never fit ends the run, circular or not, instead of making room by
// dropping every frame; one collection never takes more than the buffer.
TEST_F(TraceRunTest, AFrameLargerThanTheBufferEndsTheRun) {
  v1::StartTraceRequest req;
  req.set_circular(true);
  v1::Tracepoint* tp = Add(req, 1, 0x400000);
  tp->add_expressions(Code({kReg, 0, 1, kTraceQuick, 8, kPop, kEnd}));
  ASSERT_TRUE(run_.Start(req).ok());
  Hit(0x400000);
  const uint64_t frame = run_.Status().buffer_size() - run_.Status().buffer_free();
  // Room for that frame, not for one with the registers too.
  req.set_buffer_size(frame + 16);
  ASSERT_TRUE(run_.Start(req).ok());
  Hit(0x400000);
  EXPECT_TRUE(run_.Status().running());
  EXPECT_EQ(run_.Status().frames(), 1u);
  req.mutable_tracepoints(0)->set_collect_registers(true);
  ASSERT_TRUE(run_.Start(req).ok());
  Hit(0x400000);
  EXPECT_EQ(run_.Status().stop_reason(), v1::TRACE_STOP_REASON_BUFFER_FULL);
  EXPECT_EQ(run_.Status().frames(), 0u);
  // So does one collection larger than the buffer.
  req.mutable_tracepoints(0)->set_collect_registers(false);
  req.mutable_tracepoints(0)->set_expressions(0, Code({kReg, 0, 1, kTraceQuick, 120, kEnd}));
  ASSERT_TRUE(run_.Start(req).ok());
  Hit(0x400000);
  EXPECT_EQ(run_.Status().stop_reason(), v1::TRACE_STOP_REASON_BUFFER_FULL);
  EXPECT_EQ(run_.Status().frames(), 0u);
}

// while-stepping: after a hit, each step the caller makes collects the stepping actions into
// a frame of its own at the step's pc, until the count is reached or the steps are forgotten.
TEST_F(TraceRunTest, WhileSteppingCollectsAFramePerStep) {
  v1::StartTraceRequest req;
  v1::Tracepoint* tp = Add(req, 5, 0x400000);
  tp->set_step_count(2);
  tp->set_step_collect_registers(true);
  v1::MemoryCollection* m = tp->add_step_memory();
  m->set_base_register(-1);
  m->set_offset(0x1004);
  m->set_length(2);
  ASSERT_TRUE(run_.Start(req).ok());
  auto fpu = [] { return absl::StatusOr<km::FpuRegs>(km::FpuRegs{}); };
  km::Regs regs{};
  regs.rip = 0x400000;
  EXPECT_TRUE(run_.OnHit(0x400000, regs, 7, fpu));
  EXPECT_FALSE(run_.OnStep(8, regs, fpu));  // another thread has no steps to make
  regs.rip = 0x400003;
  EXPECT_TRUE(run_.OnStep(7, regs, fpu));
  regs.rip = 0x400007;
  EXPECT_FALSE(run_.OnStep(7, regs, fpu));  // the second and last
  EXPECT_FALSE(run_.OnStep(7, regs, fpu));
  ASSERT_EQ(run_.Status().frames(), 3u);
  EXPECT_EQ(run_.Status().tracepoints(0).hits(), 1u);
  EXPECT_FALSE(Frame(0).has_registers());
  EXPECT_EQ(Frame(0).memory_size(), 0);
  EXPECT_EQ(Frame(1).pc(), 0x400003u);
  EXPECT_EQ(Frame(1).tracepoint(), 5u);
  EXPECT_EQ(Frame(1).registers().rip(), 0x400003u);
  EXPECT_EQ(Frame(1).memory(0).data(), "\x04\x05");
  EXPECT_EQ(Frame(2).pc(), 0x400007u);

  regs.rip = 0x400000;
  EXPECT_TRUE(run_.OnHit(0x400000, regs, 7, fpu));
  run_.ForgetSteps(7);
  EXPECT_FALSE(run_.OnStep(7, regs, fpu));
  EXPECT_EQ(run_.Status().frames(), 4u);
}

TEST_F(TraceRunTest, ValidateRefusesWhatKmCannotCollect) {
  v1::StartTraceRequest req;
  v1::Tracepoint* tp = Add(req, 1, 0x400000);
  tp->add_memory()->set_base_register(40);  // an xmm register
  EXPECT_TRUE(absl::IsInvalidArgument(TraceRun::Validate(req)));
  tp->mutable_memory(0)->set_base_register(6);
  EXPECT_TRUE(TraceRun::Validate(req).ok());
  tp->add_expressions(Code({0x77, kEnd}));
  EXPECT_TRUE(absl::IsInvalidArgument(TraceRun::Validate(req)));
  tp->clear_expressions();
  req.set_buffer_size(kMaxTraceBufferSize + 1);
  EXPECT_TRUE(absl::IsInvalidArgument(TraceRun::Validate(req)));
}

}  // namespace
}  // namespace km_hooks
