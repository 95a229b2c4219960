// Serving a guest syscall: the context a handler sees, and the number -> handler table.
#pragma once

#include <cstdint>

#include "km/guest_memory.h"
#include "km/regs.h"

namespace km {

class GuestThread;
class Process;

struct SyscallContext {
  SyscallContext(Process& p, GuestThread& t, const Regs& r) : process(p), thread(t), regs(r) {}

  Process& process;
  GuestThread& thread;
  const Regs& regs;  // at the syscall instruction's exit; rax is the number
  // Set by exit paths: the thread's loop ends instead of returning to the guest.
  bool end_thread = false;
  // Set by BlockingHostCall when a signal for the thread cut the call short (-EINTR), and
  // whether that was before it began: then it had no effect, and it starts over once the
  // signal is dealt with, whatever SA_RESTART says, as if the signal had come first.
  bool interrupted = false;
  bool interrupted_before_start = false;
  // Whether a call cut short starts over once a handler with SA_RESTART has run (read, write,
  // a futex wait without a timeout), rather than returning EINTR (sleeps, timed waits).
  bool restartable = true;

  uint64_t nr() const { return regs.rax; }
  // The x86-64 syscall argument registers: rdi, rsi, rdx, r10, r8, r9.
  uint64_t arg(int i) const;
  GuestMemory& mem() const;
};

using SyscallHandler = int64_t (*)(SyscallContext& ctx);

// Runs the handler for ctx.nr(); returns the value for rax (a result, or -errno). An unknown
// number is -ENOSYS, reported once per number on stderr.
int64_t DispatchSyscall(SyscallContext& ctx);

// The handler for nr, or nullptr: for tests and the debug service's "catch syscall".
SyscallHandler FindSyscallHandler(int64_t nr);

}  // namespace km
