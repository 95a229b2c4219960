// The log against a fake machine: what recording sees (instructions, stores, km's writes) and
// what undo and redo give back.
#include "km/execution_log.h"

#include <cstring>
#include <map>

#include "gtest/gtest.h"

namespace km {
namespace {

constexpr uint64_t kData = 0x10000;

class FakeMachine : public ReplayMachine {
 public:
  absl::Status GetCpu(int vcpu, Regs* regs, FpuRegs* fpu) override {
    *regs = cpus[vcpu].regs;
    if (fpu != nullptr) *fpu = cpus[vcpu].fpu;
    return absl::OkStatus();
  }
  absl::Status SetCpu(int vcpu, const Regs& regs, const FpuRegs* fpu) override {
    cpus[vcpu].regs = regs;
    if (fpu != nullptr) cpus[vcpu].fpu = *fpu;
    ++sets;
    if (fpu != nullptr) ++fpu_sets;
    return absl::OkStatus();
  }
  uint64_t ReadMemory(uint64_t gva, void* dst, uint64_t len) override {
    return Copy(gva, len, [&](uint8_t* host, uint64_t off) {
      static_cast<uint8_t*>(dst)[off] = *host;
    });
  }
  uint64_t WriteMemory(uint64_t gva, const void* src, uint64_t len) override {
    return Copy(gva, len, [&](uint8_t* host, uint64_t off) {
      *host = static_cast<const uint8_t*>(src)[off];
    });
  }
  template <typename F>
  uint64_t Copy(uint64_t gva, uint64_t len, F f) {
    for (uint64_t i = 0; i < len; ++i) {
      if (gva + i < kData || gva + i >= kData + sizeof mem) return i;
      f(&mem[gva + i - kData], i);
    }
    return len;
  }

  struct Cpu {
    Regs regs{};
    FpuRegs fpu{};
  };
  std::map<int, Cpu> cpus;
  uint8_t mem[64] = {};
  int sets = 0, fpu_sets = 0;
};

// Runs "instructions" on the fake machine the way an engine reports them to a recorder.
class LogTest : public ::testing::Test {
 protected:
  static absl::StatusOr<std::unique_ptr<GuestMemory>> NoMemory() {
    return GuestMemory::Create(1 << 20, 0);
  }
  void SetUp() override {
    auto mem = NoMemory();
    ASSERT_TRUE(mem.ok()) << mem.status();
    guest_ = std::move(*mem);
    log_ = std::make_unique<ExecutionLog>(*guest_, 100);
  }
  // One instruction of vcpu: announced, then its stores, then its register change.
  void Run(int vcpu, uint64_t next_rip, uint64_t rax, std::vector<std::pair<uint64_t, uint8_t>>
                                                          stores = {}) {
    FakeMachine::Cpu& c = m_.cpus[vcpu];
    log_->BeforeInstruction(vcpu, c.regs, c.fpu);
    for (auto [gva, value] : stores) {
      log_->BeforeStore(vcpu, gva, &m_.mem[gva - kData], 1);
      m_.mem[gva - kData] = value;
    }
    c.regs.rip = next_rip;
    c.regs.rax = rax;
  }
  void SyncAll() {
    for (auto& [vcpu, c] : m_.cpus) log_->Sync(vcpu, c.regs, c.fpu);
  }

  FakeMachine m_;
  std::unique_ptr<GuestMemory> guest_;
  std::unique_ptr<ExecutionLog> log_;
};

TEST_F(LogTest, UndoRestoresRegistersAndMemoryInReverseOrderAndRedoReturns) {
  m_.cpus[0].regs.rip = 0x1000;
  Run(0, 0x1003, 1, {{kData, 7}});
  Run(0, 0x1006, 2, {{kData, 9}, {kData + 1, 5}});
  Run(0, 0x1008, 3);
  SyncAll();
  EXPECT_EQ(log_->entries(), 3u);

  auto a = log_->Undo(m_);
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_TRUE((*a)->instruction);
  EXPECT_EQ(m_.cpus[0].regs.rip, 0x1006u);
  EXPECT_EQ(m_.cpus[0].regs.rax, 2u);
  a = log_->Undo(m_);
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->stores.size(), 2u);
  EXPECT_EQ(m_.cpus[0].regs.rip, 0x1003u);
  EXPECT_EQ(m_.mem[0], 7);
  EXPECT_EQ(m_.mem[1], 0);
  a = log_->Undo(m_);
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ(m_.cpus[0].regs.rip, 0x1000u);
  EXPECT_EQ(m_.cpus[0].regs.rax, 0u);
  EXPECT_EQ(m_.mem[0], 0);
  EXPECT_EQ(log_->undone(), 3u);
  a = log_->Undo(m_);
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->has_value()) << "the beginning of the history";

  for (int i = 0; i < 3; ++i) ASSERT_TRUE(log_->Redo(m_).ok());
  EXPECT_EQ(m_.cpus[0].regs.rip, 0x1008u);
  EXPECT_EQ(m_.cpus[0].regs.rax, 3u);
  EXPECT_EQ(m_.mem[0], 9);
  EXPECT_EQ(m_.mem[1], 5);
  a = log_->Redo(m_);
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->has_value()) << "the present";
  EXPECT_EQ(log_->undone(), 0u);
}

TEST_F(LogTest, ThreadsInterleaveInTheOrderTheyRan) {
  m_.cpus[0].regs.rip = 0x1000;
  m_.cpus[1].regs.rip = 0x2000;
  Run(0, 0x1001, 0, {{kData, 1}});
  Run(1, 0x2001, 0, {{kData, 2}});
  Run(0, 0x1002, 0, {{kData, 3}});
  SyncAll();
  auto a = log_->Undo(m_);
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->vcpu, 0);
  EXPECT_EQ(m_.mem[0], 2);
  a = log_->Undo(m_);
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->vcpu, 1);
  EXPECT_EQ(m_.mem[0], 1);
  EXPECT_EQ(m_.cpus[1].regs.rip, 0x2000u);
  EXPECT_EQ(m_.cpus[0].regs.rip, 0x1001u);
}

TEST_F(LogTest, AnInstructionAnnouncedButNotRunIsNoStep) {
  m_.cpus[0].regs.rip = 0x1000;
  Run(0, 0x1001, 0);
  // Announced, then a breakpoint ended the slice before it ran.
  log_->BeforeInstruction(0, m_.cpus[0].regs, m_.cpus[0].fpu);
  SyncAll();
  EXPECT_EQ(log_->entries(), 1u);
  auto a = log_->Undo(m_);
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ(m_.cpus[0].regs.rip, 0x1000u);
}

TEST_F(LogTest, ChangesBetweenInstructionsAreUndoneButAreNotInstructions) {
  m_.cpus[0].regs.rip = 0x1000;
  Run(0, 0x1001, 0);
  SyncAll();
  m_.cpus[0].regs.rbx = 42;  // a debugger's write while stopped
  Run(0, 0x1002, 0);
  SyncAll();
  auto a = log_->Undo(m_);
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_TRUE((*a)->instruction);
  a = log_->Undo(m_);
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_FALSE((*a)->instruction);
  EXPECT_EQ(m_.cpus[0].regs.rbx, 0u);
  EXPECT_EQ(m_.cpus[0].regs.rip, 0x1001u);
}

TEST_F(LogTest, FpuStateIsRestoredAndOnlyWhenItChanged) {
  m_.cpus[0].regs.rip = 0x1000;
  Run(0, 0x1001, 0);
  FakeMachine::Cpu& c = m_.cpus[0];
  log_->BeforeInstruction(0, c.regs, c.fpu);
  c.fpu.xmm[3][0] = 0xab;
  c.regs.rip = 0x1005;
  SyncAll();
  ASSERT_TRUE(log_->Undo(m_).ok());
  EXPECT_EQ(c.fpu.xmm[3][0], 0);
  EXPECT_EQ(m_.fpu_sets, 1);
  ASSERT_TRUE(log_->Undo(m_).ok());
  EXPECT_EQ(m_.fpu_sets, 1) << "an instruction that left the FPU alone does not rewrite it";
}

TEST_F(LogTest, TheOldestEntriesGoPastTheLimitAndClearBeginsAgain) {
  log_ = std::make_unique<ExecutionLog>(*guest_, 2);
  m_.cpus[0].regs.rip = 0x1000;
  Run(0, 0x1001, 0);
  Run(0, 0x1002, 0);
  Run(0, 0x1003, 0);
  SyncAll();
  EXPECT_EQ(log_->entries(), 2u);
  ASSERT_TRUE(log_->Undo(m_).ok());
  ASSERT_TRUE(log_->Undo(m_).ok());
  EXPECT_EQ(m_.cpus[0].regs.rip, 0x1001u);
  auto a = log_->Undo(m_);
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->has_value());
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(log_->Redo(m_).ok());

  log_->Clear();
  EXPECT_EQ(log_->entries(), 0u);
  // A store before the vCPU's first instruction since then is part of the new beginning.
  log_->BeforeStore(0, kData, &m_.mem[0], 1);
  m_.mem[0] = 4;
  Run(0, 0x1004, 0);
  SyncAll();
  EXPECT_EQ(log_->entries(), 1u);
  ASSERT_TRUE(log_->Undo(m_).ok());
  EXPECT_EQ(m_.mem[0], 4);
  EXPECT_EQ(m_.cpus[0].regs.rip, 0x1003u);
}

TEST_F(LogTest, MemoryThatWentAwayIsAnErrorNotACrash) {
  m_.cpus[0].regs.rip = 0x1000;
  log_->BeforeInstruction(0, m_.cpus[0].regs, m_.cpus[0].fpu);
  uint8_t old = 0;
  log_->BeforeStore(0, kData + 4096, &old, 1);  // outside the fake's memory
  m_.cpus[0].regs.rip = 0x1001;
  SyncAll();
  auto a = log_->Undo(m_);
  EXPECT_EQ(a.status().code(), absl::StatusCode::kDataLoss) << a.status();
}

}  // namespace
}  // namespace km
