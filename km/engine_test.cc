// Tests of the engine contract (km/engine.h) on every engine: kvm where /dev/kvm opens, tcg
// always. Guest code is hand-assembled x86-64 (each byte run is commented with its instruction
// and offset); guest memory is a raw anonymous mapping.
#include "km/engine.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iterator>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace km {
namespace {

using std::chrono::steady_clock;

constexpr uint64_t kPhysSize = 64ull << 20;
constexpr uint64_t kReservedSize = 16ull << 20;
constexpr uint64_t kRegionSize = 0x10000;
constexpr uint64_t kCode = 0x400000;  // r-x
constexpr uint64_t kCodeGpa = 0;
constexpr uint64_t kData = 0x600000;  // rw-
constexpr uint64_t kDataGpa = 0x100000;
constexpr uint64_t kStack = 0x7ff00000;  // rw-
constexpr uint64_t kStackGpa = 0x200000;
constexpr uint64_t kHole = 0x900000;  // unmapped unless a test maps it
constexpr uint64_t kHoleGpa = 0x300000;

using Code = std::vector<uint8_t>;

const Code kSyscallCode = {
    0xf9,                          // +0 stc
    0xb8, 0x27, 0x00, 0x00, 0x00,  // +1 mov eax,0x27
    0x0f, 0x05,                    // +6 syscall
    0x48, 0x89, 0xc3,              // +8 mov rbx,rax
    0xb8, 0x3c, 0x00, 0x00, 0x00,  // +b mov eax,0x3c
    0x0f, 0x05,                    // +10 syscall
};

const Code kLoopCode = {
    0x48, 0xff, 0xc0,  // +0 L: inc rax
    0x48, 0xff, 0xc3,  // +3 inc rbx
    0x48, 0xff, 0xc2,  // +6 inc rdx
    0x0f, 0x05,        // +9 syscall
    0xeb, 0xf3,        // +b jmp L
};

const Code kFpuCode = {
    0xd9, 0xe8,                                            // +0 fld1
    0x66, 0x48, 0x0f, 0x7e, 0xc8,                          // +2 movq rax,xmm1
    0x64, 0x48, 0x8b, 0x1c, 0x25, 0x00, 0x00, 0x00, 0x00,  // +7 mov rbx,QWORD PTR fs:0x0
    0x0f, 0x05,                                            // +10 syscall
};

const Code kReadFaultCode = {
    0x49, 0xff, 0xc2,                                // +0 inc r10
    0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x90, 0x00,  // +3 mov rax,QWORD PTR ds:0x900000
};

const Code kStoreCode = {
    0x49, 0xff, 0xc2,  // +0 inc r10
    0x48, 0x89, 0x03,  // +3 mov QWORD PTR [rbx],rax
    0x48, 0xff, 0xc2,  // +6 inc rdx
    0x0f, 0x05,        // +9 syscall
};

const Code kJumpCode = {
    0xff, 0xe0,  // +0 jmp rax
};

// Around a faulting instruction: a jump makes it the second translated block, which on the
// second run is chained to the first (Unicorn then does not even store the block's start in rip).
const Code kFaultPrologue = {
    0x49, 0xff, 0xc2,  // +0 inc r10
    0xeb, 0x00,        // +3 jmp +5
    0x49, 0xff, 0xc2,  // +5 inc r10
};
const Code kFaultEpilogue = {
    0x48, 0xff, 0xc2,  // inc rdx
    0x0f, 0x05,        // syscall
};

const Code kDivideCode = {
    0x49, 0xff, 0xc2,  // +0 inc r10
    0x31, 0xd2,        // +3 xor edx,edx
    0x48, 0xf7, 0xf3,  // +5 div rbx
    0x49, 0xff, 0xc2,  // +8 inc r10
    0x0f, 0x05,        // +b syscall
};

const Code kUd2Code = {
    0x49, 0xff, 0xc2,  // +0 inc r10
    0x0f, 0x0b,        // +3 ud2
};

const Code kInt3Code = {
    0x49, 0xff, 0xc2,  // +0 inc r10
    0xcc,              // +3 int3
    0x49, 0xff, 0xc2,  // +4 inc r10
    0x0f, 0x05,        // +7 syscall
};

const Code kInt80Code = {
    0x49, 0xff, 0xc2,  // +0 inc r10
    0xcd, 0x80,        // +3 int 0x80
};

const Code kPortInCode = {
    0x49, 0xff, 0xc2,  // +0 inc r10
    0xec,              // +3 in al,dx
};

const Code kSpinCode = {
    0x48, 0xff, 0xc0,  // +0 L: inc rax
    0xeb, 0xfb,        // +3 jmp L
};

const Code kSpinCountingCode = {
    0x48, 0xff, 0x02,  // +0 L: inc QWORD PTR [rdx]
    0xeb, 0xfb,        // +3 jmp L
};

const Code kCounterCode = {
    0xf0, 0x48, 0xff, 0x03,  // +0 L: lock inc QWORD PTR [rbx]
    0xff, 0xc9,              // +4 dec ecx
    0x75, 0xf8,              // +6 jne L
    0x0f, 0x05,              // +8 syscall
};

const Code kWatchCode = {
    0x49, 0xff, 0xc2,              // +0 inc r10
    0x48, 0x89, 0x43, 0x08,        // +3 mov QWORD PTR [rbx+0x8],rax
    0x48, 0xff, 0xc2,              // +7 inc rdx
    0x4c, 0x8b, 0x43, 0x08,        // +a mov r8,QWORD PTR [rbx+0x8]
    0x48, 0xff, 0xc2,              // +e inc rdx
    0xf0, 0x48, 0xff, 0x43, 0x08,  // +11 lock inc QWORD PTR [rbx+0x8]
    0x0f, 0x05,                    // +16 syscall
};

const Code kMovImmCode = {
    0xb8, 0x01, 0x00, 0x00, 0x00,  // +0 mov eax,0x1
    0x0f, 0x05,                    // +5 syscall
};

const Code kSyscallLoopCode = {
    0x0f, 0x05,  // +0 L: syscall
    0xeb, 0xfc,  // +2 jmp L
};

const Code kThreePagesCode = {
    0x48, 0x89, 0x03,                          // +0 mov QWORD PTR [rbx],rax
    0x48, 0x89, 0x83, 0x00, 0x10, 0x00, 0x00,  // +3 mov QWORD PTR [rbx+0x1000],rax
    0x48, 0x89, 0x83, 0x00, 0x20, 0x00, 0x00,  // +a mov QWORD PTR [rbx+0x2000],rax
    0x0f, 0x05,                                // +11 syscall
    0x4c, 0x8b, 0x03,                          // +13 mov r8,QWORD PTR [rbx]
    0x4c, 0x8b, 0x8b, 0x00, 0x10, 0x00, 0x00,  // +16 mov r9,QWORD PTR [rbx+0x1000]
    0x0f, 0x05,                                // +1d syscall
};

#define ASSERT_OK(expr)                                    \
  do {                                                     \
    const absl::Status _status = (expr);                   \
    ASSERT_TRUE(_status.ok()) << #expr << ": " << _status; \
  } while (0)

class EngineTest : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    void* host = mmap(nullptr, kPhysSize, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    ASSERT_NE(host, MAP_FAILED);
    phys_ = PhysicalMemory{static_cast<uint8_t*>(host), kPhysSize, kPhysSize - kReservedSize,
                           kReservedSize};
    Accel accel = Accel::kTcg;
    if (GetParam() == "kvm") {
      const int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
      if (fd < 0) GTEST_SKIP() << "kvm: skipped: /dev/kvm: " << std::strerror(errno);
      close(fd);
      accel = Accel::kKvm;
    }
    std::string notice;
    absl::StatusOr<std::unique_ptr<Engine>> engine = CreateEngine(accel, phys_, &notice);
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
    ASSERT_EQ(engine_->name(), GetParam());
    ASSERT_OK(engine_->MapRegion(kCode, kRegionSize, kCodeGpa, kProtRead | kProtExec));
    ASSERT_OK(engine_->MapRegion(kData, kRegionSize, kDataGpa, kProtRead | kProtWrite));
    ASSERT_OK(engine_->MapRegion(kStack, kRegionSize, kStackGpa, kProtRead | kProtWrite));
  }

  void TearDown() override {
    vcpus_.clear();
    engine_.reset();
    if (phys_.host != nullptr) munmap(phys_.host, phys_.size);
  }

  uint64_t& Word(uint64_t gpa) { return *reinterpret_cast<uint64_t*>(phys_.host + gpa); }

  // Writes code at kCode + offset, as km writes guest code from outside.
  void Load(const Code& code, uint64_t offset = 0) {
    std::memcpy(phys_.host + kCodeGpa + offset, code.data(), code.size());
    engine_->CodeModified(kCode + offset, code.size());
  }

  Vcpu& NewVcpu() {
    absl::StatusOr<std::unique_ptr<Vcpu>> vcpu = engine_->CreateVcpu(vcpus_.size());
    EXPECT_TRUE(vcpu.ok()) << vcpu.status();
    vcpus_.push_back(std::move(*vcpu));
    Vcpu& v = *vcpus_.back();
    Regs regs = GetRegs(v);
    regs.rip = kCode;
    regs.rsp = kStack + kRegionSize;
    SetRegs(v, regs);
    return v;
  }

  static Regs GetRegs(Vcpu& vcpu) {
    Regs regs{};
    const absl::Status s = vcpu.GetRegs(&regs);
    EXPECT_TRUE(s.ok()) << s;
    return regs;
  }
  static void SetRegs(Vcpu& vcpu, const Regs& regs) {
    const absl::Status s = vcpu.SetRegs(regs);
    EXPECT_TRUE(s.ok()) << s;
  }
  static void SetReg(Vcpu& vcpu, uint64_t Regs::*reg, uint64_t value) {
    Regs regs = GetRegs(vcpu);
    regs.*reg = value;
    SetRegs(vcpu, regs);
  }
  static VcpuExit Run(Vcpu& vcpu) {
    absl::StatusOr<VcpuExit> exit = vcpu.Run();
    EXPECT_TRUE(exit.ok()) << exit.status();
    return exit.ok() ? *exit : VcpuExit{};
  }
  static void ExpectException(const VcpuExit& exit, int vector) {
    EXPECT_EQ(exit.reason, ExitReason::kException);
    EXPECT_EQ(exit.vector, vector);
  }

  PhysicalMemory phys_;
  std::unique_ptr<Engine> engine_;
  std::vector<std::unique_ptr<Vcpu>> vcpus_;
};

TEST_P(EngineTest, SyscallExitsPastTheInstructionAndResumes) {
  Load(kSyscallCode);
  Vcpu& vcpu = NewVcpu();
  VcpuExit exit = Run(vcpu);
  ASSERT_EQ(exit.reason, ExitReason::kSyscall);
  Regs regs = GetRegs(vcpu);
  EXPECT_EQ(regs.rax, 39u);
  EXPECT_EQ(regs.rip, kCode + 8);
  EXPECT_EQ(regs.rcx, kCode + 8);  // Linux: rcx = return address, r11 = rflags
  EXPECT_EQ(regs.r11 & 0x1, 1u) << "CF set by stc";
  EXPECT_EQ(regs.r11 & ~uint64_t{0x10000}, regs.rflags & ~uint64_t{0x10000});
  regs.rax = 1234;
  SetRegs(vcpu, regs);
  exit = Run(vcpu);
  ASSERT_EQ(exit.reason, ExitReason::kSyscall);
  regs = GetRegs(vcpu);
  EXPECT_EQ(regs.rbx, 1234u);
  EXPECT_EQ(regs.rax, 60u);
  EXPECT_EQ(regs.rip, kCode + 0x12);
}

TEST_P(EngineTest, SyscallRoundTripRate) {
  Load(kSyscallLoopCode);
  Vcpu& vcpu = NewVcpu();
  constexpr int kCount = 100000;
  const auto start = steady_clock::now();
  for (int i = 0; i < kCount; ++i) ASSERT_EQ(Run(vcpu).reason, ExitReason::kSyscall);
  const double secs = std::chrono::duration<double>(steady_clock::now() - start).count();
  std::cout << GetParam() << ": " << static_cast<int>(kCount / secs)
            << " syscall exits/s (Run round trip)\n";
}

TEST_P(EngineTest, SingleStepRunsOneInstructionEvenInTranslatedCode) {
  Load(kLoopCode);
  Vcpu& vcpu = NewVcpu();
  ASSERT_EQ(Run(vcpu).reason, ExitReason::kSyscall);  // the loop has run (and been translated)
  ASSERT_OK(vcpu.SetSingleStep(true));
  const struct {
    uint64_t rip, rax, rbx, rdx;
  } steps[] = {
      {kCode + 0x0, 1, 1, 1},  // jmp L
      {kCode + 0x3, 2, 1, 1},  // inc rax
      {kCode + 0x6, 2, 2, 1},  // inc rbx
      {kCode + 0x9, 2, 2, 2},  // inc rdx
  };
  for (const auto& step : steps) {
    ASSERT_EQ(Run(vcpu).reason, ExitReason::kSingleStep);
    const Regs regs = GetRegs(vcpu);
    EXPECT_EQ(regs.rip, step.rip);
    EXPECT_EQ(regs.rax, step.rax);
    EXPECT_EQ(regs.rbx, step.rbx);
    EXPECT_EQ(regs.rdx, step.rdx);
  }
  ASSERT_EQ(Run(vcpu).reason, ExitReason::kSyscall);  // the stepped instruction's own exit
  EXPECT_EQ(GetRegs(vcpu).rip, kCode + 0xb);
  ASSERT_OK(vcpu.SetSingleStep(false));
  ASSERT_EQ(Run(vcpu).reason, ExitReason::kSyscall);
  EXPECT_EQ(GetRegs(vcpu).rax, 3u);

  ASSERT_OK(vcpu.SetSingleStep(true));
  constexpr int kSteps = 100000;
  const auto start = steady_clock::now();
  for (int i = 0; i < kSteps; ++i) {
    const ExitReason reason = Run(vcpu).reason;
    ASSERT_TRUE(reason == ExitReason::kSingleStep || reason == ExitReason::kSyscall);
  }
  const double secs = std::chrono::duration<double>(steady_clock::now() - start).count();
  std::cout << GetParam() << ": " << static_cast<int>(kSteps / secs) << " single steps/s\n";
}

// A range step keeps single-stepping round a loop without turning the step off in between, so
// the same translated code is stepped again and again: each pass must still make progress.
TEST_P(EngineTest, SingleStepKeepsProgressingRoundALoop) {
  Load(kLoopCode);
  Vcpu& vcpu = NewVcpu();
  ASSERT_EQ(Run(vcpu).reason, ExitReason::kSyscall);
  ASSERT_OK(vcpu.SetSingleStep(true));
  for (uint64_t round = 2; round <= 5; ++round) {
    for (uint64_t rip : {kCode + 0x0, kCode + 0x3, kCode + 0x6, kCode + 0x9}) {
      ASSERT_EQ(Run(vcpu).reason, ExitReason::kSingleStep) << "round " << round;
      ASSERT_EQ(GetRegs(vcpu).rip, rip) << "round " << round;
    }
    ASSERT_EQ(Run(vcpu).reason, ExitReason::kSyscall) << "round " << round;
    EXPECT_EQ(GetRegs(vcpu).rax, round);
  }
}

TEST_P(EngineTest, HwBreakpointStopsBeforeTheInstructionAndSkipsOnce) {
  Load(kLoopCode);
  Vcpu& vcpu = NewVcpu();
  ASSERT_GE(engine_->caps().hw_breakpoints, 4);
  ASSERT_EQ(Run(vcpu).reason, ExitReason::kSyscall);  // translated before the breakpoint exists
  ASSERT_OK(vcpu.SetHwBreakpoints({kCode + 3}));      // inc rbx, inside the translated block
  ASSERT_EQ(Run(vcpu).reason, ExitReason::kHwBreakpoint);
  Regs regs = GetRegs(vcpu);
  EXPECT_EQ(regs.rip, kCode + 3);
  EXPECT_EQ(regs.rax, 2u);
  EXPECT_EQ(regs.rbx, 1u);
  // Without a skip, the breakpoint is reported again at once.
  ASSERT_EQ(Run(vcpu).reason, ExitReason::kHwBreakpoint);
  EXPECT_EQ(GetRegs(vcpu).rbx, 1u);
  vcpu.SkipBreakpointOnce();
  ASSERT_EQ(Run(vcpu).reason, ExitReason::kSyscall);
  regs = GetRegs(vcpu);
  EXPECT_EQ(regs.rbx, 2u);
  EXPECT_EQ(regs.rdx, 2u);
  // A skip when rip is not at a breakpoint does not swallow the next hit.
  vcpu.SkipBreakpointOnce();
  ASSERT_EQ(Run(vcpu).reason, ExitReason::kHwBreakpoint);
  EXPECT_EQ(GetRegs(vcpu).rip, kCode + 3);
  // Replacing the set moves it.
  ASSERT_OK(vcpu.SetHwBreakpoints({kCode + 6}));
  ASSERT_EQ(Run(vcpu).reason, ExitReason::kHwBreakpoint);
  regs = GetRegs(vcpu);
  EXPECT_EQ(regs.rip, kCode + 6);
  EXPECT_EQ(regs.rbx, 3u);
  EXPECT_EQ(regs.rdx, 2u);
  ASSERT_OK(vcpu.SetHwBreakpoints({}));
  ASSERT_EQ(Run(vcpu).reason, ExitReason::kSyscall);
  EXPECT_EQ(GetRegs(vcpu).rdx, 3u);

  // Single-stepping onto a breakpoint completes the step; the next step reports the
  // breakpoint, and a skip lets it run.
  ASSERT_OK(vcpu.SetHwBreakpoints({kCode + 3}));
  ASSERT_OK(vcpu.SetSingleStep(true));
  SetReg(vcpu, &Regs::rip, kCode);
  ASSERT_EQ(Run(vcpu).reason, ExitReason::kSingleStep);
  EXPECT_EQ(GetRegs(vcpu).rip, kCode + 3);
  ASSERT_EQ(Run(vcpu).reason, ExitReason::kHwBreakpoint);
  EXPECT_EQ(GetRegs(vcpu).rip, kCode + 3);
  vcpu.SkipBreakpointOnce();
  ASSERT_EQ(Run(vcpu).reason, ExitReason::kSingleStep);
  EXPECT_EQ(GetRegs(vcpu).rip, kCode + 6);
  ASSERT_OK(vcpu.SetSingleStep(false));
  ASSERT_OK(vcpu.SetHwBreakpoints({}));
}

TEST_P(EngineTest, RegistersRoundTripAndReachTheGuest) {
  Load(kFpuCode);
  Vcpu& vcpu = NewVcpu();
  FpuRegs fpu{};
  ASSERT_OK(vcpu.GetFpu(&fpu));
  EXPECT_EQ(fpu.fcw, kInitialFcw);
  EXPECT_EQ(fpu.mxcsr, kInitialMxcsr);

  Regs regs = GetRegs(vcpu);
  uint64_t Regs::*const gprs[] = {&Regs::rax, &Regs::rbx, &Regs::rcx, &Regs::rdx, &Regs::rsi,
                                  &Regs::rdi, &Regs::rbp, &Regs::r8,  &Regs::r9,  &Regs::r10,
                                  &Regs::r11, &Regs::r12, &Regs::r13, &Regs::r14, &Regs::r15};
  for (size_t i = 0; i < std::size(gprs); ++i) regs.*gprs[i] = 0x1111111111111111ull * (i + 1);
  regs.rflags = 0x247;  // IF, ZF, PF, CF and the reserved bit 1
  regs.fs_base = kData + 0x100;
  regs.gs_base = 0x12345000;
  SetRegs(vcpu, regs);
  const Regs back = GetRegs(vcpu);
  for (size_t i = 0; i < std::size(gprs); ++i) {
    EXPECT_EQ(back.*gprs[i], regs.*gprs[i]) << "register #" << i;
  }
  EXPECT_EQ(back.rip, regs.rip);
  EXPECT_EQ(back.rsp, regs.rsp);
  EXPECT_EQ(back.rflags, regs.rflags);
  EXPECT_EQ(back.fs_base, regs.fs_base);
  EXPECT_EQ(back.gs_base, regs.gs_base);
  EXPECT_EQ(back.cs, 0x33);
  EXPECT_EQ(back.ss, 0x2b);

  fpu.fcw = 0x27f;
  fpu.mxcsr = 0x1f80 | 0x8000;  // flush-to-zero
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 16; ++j) fpu.xmm[i][j] = static_cast<uint8_t>(i * 16 + j);
  }
  ASSERT_OK(vcpu.SetFpu(fpu));
  FpuRegs fpu_back{};
  ASSERT_OK(vcpu.GetFpu(&fpu_back));
  EXPECT_EQ(fpu_back.fcw, fpu.fcw);
  EXPECT_EQ(fpu_back.mxcsr, fpu.mxcsr);
  EXPECT_EQ(std::memcmp(fpu_back.xmm, fpu.xmm, sizeof(fpu.xmm)), 0);
  const uint8_t zero[sizeof(fpu.ymmh)] = {};
  if (!engine_->caps().avx) {
    EXPECT_EQ(std::memcmp(fpu_back.ymmh, zero, sizeof(zero)), 0);
  }

  Word(kDataGpa + 0x100) = 0xfeedface;
  ASSERT_EQ(Run(vcpu).reason, ExitReason::kSyscall);
  const Regs after = GetRegs(vcpu);
  uint64_t xmm1_low;
  std::memcpy(&xmm1_low, fpu.xmm[1], 8);
  EXPECT_EQ(after.rax, xmm1_low);
  EXPECT_EQ(after.rbx, 0xfeedfaceu) << "fs-relative load through fs_base";
  ASSERT_OK(vcpu.GetFpu(&fpu_back));
  const uint8_t one[10] = {0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0x3f};  // 1.0 as an 80-bit float
  EXPECT_EQ(std::memcmp(fpu_back.st[0], one, sizeof(one)), 0) << "fld1 into an empty stack";
  EXPECT_EQ((fpu_back.fsw >> 11) & 7, 7) << "stack top after one push";
}

TEST_P(EngineTest, ReadFaultReportsTheInstructionAndAddress) {
  Load(kReadFaultCode);
  Vcpu& vcpu = NewVcpu();
  for (int i = 0; i < 2; ++i) {
    const VcpuExit exit = Run(vcpu);
    ExpectException(exit, 14);
    EXPECT_EQ(exit.addr, kHole);
    const Regs regs = GetRegs(vcpu);
    EXPECT_EQ(regs.rip, kCode + 3);
    EXPECT_EQ(regs.r10, 1u) << "the instruction before the fault ran once";
  }
}

TEST_P(EngineTest, WriteFaultResumesAfterTheMappingIsFixed) {
  Load(kStoreCode);
  Vcpu& vcpu = NewVcpu();
  Regs regs = GetRegs(vcpu);
  regs.rbx = kHole;
  regs.rax = 0x1122;
  SetRegs(vcpu, regs);
  VcpuExit exit = Run(vcpu);
  ExpectException(exit, 14);
  EXPECT_EQ(exit.addr, kHole);
  EXPECT_EQ(GetRegs(vcpu).rip, kCode + 3);
  ASSERT_OK(engine_->MapRegion(kHole, 0x1000, kHoleGpa, kProtRead | kProtWrite));
  ASSERT_EQ(Run(vcpu).reason, ExitReason::kSyscall);
  regs = GetRegs(vcpu);
  EXPECT_EQ(regs.r10, 1u);
  EXPECT_EQ(regs.rdx, 1u);
  EXPECT_EQ(Word(kHoleGpa), 0x1122u);
}

TEST_P(EngineTest, ProtectionFaultResumesAfterProtectionIsLifted) {
  Load(kStoreCode);
  Vcpu& vcpu = NewVcpu();
  SetReg(vcpu, &Regs::rbx, kData + 0x1000);
  SetReg(vcpu, &Regs::rax, 0x3344);
  ASSERT_OK(engine_->ProtectRegion(kData + 0x1000, 0x1000, kProtRead));
  const VcpuExit exit = Run(vcpu);
  ExpectException(exit, 14);
  EXPECT_EQ(exit.addr, kData + 0x1000);
  EXPECT_EQ(GetRegs(vcpu).rip, kCode + 3);
  EXPECT_EQ(Word(kDataGpa + 0x1000), 0u);
  ASSERT_OK(engine_->ProtectRegion(kData + 0x1000, 0x1000, kProtRead | kProtWrite));
  ASSERT_EQ(Run(vcpu).reason, ExitReason::kSyscall);
  EXPECT_EQ(GetRegs(vcpu).r10, 1u);
  EXPECT_EQ(Word(kDataGpa + 0x1000), 0x3344u);
}

TEST_P(EngineTest, ReadOfInaccessibleMemoryFaults) {
  Load(kReadFaultCode);
  ASSERT_OK(engine_->MapRegion(kHole, 0x1000, kHoleGpa, kProtNone));
  Vcpu& vcpu = NewVcpu();
  const VcpuExit exit = Run(vcpu);
  ExpectException(exit, 14);
  EXPECT_EQ(exit.addr, kHole);
  EXPECT_EQ(GetRegs(vcpu).rip, kCode + 3);
}

TEST_P(EngineTest, FetchFaultReportsTheTargetAsRip) {
  Load(kJumpCode);
  for (uint64_t target : {kHole, kData}) {  // unmapped, then mapped without exec
    Vcpu& vcpu = NewVcpu();
    SetReg(vcpu, &Regs::rax, target);
    const VcpuExit exit = Run(vcpu);
    ExpectException(exit, 14);
    EXPECT_EQ(exit.addr, target);
    EXPECT_EQ(GetRegs(vcpu).rip, target);
  }
}

// Faults in instructions whose accesses bypass the path that keeps rip exact in Unicorn (SSE,
// x87, atomics), in a block chained to the previous one: rip must still name the instruction,
// and resuming after the fix must not run earlier instructions again.
TEST_P(EngineTest, FaultsAreExactForEveryKindOfAccess) {
  const struct {
    const char* name;
    Code insn;
    bool write;
  } cases[] = {
      {"mov rax,[rsi]", {0x48, 0x8b, 0x06}, false},
      {"movdqu xmm0,[rsi]", {0xf3, 0x0f, 0x6f, 0x06}, false},
      {"fld qword [rsi]", {0xdd, 0x06}, false},
      {"lock inc qword [rsi]", {0xf0, 0x48, 0xff, 0x06}, false},
      {"xchg [rsi],rax", {0x48, 0x87, 0x06}, false},
      {"mov [rsi],rax", {0x48, 0x89, 0x06}, true},
      {"add [rsi],rax", {0x48, 0x01, 0x06}, true},
      {"movdqu [rsi],xmm0", {0xf3, 0x0f, 0x7f, 0x06}, true},
      {"lock xadd [rsi],rax", {0xf0, 0x48, 0x0f, 0xc1, 0x06}, true},
  };
  const uint64_t insn_at = kCode + kFaultPrologue.size();
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Code code = kFaultPrologue;
    code.insert(code.end(), c.insn.begin(), c.insn.end());
    code.insert(code.end(), kFaultEpilogue.begin(), kFaultEpilogue.end());
    Load(code);
    // Reads fault on an unmapped page, writes on a read-only one.
    const uint64_t target = c.write ? kData + 0x2000 : kHole;
    if (c.write) ASSERT_OK(engine_->ProtectRegion(target, 0x1000, kProtRead));
    Vcpu& vcpu = NewVcpu();
    SetReg(vcpu, &Regs::rsi, target);
    for (int run = 0; run < 2; ++run) {
      SetReg(vcpu, &Regs::rip, kCode);
      SetReg(vcpu, &Regs::r10, 0);
      const VcpuExit exit = Run(vcpu);
      ExpectException(exit, 14);
      EXPECT_EQ(exit.addr, target);
      const Regs regs = GetRegs(vcpu);
      EXPECT_EQ(regs.rip, insn_at) << "run " << run;
      EXPECT_EQ(regs.r10, 2u) << "run " << run;
    }
    if (c.write) {
      ASSERT_OK(engine_->ProtectRegion(target, 0x1000, kProtRead | kProtWrite));
    } else {
      ASSERT_OK(engine_->MapRegion(kHole, 0x1000, kHoleGpa, kProtRead | kProtWrite));
    }
    ASSERT_EQ(Run(vcpu).reason, ExitReason::kSyscall);
    const Regs regs = GetRegs(vcpu);
    EXPECT_EQ(regs.r10, 2u) << "nothing before the faulting instruction ran again";
    EXPECT_EQ(regs.rdx, 1u);
    if (!c.write) ASSERT_OK(engine_->UnmapRegion(kHole, 0x1000));
  }
}

TEST_P(EngineTest, DivideErrorIsExactEveryTime) {
  Load(kDivideCode);
  Vcpu& vcpu = NewVcpu();
  SetReg(vcpu, &Regs::rbx, 0);
  for (int i = 0; i < 3; ++i) {  // a second #DE must not turn into a double fault
    ExpectException(Run(vcpu), 0);
    const Regs regs = GetRegs(vcpu);
    EXPECT_EQ(regs.rip, kCode + 5);
    EXPECT_EQ(regs.r10, 1u);
  }
  SetReg(vcpu, &Regs::rbx, 1);
  ASSERT_EQ(Run(vcpu).reason, ExitReason::kSyscall);
  EXPECT_EQ(GetRegs(vcpu).r10, 2u);
}

TEST_P(EngineTest, InvalidOpcode) {
  Load(kUd2Code);
  Vcpu& vcpu = NewVcpu();
  ExpectException(Run(vcpu), 6);
  EXPECT_EQ(GetRegs(vcpu).rip, kCode + 3);
  EXPECT_EQ(GetRegs(vcpu).r10, 1u);
}

TEST_P(EngineTest, Int3ReportsRipPastItAndContinues) {
  Load(kInt3Code);
  Vcpu& vcpu = NewVcpu();
  ExpectException(Run(vcpu), 3);
  EXPECT_EQ(GetRegs(vcpu).rip, kCode + 4);
  EXPECT_EQ(GetRegs(vcpu).r10, 1u);
  ASSERT_EQ(Run(vcpu).reason, ExitReason::kSyscall);
  EXPECT_EQ(GetRegs(vcpu).r10, 2u);
}

// How a debugger resumes from its own software breakpoint: the original instruction runs once,
// and the int3 never leaves guest memory for anyone else to miss.
TEST_P(EngineTest, StepOverBreakpointRunsTheOriginalInstructionAndKeepsTheInt3) {
  Load(kLoopCode);
  const uint8_t original = kLoopCode[0];
  const uint8_t int3 = 0xcc;
  engine_->WriteCode(kCode, 1, [&] { phys_.host[kCodeGpa] = int3; });
  Vcpu& vcpu = NewVcpu();
  EXPECT_TRUE(absl::IsFailedPrecondition(vcpu.StepOverBreakpoint(kCode, original)))
      << "a step over needs single-step on";

  ASSERT_OK(vcpu.SetSingleStep(true));
  ASSERT_OK(vcpu.StepOverBreakpoint(kCode, original));
  ASSERT_EQ(Run(vcpu).reason, ExitReason::kSingleStep);
  EXPECT_EQ(GetRegs(vcpu).rip, kCode + 3);
  EXPECT_EQ(GetRegs(vcpu).rax, 1u) << "the original inc rax ran";
  EXPECT_EQ(phys_.host[kCodeGpa], int3);

  // Round the loop, this vCPU stops at the int3 again (no stale translation of the original).
  ASSERT_OK(vcpu.SetSingleStep(false));
  ASSERT_EQ(Run(vcpu).reason, ExitReason::kSyscall);
  ExpectException(Run(vcpu), 3);
  EXPECT_EQ(GetRegs(vcpu).rip, kCode + 1);
  EXPECT_EQ(GetRegs(vcpu).rax, 1u);

  // A request for another address is dropped by the next Run(), which meets the int3.
  SetReg(vcpu, &Regs::rip, kCode + 3);
  ASSERT_OK(vcpu.SetSingleStep(true));
  ASSERT_OK(vcpu.StepOverBreakpoint(kCode, original));
  ASSERT_EQ(Run(vcpu).reason, ExitReason::kSingleStep);
  EXPECT_EQ(GetRegs(vcpu).rip, kCode + 6);
  ASSERT_OK(vcpu.SetSingleStep(false));
  ASSERT_EQ(Run(vcpu).reason, ExitReason::kSyscall);
  ExpectException(Run(vcpu), 3);
  EXPECT_EQ(phys_.host[kCodeGpa], int3);
}

TEST_P(EngineTest, PrivilegedInstructionsAreGeneralProtectionFaults) {
  for (const Code* code : {&kInt80Code, &kPortInCode}) {
    Load(*code);
    Vcpu& vcpu = NewVcpu();
    ExpectException(Run(vcpu), 13);
    EXPECT_EQ(GetRegs(vcpu).rip, kCode + 3);
    EXPECT_EQ(GetRegs(vcpu).r10, 1u);
  }
}

TEST_P(EngineTest, StopRequestFromAnotherThread) {
  Load(kSpinCode);
  Vcpu& vcpu = NewVcpu();
  // Requested before Run(): returned at once, exactly once.
  vcpu.RequestStop();
  ASSERT_EQ(Run(vcpu).reason, ExitReason::kStopRequested);
  EXPECT_EQ(GetRegs(vcpu).rax, 0u);
  for (int i = 0; i < 2; ++i) {
    steady_clock::time_point requested;
    std::thread stopper([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      requested = steady_clock::now();
      vcpu.RequestStop();
    });
    const VcpuExit exit = Run(vcpu);
    const steady_clock::time_point returned = steady_clock::now();
    stopper.join();
    const auto latency = returned - requested;
    ASSERT_EQ(exit.reason, ExitReason::kStopRequested);
    EXPECT_LT(latency, std::chrono::milliseconds(100));
    std::cout << GetParam() << ": stop request honoured after "
              << std::chrono::duration<double, std::micro>(latency).count() << " us\n";
    const Regs regs = GetRegs(vcpu);
    EXPECT_GT(regs.rax, 0u);
    EXPECT_TRUE(regs.rip == kCode || regs.rip == kCode + 3);
  }
}

TEST_P(EngineTest, TwoVcpusIncrementOneCounterAtomically) {
  Load(kCounterCode);
  constexpr uint64_t kIncrements = 300000;
  Vcpu* vcpus[2] = {&NewVcpu(), &NewVcpu()};
  for (Vcpu* v : vcpus) {
    SetReg(*v, &Regs::rbx, kData + 0x200);
    SetReg(*v, &Regs::rcx, kIncrements);
  }
  const auto start = steady_clock::now();
  std::vector<std::thread> threads;
  for (Vcpu* v : vcpus) {
    threads.emplace_back([v] { EXPECT_EQ(Run(*v).reason, ExitReason::kSyscall); });
  }
  for (std::thread& t : threads) t.join();
  const double secs = std::chrono::duration<double>(steady_clock::now() - start).count();
  EXPECT_EQ(Word(kDataGpa + 0x200), 2 * kIncrements);
  std::cout << GetParam() << ": 2 vCPUs x " << kIncrements << " lock inc in " << secs * 1e3
            << " ms\n";
}

TEST_P(EngineTest, SpinningVcpuDoesNotStarveAnother) {
  Load(kSpinCountingCode, 0x100);
  Load(kCounterCode);
  Vcpu& spinner = NewVcpu();
  Vcpu& worker = NewVcpu();
  SetReg(spinner, &Regs::rip, kCode + 0x100);
  SetReg(spinner, &Regs::rdx, kData + 0x400);
  SetReg(worker, &Regs::rbx, kData + 0x300);
  SetReg(worker, &Regs::rcx, 1000);
  std::thread spin([&] { EXPECT_EQ(Run(spinner).reason, ExitReason::kStopRequested); });
  // Wait until the spinner really holds the CPU (on a loaded machine its thread may start late).
  const auto deadline = steady_clock::now() + std::chrono::seconds(10);
  while (Word(kDataGpa + 0x400) == 0 && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_GT(Word(kDataGpa + 0x400), 0u) << "the spinner never ran";
  for (int i = 0; i < 20; ++i) {
    SetReg(worker, &Regs::rip, kCode);
    SetReg(worker, &Regs::rcx, 1000);
    ASSERT_EQ(Run(worker).reason, ExitReason::kSyscall);
  }
  spinner.RequestStop();
  spin.join();
  EXPECT_EQ(Word(kDataGpa + 0x300), 20000u);
}

TEST_P(EngineTest, WatchpointsReportTheAccessAfterItCompleted) {
  if (!engine_->caps().data_watchpoints) GTEST_SKIP() << GetParam() << ": no data watchpoints";
  Load(kWatchCode);
  Vcpu& vcpu = NewVcpu();
  const uint64_t word = kData + 8;
  auto restart = [&] {
    Regs regs = GetRegs(vcpu);
    regs.rip = kCode;
    regs.rbx = kData;
    regs.rax = 0xabcdef;
    regs.r10 = regs.rdx = regs.r8 = 0;
    SetRegs(vcpu, regs);
  };
  struct Hit {
    uint64_t rip;
    uint64_t addr;
  };
  const struct {
    const char* name;
    Watchpoint wp;
    std::vector<Hit> hits;
  } cases[] = {
      {"write", {word, 8, WatchKind::kWrite}, {{kCode + 0x7, word}, {kCode + 0x16, word}}},
      {"read", {word, 8, WatchKind::kRead}, {{kCode + 0xe, word}, {kCode + 0x16, word}}},
      {"access, inside a wider access",
       {word + 4, 4, WatchKind::kAccess},
       {{kCode + 0x7, word + 4}, {kCode + 0xe, word + 4}, {kCode + 0x16, word + 4}}},
      {"next to the accesses", {word + 8, 8, WatchKind::kAccess}, {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    restart();
    ASSERT_OK(vcpu.SetWatchpoints({c.wp}));
    for (const Hit& hit : c.hits) {
      const VcpuExit exit = Run(vcpu);
      ASSERT_EQ(exit.reason, ExitReason::kWatchpoint);
      EXPECT_EQ(exit.addr, hit.addr);
      EXPECT_EQ(exit.watch_kind, c.wp.kind);
      EXPECT_EQ(GetRegs(vcpu).rip, hit.rip);
    }
    ASSERT_EQ(Run(vcpu).reason, ExitReason::kSyscall);
    const Regs regs = GetRegs(vcpu);
    EXPECT_EQ(regs.r10, 1u);
    EXPECT_EQ(regs.rdx, 2u);
    EXPECT_EQ(regs.r8, 0xabcdefu);
    EXPECT_EQ(Word(kDataGpa + 8), 0xabcdf0u);
  }
  // The first hit, in detail: the store has happened, the next instruction has not.
  restart();
  ASSERT_OK(vcpu.SetWatchpoints({{word, 8, WatchKind::kWrite}}));
  Word(kDataGpa + 8) = 0;
  ASSERT_EQ(Run(vcpu).reason, ExitReason::kWatchpoint);
  EXPECT_EQ(Word(kDataGpa + 8), 0xabcdefu);
  EXPECT_EQ(GetRegs(vcpu).rdx, 0u);
  // A single step onto the access reports the watchpoint too.
  restart();
  ASSERT_OK(vcpu.SetSingleStep(true));
  ASSERT_EQ(Run(vcpu).reason, ExitReason::kSingleStep);
  const VcpuExit stepped = Run(vcpu);
  EXPECT_EQ(stepped.reason, ExitReason::kWatchpoint);
  EXPECT_EQ(GetRegs(vcpu).rip, kCode + 0x7);
  ASSERT_OK(vcpu.SetSingleStep(false));
  ASSERT_OK(vcpu.SetWatchpoints({}));
  ASSERT_EQ(Run(vcpu).reason, ExitReason::kSyscall);
}

TEST_P(EngineTest, CodeModifiedDropsStaleTranslations) {
  Load(kMovImmCode);
  Vcpu& vcpu = NewVcpu();
  ASSERT_EQ(Run(vcpu).reason, ExitReason::kSyscall);
  EXPECT_EQ(GetRegs(vcpu).rax, 1u);
  Code changed = kMovImmCode;
  changed[1] = 2;  // mov eax,0x2
  Load(changed);
  SetReg(vcpu, &Regs::rip, kCode);
  ASSERT_EQ(Run(vcpu).reason, ExitReason::kSyscall);
  EXPECT_EQ(GetRegs(vcpu).rax, 2u);
}

TEST_P(EngineTest, AddressSpaceChangesReachEveryVcpu) {
  Load(kThreePagesCode);
  Vcpu& early = NewVcpu();  // exists before the mapping
  ASSERT_OK(engine_->MapRegion(kHole, 0x3000, kHoleGpa, kProtRead | kProtWrite));
  SetReg(early, &Regs::rbx, kHole);
  SetReg(early, &Regs::rax, 0x77);
  ASSERT_EQ(Run(early).reason, ExitReason::kSyscall);
  EXPECT_EQ(Word(kHoleGpa + 0x1000), 0x77u);

  ASSERT_OK(engine_->ProtectRegion(kHole + 0x1000, 0x1000, kProtRead));
  Vcpu& late = NewVcpu();  // created after the split
  for (Vcpu* v : {&early, &late}) {
    SetReg(*v, &Regs::rip, kCode);
    SetReg(*v, &Regs::rbx, kHole);
    SetReg(*v, &Regs::rax, 0x88);
    const VcpuExit exit = Run(*v);
    ExpectException(exit, 14);
    EXPECT_EQ(exit.addr, kHole + 0x1000);
    EXPECT_EQ(GetRegs(*v).rip, kCode + 3);
  }
  EXPECT_EQ(Word(kHoleGpa), 0x88u);
  EXPECT_EQ(Word(kHoleGpa + 0x1000), 0x77u);

  ASSERT_OK(engine_->UnmapRegion(kHole + 0x1000, 0x1000));
  for (Vcpu* v : {&early, &late}) {
    SetReg(*v, &Regs::rip, kCode + 0x13);  // the loads
    const VcpuExit exit = Run(*v);
    ExpectException(exit, 14);
    EXPECT_EQ(exit.addr, kHole + 0x1000);
    EXPECT_EQ(GetRegs(*v).rip, kCode + 0x16);
    EXPECT_EQ(GetRegs(*v).r8, 0x88u);
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, EngineTest, testing::Values("kvm", "tcg"),
                         [](const testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

TEST(EngineSelectionTest, AutoFallsBackToTcgWithANotice) {
  void* host = mmap(nullptr, kPhysSize, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ASSERT_NE(host, MAP_FAILED);
  const PhysicalMemory phys{static_cast<uint8_t*>(host), kPhysSize, kPhysSize - kReservedSize,
                            kReservedSize};
  const int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  const int open_errno = errno;
  std::string notice = "stale";
  absl::StatusOr<std::unique_ptr<Engine>> engine = CreateEngine(Accel::kAuto, phys, &notice);
  if (fd >= 0) {
    close(fd);
    ASSERT_TRUE(engine.ok()) << engine.status();
    EXPECT_EQ((*engine)->name(), "kvm");
    EXPECT_EQ(notice, "");
  } else {
    ASSERT_TRUE(engine.ok()) << engine.status();
    EXPECT_EQ((*engine)->name(), "tcg");
    EXPECT_EQ(notice, std::string("km: /dev/kvm: ") + std::strerror(open_errno) +
                          "; running on the tcg engine (software CPU)");
    absl::StatusOr<std::unique_ptr<Engine>> kvm = CreateEngine(Accel::kKvm, phys, &notice);
    ASSERT_FALSE(kvm.ok());
    EXPECT_NE(kvm.status().message().find("/dev/kvm"), std::string::npos) << kvm.status();
  }
  engine->reset();
  absl::StatusOr<std::unique_ptr<Engine>> tcg = CreateEngine(Accel::kTcg, phys, &notice);
  ASSERT_TRUE(tcg.ok()) << tcg.status();
  EXPECT_EQ((*tcg)->name(), "tcg");
  tcg->reset();
  munmap(host, kPhysSize);
}

}  // namespace
}  // namespace km
