// Threads: clone (threads only: CLONE_VM | CLONE_THREAD, as pthread_create makes them), exit,
// exit_group, set_tid_address, the per-thread CPU state arch_prctl sets, and thread names.
#include <asm/prctl.h>
#include <sched.h>
#include <sys/prctl.h>

#include "km/runtime/guest_thread.h"
#include "km/syscalls/guest_io.h"
#include "km/syscalls/handlers.h"
#include "km/syscalls/sys_common.h"

namespace km {
namespace {

// What a thread shares with its creator in a pthread_create clone; everything km can provide.
constexpr uint64_t kThreadFlags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
                                  CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS |
                                  CLONE_PARENT_SETTID | CLONE_CHILD_SETTID |
                                  CLONE_CHILD_CLEARTID | CLONE_DETACHED | CLONE_IO;

bool Canonical(uint64_t addr) { return addr < (1ull << 47); }

}  // namespace

int64_t SysClone(SyscallContext& ctx) {
  const uint64_t flags = ctx.arg(0);
  const uint64_t stack = ctx.arg(1);
  const uint64_t parent_tid = ctx.arg(2);
  const uint64_t child_tid = ctx.arg(3);
  const uint64_t tls = ctx.arg(4);
  // Without CLONE_VM it is a fork, without CLONE_THREAD a vfork-like process: km runs one
  // process.
  if ((flags & CLONE_VM) == 0 || (flags & CLONE_THREAD) == 0) return -ENOSYS;
  if ((flags & CLONE_SIGHAND) == 0 || (flags & ~(kThreadFlags | 0xff)) != 0) return -EINVAL;
  if ((flags & CLONE_SETTLS) != 0 && !Canonical(tls)) return -EPERM;

  Regs regs = ctx.regs;
  regs.rax = 0;
  if (stack != 0) regs.rsp = stack;
  if ((flags & CLONE_SETTLS) != 0) regs.fs_base = tls;
  FpuRegs fpu;
  absl::Status fpu_status =
      ctx.thread.WithVcpu([&fpu](Vcpu& vcpu) { return vcpu.GetFpu(&fpu); });
  if (!fpu_status.ok()) return -EAGAIN;

  absl::StatusOr<std::unique_ptr<Process::PendingThread>> pending =
      ctx.process.SpawnThread(regs, fpu, ctx.thread.signal_state().blocked.load());
  if (!pending.ok()) return -EAGAIN;
  const int tid = (*pending)->tid();
  // As Linux: the ids are stored before either thread runs on; a bad address is not an error.
  if ((flags & CLONE_PARENT_SETTID) != 0) CopyOut(ctx.mem(), parent_tid, tid);
  if ((flags & CLONE_CHILD_SETTID) != 0) CopyOut(ctx.mem(), child_tid, tid);
  if ((flags & CLONE_CHILD_CLEARTID) != 0) (*pending)->thread()->set_clear_child_tid(child_tid);
  (*pending)->start();
  return tid;
}

int64_t SysExit(SyscallContext& ctx) {
  ctx.thread.SetExiting(static_cast<int>(ctx.arg(0)));
  ctx.end_thread = true;
  return 0;
}

int64_t SysExitGroup(SyscallContext& ctx) {
  ctx.thread.SetExiting(static_cast<int>(ctx.arg(0)));
  ctx.process.ExitGroup(static_cast<int>(ctx.arg(0)));
  ctx.end_thread = true;
  return 0;
}

int64_t SysSetTidAddress(SyscallContext& ctx) {
  ctx.thread.set_clear_child_tid(ctx.arg(0));
  return ctx.thread.tid();
}

int64_t SysSetRobustList(SyscallContext& ctx) {
  // struct robust_list_head's size; the list is only walked when a thread dies holding a robust
  // mutex, which km does not model.
  constexpr uint64_t kRobustListHeadSize = 24;
  return ctx.arg(1) == kRobustListHeadSize ? 0 : -EINVAL;
}

int64_t SysArchPrctl(SyscallContext& ctx) {
  const int code = static_cast<int>(ctx.arg(0));
  const uint64_t addr = ctx.arg(1);
  switch (code) {
    case ARCH_SET_FS:
    case ARCH_SET_GS:
      if (!Canonical(addr)) return -EPERM;
      ctx.thread.EditRegs([&](Regs& regs) {
        (code == ARCH_SET_FS ? regs.fs_base : regs.gs_base) = addr;
      });
      return 0;
    case ARCH_GET_FS:
    case ARCH_GET_GS: {
      Regs regs;
      if (!ctx.thread.GetRegs(&regs).ok()) return -EFAULT;
      return CopyOut(ctx.mem(), addr, code == ARCH_GET_FS ? regs.fs_base : regs.gs_base);
    }
    default:
      return -EINVAL;
  }
}

int64_t SysPrctl(SyscallContext& ctx) {
  // A guest thread runs on a host thread of its own (its tid), so the thread name is that host
  // thread's: top -H and /proc/self/task/TID/comm show the payload's names.
  constexpr size_t kNameSize = 16;  // TASK_COMM_LEN
  char name[kNameSize] = {};
  switch (static_cast<int>(ctx.arg(0))) {
    case PR_SET_NAME: {
      // The name may sit at the very end of a mapping: copy byte by byte up to its NUL.
      for (size_t i = 0; i + 1 < kNameSize; i++) {
        if (int e = CopyInBytes(ctx.mem(), ctx.arg(1) + i, &name[i], 1); e != 0) return e;
        if (name[i] == '\0') break;
      }
      return HostResult(::prctl(PR_SET_NAME, name));
    }
    case PR_GET_NAME:
      if (::prctl(PR_GET_NAME, name) != 0) return -errno;
      return CopyOutBytes(ctx.mem(), ctx.arg(1), name, kNameSize);
    default:
      return -EINVAL;
  }
}

}  // namespace km
