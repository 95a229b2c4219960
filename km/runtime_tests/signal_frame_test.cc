#include "km/runtime/signal_frame.h"

#include <signal.h>

#include <cstring>
#include <memory>

#include "gtest/gtest.h"

namespace km {
namespace {

constexpr uint64_t kStack = 0x7f0000;  // RW, 64 KiB
constexpr uint64_t kStackSize = 0x10000;
constexpr uint64_t kAltStack = 0x600000;
constexpr uint64_t kSaRestorer = 0x04000000;
constexpr uint64_t kHandler = 0x401000;
constexpr uint64_t kRestorer = 0x401100;

class SignalFrameTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto mem = GuestMemory::Create(64 << 20, 16 << 20);
    ASSERT_TRUE(mem.ok()) << mem.status();
    mem_ = std::move(*mem);
    ASSERT_TRUE(mem_->Map(kStack, kStackSize, kProtRead | kProtWrite, RegionKind::kData, "s").ok());
    ASSERT_TRUE(mem_->Map(kAltStack, 0x4000, kProtRead | kProtWrite, RegionKind::kData, "a").ok());
    from_.regs = {};
    from_.regs.rsp = kStack + 0x8000 + 3;  // deliberately misaligned
    from_.regs.rip = 0x402345;
    from_.regs.rax = 0x1111;
    from_.regs.rbx = 0x2222;
    from_.regs.r15 = 0x3333;
    from_.regs.rflags = 0x202 | 0x400 | 0x100;  // IF, DF, TF
    from_.fpu = {};
    from_.fpu.fcw = 0x27f;
    from_.fpu.fsw = 3u << 11;  // top = 3
    from_.fpu.ftw = 0xffff & ~(3u << (2 * 3));  // physical 3 (st0) valid, the rest empty
    from_.fpu.st[0][7] = 0x80;  // 1.0: integer bit set
    from_.fpu.st[0][8] = 0xff;
    from_.fpu.st[0][9] = 0x3f;
    from_.fpu.mxcsr = 0x1f80 | 0x1;
    from_.fpu.xmm[5][0] = 0x55;
    from_.fpu.ymmh[7][1] = 0x77;
    from_.blocked = 1ull << (SIGUSR2 - 1);
    action_.handler = kHandler;
    action_.restorer = kRestorer;
    action_.flags = SA_SIGINFO | kSaRestorer;
    action_.mask = 1ull << (SIGINT - 1);
    info_.signo = SIGUSR1;
    info_.code = SI_TKILL;
    info_.sender_pid = 42;
  }

  uint64_t Read64(uint64_t gva) {
    uint64_t v = 0;
    EXPECT_TRUE(mem_->Read(gva, &v, sizeof v).ok());
    return v;
  }

  std::unique_ptr<GuestMemory> mem_;
  SignalContext from_;
  KernelSigaction action_;
  SignalInfo info_;
};

TEST_F(SignalFrameTest, HandlerStartsAsOnLinux) {
  absl::StatusOr<SignalContext> h = PushSignalFrame(*mem_, from_, info_, action_, /*avx=*/false, from_.blocked);
  ASSERT_TRUE(h.ok()) << h.status();
  const Regs& r = h->regs;
  EXPECT_EQ(r.rip, kHandler);
  EXPECT_EQ(r.rdi, static_cast<uint64_t>(SIGUSR1));
  EXPECT_EQ((r.rsp + 8) % 16, 0u) << "as after a call";
  EXPECT_LT(r.rsp, from_.regs.rsp - 128) << "below the red zone";
  EXPECT_EQ(Read64(r.rsp), kRestorer) << "the return address";
  EXPECT_EQ(r.rdx, r.rsp + 8) << "ucontext right after it";
  EXPECT_EQ(r.rsi, r.rsp + 312) << "siginfo after the ucontext";
  EXPECT_EQ(r.rflags & (0x400 | 0x100), 0u) << "DF and TF cleared";
  // siginfo: signo, code, si_pid.
  int32_t head[5];
  ASSERT_TRUE(mem_->Read(r.rsi, head, sizeof head).ok());
  EXPECT_EQ(head[0], SIGUSR1);
  EXPECT_EQ(head[2], SI_TKILL);
  EXPECT_EQ(head[4], 42);
  // ucontext: mcontext's gregs in glibc's REG_* order at offset 40, sigmask at 296.
  const uint64_t gregs = r.rdx + 40;
  EXPECT_EQ(Read64(gregs + 8 * 13), 0x1111u);  // REG_RAX
  EXPECT_EQ(Read64(gregs + 8 * 11), 0x2222u);  // REG_RBX
  EXPECT_EQ(Read64(gregs + 8 * 7), 0x3333u);   // REG_R15
  EXPECT_EQ(Read64(gregs + 8 * 16), from_.regs.rip);  // REG_RIP
  EXPECT_EQ(Read64(gregs + 8 * 15), from_.regs.rsp);  // REG_RSP
  EXPECT_EQ(Read64(r.rdx + 296), from_.blocked);
  const uint64_t fpstate = Read64(gregs + 8 * 23);
  EXPECT_EQ(fpstate % 64, 0u);
  EXPECT_GT(fpstate, r.rsp);
  // The handler's mask: its own signal and sa_mask added; fresh FPU state.
  EXPECT_EQ(h->blocked, from_.blocked | action_.mask | (1ull << (SIGUSR1 - 1)));
  EXPECT_EQ(h->fpu.fcw, kInitialFcw);
  EXPECT_EQ(h->fpu.mxcsr, kInitialMxcsr);
  EXPECT_EQ(h->fpu.xmm[5][0], 0);
}

TEST_F(SignalFrameTest, SigreturnRestoresTheContextWithTheHandlersEdits) {
  for (bool avx : {false, true}) {
    SCOPED_TRACE(avx ? "xsave image" : "fxsave image");
    absl::StatusOr<SignalContext> h = PushSignalFrame(*mem_, from_, info_, action_, avx, from_.blocked);
    ASSERT_TRUE(h.ok()) << h.status();
    // The handler moves rip on (as one skipping a faulting instruction does) and returns: its
    // ret pops the return address.
    const uint64_t rip_slot = h->regs.rdx + 40 + 8 * 16;
    const uint64_t new_rip = from_.regs.rip + 2;
    ASSERT_TRUE(mem_->Write(rip_slot, &new_rip, sizeof new_rip).ok());
    SignalContext at_sigreturn = *h;
    at_sigreturn.regs.rsp += 8;
    at_sigreturn.regs.rax = 15;
    at_sigreturn.fpu.xmm[5][0] = 0x99;
    absl::StatusOr<SignalContext> back = PopSignalFrame(*mem_, at_sigreturn, avx);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->regs.rip, new_rip);
    EXPECT_EQ(back->regs.rsp, from_.regs.rsp);
    EXPECT_EQ(back->regs.rax, 0x1111u);
    EXPECT_EQ(back->regs.rbx, 0x2222u);
    EXPECT_EQ(back->regs.r15, 0x3333u);
    EXPECT_EQ(back->regs.rflags, from_.regs.rflags);
    EXPECT_EQ(back->blocked, from_.blocked);
    EXPECT_EQ(back->fpu.fcw, from_.fpu.fcw);
    EXPECT_EQ(back->fpu.mxcsr, from_.fpu.mxcsr);
    EXPECT_EQ(back->fpu.ftw, from_.fpu.ftw) << "the full tag word rebuilt from the abridged one";
    EXPECT_EQ(0, std::memcmp(back->fpu.st, from_.fpu.st, sizeof from_.fpu.st));
    EXPECT_EQ(back->fpu.xmm[5][0], 0x55);
    EXPECT_EQ(back->fpu.ymmh[7][1], avx ? 0x77 : 0) << "upper halves only in an xsave image";
  }
}

TEST_F(SignalFrameTest, OnStackHandlersRunOnTheAlternateStack) {
  action_.flags |= SA_ONSTACK;
  from_.altstack = KernelStack{kAltStack, 0, 0, 0x4000};
  absl::StatusOr<SignalContext> h = PushSignalFrame(*mem_, from_, info_, action_, false, from_.blocked);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_GT(h->regs.rsp, kAltStack);
  EXPECT_LT(h->regs.rsp, kAltStack + 0x4000);
  // Already on it (a nested signal): the frame goes below the current rsp instead.
  SignalContext nested = *h;
  absl::StatusOr<SignalContext> h2 = PushSignalFrame(*mem_, nested, info_, action_, false, nested.blocked);
  ASSERT_TRUE(h2.ok()) << h2.status();
  EXPECT_LT(h2->regs.rsp, h->regs.rsp);
}

TEST_F(SignalFrameTest, UnwritableStackOrNoRestorerIsAnError) {
  SignalContext overflowed = from_;
  overflowed.regs.rsp = kStack + 64;  // the frame would land below the mapping
  EXPECT_FALSE(PushSignalFrame(*mem_, overflowed, info_, action_, false, from_.blocked).ok());
  action_.flags &= ~kSaRestorer;
  EXPECT_FALSE(PushSignalFrame(*mem_, from_, info_, action_, false, from_.blocked).ok());
  SignalContext nowhere = from_;
  nowhere.regs.rsp = 0x10;
  EXPECT_FALSE(PopSignalFrame(*mem_, nowhere, false).ok());
}

}  // namespace
}  // namespace km
