// The frame Linux pushes on a thread's stack to run a signal handler, and the rt_sigreturn that
// takes it down again, in the x86-64 layout (arch/x86/include/asm/sigframe.h): a handler that
// reads its siginfo or edits its ucontext, and a debugger that unwinds through the frame, find
// what they would find on Linux.
#pragma once

#include <array>
#include <cstdint>

#include "absl/status/statusor.h"
#include "km/guest_memory.h"
#include "km/regs.h"
#include "km/runtime/signal_state.h"

namespace km {

// A thread's state on either side of a handler: what runs next.
struct SignalContext {
  Regs regs;
  FpuRegs fpu;
  uint64_t blocked = 0;
  KernelStack altstack;
};

// Writes the frame for info's handler (action) below the interrupted context `from` (or at the
// top of the alternate stack, as SA_ONSTACK asks) and returns the context the handler starts
// in: rip at the handler, rdi/rsi/rdx its three arguments, return address sa_restorer, Linux's
// initial FPU state, the handler's signal mask. avx: the engine has AVX, so the frame's FPU
// area is an XSAVE image with the ymm upper halves (else a plain FXSAVE image).
// saved_mask: the mask rt_sigreturn puts back (from.blocked, except inside sigsuspend, whose
// temporary mask the handler's is built on).
// Fails (the payload then dies of SIGSEGV, as on Linux) if the frame cannot be written.
absl::StatusOr<SignalContext> PushSignalFrame(const GuestMemory& mem, const SignalContext& from,
                                              const SignalInfo& info,
                                              const KernelSigaction& action, bool avx,
                                              uint64_t saved_mask);

// The kernel's 128-byte siginfo_t for info (rt_sigtimedwait hands it out too).
std::array<uint8_t, 128> KernelSiginfoBytes(const SignalInfo& info);

// rt_sigreturn: the context saved in the frame the handler returns through (rsp at the syscall
// points just past the return address), with the handler's edits to it. `now` supplies what the
// frame does not restore (segment selectors, fs_base/gs_base). Fails on an unreadable frame.
absl::StatusOr<SignalContext> PopSignalFrame(const GuestMemory& mem, const SignalContext& now,
                                             bool avx);

}  // namespace km
