#include "km/runtime/signal_frame.h"

#include <signal.h>

#include <cstddef>
#include <cstring>

#include "absl/strings/str_format.h"
#include "km/runtime/fpu_image.h"

namespace km {
namespace {

// The kernel's structures, byte for byte (not libc's, whose ucontext_t is larger).
struct KernelSigcontext {
  uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
  uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
  uint16_t cs, gs, fs, ss;
  uint64_t err, trapno, oldmask, cr2;
  uint64_t fpstate;  // guest address of the FPU image, 0 for none
  uint64_t reserved[8];
};
static_assert(sizeof(KernelSigcontext) == 256);

struct KernelUcontext {
  uint64_t flags;
  uint64_t link;
  KernelStack stack;
  KernelSigcontext mcontext;
  uint64_t sigmask;
};
static_assert(sizeof(KernelUcontext) == 304);

struct KernelSiginfo {
  int32_t signo, errno_, code, pad;
  union {
    struct {
      int32_t pid;
      uint32_t uid;
      uint64_t value;  // SI_QUEUE only
    } kill;
    struct {
      int32_t id;
      int32_t overrun;
      uint64_t value;
    } timer;
    uint64_t addr;
    uint8_t bytes[112];
  };
};
static_assert(sizeof(KernelSiginfo) == 128);

struct RtSigframe {
  uint64_t pretcode;  // the handler's return address: sa_restorer, which calls rt_sigreturn
  KernelUcontext uc;
  KernelSiginfo info;
};
static_assert(sizeof(RtSigframe) == 440);
static_assert(offsetof(RtSigframe, uc) == 8 && offsetof(RtSigframe, info) == 312);

constexpr uint64_t kRedZone = 128;
constexpr uint32_t kFpXstateMagic1 = 0x46505853;
constexpr uint32_t kFpXstateMagic2 = 0x46505845;
constexpr uint64_t kUcFpXstate = 0x1;
constexpr uint64_t kUcSigcontextSs = 0x2;
constexpr uint64_t kUcStrictRestoreSs = 0x4;
constexpr uint64_t kSaRestorer = 0x04000000;
// The flags a handler may change through its ucontext (Linux's FIX_EFLAGS).
constexpr uint64_t kFixEflags = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800 | 0x4000 |
                                0x10000 | 0x40000;
constexpr uint64_t kTf = 0x100, kDf = 0x400, kRf = 0x10000;

KernelSiginfo ToKernel(const SignalInfo& info) {
  KernelSiginfo k;
  std::memset(&k, 0, sizeof k);
  k.signo = info.signo;
  k.code = info.code;
  if (info.fault) {
    k.addr = info.addr;
  } else if (info.code == SI_TIMER) {
    k.timer.id = info.timer_id;
    k.timer.overrun = info.overrun;
    k.timer.value = info.value;
  } else {
    k.kill.pid = info.sender_pid;
    k.kill.uid = info.sender_uid;
    k.kill.value = info.value;
  }
  return k;
}

FpuRegs InitialFpu() {
  FpuRegs fpu = {};
  fpu.fcw = kInitialFcw;
  fpu.ftw = 0xffff;
  fpu.mxcsr = kInitialMxcsr;
  return fpu;
}

}  // namespace

absl::StatusOr<SignalContext> PushSignalFrame(const GuestMemory& mem, const SignalContext& from,
                                              const SignalInfo& info,
                                              const KernelSigaction& action, bool avx,
                                              uint64_t saved_mask) {
  if ((action.flags & kSaRestorer) == 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "the handler of signal %d has no sa_restorer to return through", info.signo));
  }
  SignalContext to = from;
  uint64_t sp = from.regs.rsp - kRedZone;
  if ((action.flags & SA_ONSTACK) != 0 && (from.altstack.flags & SS_DISABLE) == 0 &&
      !OnAltStack(from.altstack, from.regs.rsp)) {
    sp = from.altstack.sp + from.altstack.size;
    if ((from.altstack.flags & kSsAutodisarm) != 0) to.altstack = KernelStack{};
  }
  const uint64_t fpu_size = avx ? kXsaveSize + sizeof(kFpXstateMagic2) : kFxsaveSize;
  const uint64_t fpstate = (sp - fpu_size) & ~uint64_t{63};
  const uint64_t frame = ((fpstate - sizeof(RtSigframe)) & ~uint64_t{15}) - 8;

  FpuImage img = ToFpuImage(from.fpu, avx);
  if (avx) {
    img.magic1 = kFpXstateMagic1;
    img.extended_size = kXsaveSize + sizeof(kFpXstateMagic2);
    img.xfeatures = kXfeaturesX87SseAvx;
    img.xstate_size = kXsaveSize;
  }
  absl::Status s = mem.Write(fpstate, &img, avx ? kXsaveSize : kFxsaveSize);
  if (s.ok() && avx) s = mem.Write(fpstate + kXsaveSize, &kFpXstateMagic2, sizeof kFpXstateMagic2);

  RtSigframe f = {};
  f.pretcode = action.restorer;
  f.uc.flags = kUcSigcontextSs | kUcStrictRestoreSs | (avx ? kUcFpXstate : 0);
  f.uc.stack = from.altstack;
  KernelSigcontext& mc = f.uc.mcontext;
  const Regs& r = from.regs;
  mc.r8 = r.r8, mc.r9 = r.r9, mc.r10 = r.r10, mc.r11 = r.r11;
  mc.r12 = r.r12, mc.r13 = r.r13, mc.r14 = r.r14, mc.r15 = r.r15;
  mc.rdi = r.rdi, mc.rsi = r.rsi, mc.rbp = r.rbp, mc.rbx = r.rbx;
  mc.rdx = r.rdx, mc.rax = r.rax, mc.rcx = r.rcx, mc.rsp = r.rsp;
  mc.rip = r.rip, mc.eflags = r.rflags;
  mc.cs = r.cs, mc.gs = r.gs, mc.fs = r.fs, mc.ss = r.ss;
  mc.trapno = info.fault ? info.trapno : 0;
  mc.oldmask = saved_mask;
  mc.cr2 = info.fault && info.trapno == 14 ? info.addr : 0;
  mc.fpstate = fpstate;
  f.uc.sigmask = saved_mask;
  f.info = ToKernel(info);
  if (s.ok()) s = mem.Write(frame, &f, sizeof f);
  if (!s.ok()) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "cannot write the frame of signal %d's handler at 0x%x: %s", info.signo, frame,
        s.message()));
  }

  Regs& h = to.regs;
  h.rsp = frame;
  h.rip = action.handler;
  h.rdi = static_cast<uint64_t>(info.signo);
  h.rsi = frame + offsetof(RtSigframe, info);
  h.rdx = frame + offsetof(RtSigframe, uc);
  h.rax = 0;
  h.rflags &= ~(kTf | kDf | kRf);
  to.fpu = InitialFpu();
  to.blocked = from.blocked | action.mask;
  if ((action.flags & SA_NODEFER) == 0) to.blocked |= SignalBit(info.signo);
  to.blocked &= ~kUnblockableSignals;
  return to;
}

std::array<uint8_t, 128> KernelSiginfoBytes(const SignalInfo& info) {
  const KernelSiginfo k = ToKernel(info);
  std::array<uint8_t, 128> out;
  std::memcpy(out.data(), &k, sizeof k);
  return out;
}

absl::StatusOr<SignalContext> PopSignalFrame(const GuestMemory& mem, const SignalContext& now,
                                             bool avx) {
  // The handler's ret took the return address: rsp is at the ucontext.
  const uint64_t uc_addr = now.regs.rsp;
  KernelUcontext uc;
  absl::Status s = mem.Read(uc_addr, &uc, sizeof uc);
  if (!s.ok()) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "rt_sigreturn: no signal frame at 0x%x: %s", uc_addr, s.message()));
  }
  SignalContext to = now;
  const KernelSigcontext& mc = uc.mcontext;
  Regs& r = to.regs;
  r.r8 = mc.r8, r.r9 = mc.r9, r.r10 = mc.r10, r.r11 = mc.r11;
  r.r12 = mc.r12, r.r13 = mc.r13, r.r14 = mc.r14, r.r15 = mc.r15;
  r.rdi = mc.rdi, r.rsi = mc.rsi, r.rbp = mc.rbp, r.rbx = mc.rbx;
  r.rdx = mc.rdx, r.rax = mc.rax, r.rcx = mc.rcx, r.rsp = mc.rsp;
  r.rip = mc.rip;
  r.rflags = (now.regs.rflags & ~kFixEflags) | (mc.eflags & kFixEflags);

  if (mc.fpstate == 0) {
    to.fpu = InitialFpu();
  } else {
    FpuImage img = {};
    s = mem.Read(mc.fpstate, &img, kFxsaveSize);
    const bool xsave = s.ok() && avx && img.magic1 == kFpXstateMagic1 &&
                       img.xstate_size >= kXsaveSize;
    if (xsave) s = mem.Read(mc.fpstate + kFxsaveSize, &img.xstate_bv, kXsaveSize - kFxsaveSize);
    if (!s.ok()) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "rt_sigreturn: unreadable FPU state at 0x%x: %s", mc.fpstate, s.message()));
    }
    // Without an AVX image (or with its AVX bit clear) the upper halves start over from zero.
    to.fpu = FromFpuImage(img, xsave && (img.xstate_bv & 0x4) != 0);
  }
  to.blocked = uc.sigmask & ~kUnblockableSignals;

  // As sigaltstack would, errors ignored: not while running on the current one (unless it
  // disarms itself), and not too small.
  const KernelStack& want = uc.stack;
  const bool busy = OnAltStack(now.altstack, now.regs.rsp) && (now.altstack.flags & kSsAutodisarm) == 0;
  if (!busy) {
    if ((want.flags & SS_DISABLE) != 0) {
      to.altstack = KernelStack{};
    } else if (want.size >= kMinSigStackSize) {
      to.altstack = KernelStack{want.sp, want.flags & kSsAutodisarm, 0, want.size};
    }
  }
  return to;
}

}  // namespace km
