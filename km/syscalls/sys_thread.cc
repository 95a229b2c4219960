// Threads and processes: clone (a thread, CLONE_VM | CLONE_THREAD as pthread_create makes it; or
// a process: fork, vfork and posix_spawn's CLONE_VM | CLONE_VFORK), exit, exit_group,
// set_tid_address, the per-thread CPU state arch_prctl sets, and thread names.
#include <asm/prctl.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <string>

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

// What a new process may ask of clone besides its exit signal (CSIGNAL).
constexpr uint64_t kProcessFlags = CLONE_VM | CLONE_VFORK | CLONE_PARENT_SETTID |
                                   CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;

bool Canonical(uint64_t addr) { return addr < (1ull << 47); }

// A new process, made by Process::Fork: its memory a copy of the payload's. With CLONE_VFORK
// the parent waits, as Linux's does, until the child has called execve or ended; CLONE_VM comes
// only with it (posix_spawn, vfork), and the child's copy serves as well as shared memory for a
// child that only sets up and calls execve (one that writes to its parent's memory is not
// served: the parent never sees those writes).
int64_t NewProcess(SyscallContext& ctx, uint64_t flags, uint64_t stack, uint64_t parent_tid,
                   uint64_t child_tid) {
  if ((flags & ~(kProcessFlags | CSIGNAL)) != 0 ||
      ((flags & CLONE_VM) != 0 && (flags & CLONE_VFORK) == 0)) {
    return -EINVAL;
  }
  // vfork's wait: the child holds the write end, which closes with its execve or its end.
  int vfork_pipe[2] = {-1, -1};
  if ((flags & CLONE_VFORK) != 0 && ::pipe2(vfork_pipe, O_CLOEXEC) != 0) return -EAGAIN;
  absl::StatusOr<int> pid = ctx.process.Fork(ctx.thread, vfork_pipe[1]);
  if (!pid.ok()) {
    if (vfork_pipe[0] >= 0) {
      ::close(vfork_pipe[0]);
      ::close(vfork_pipe[1]);
    }
    if (pid.status().code() != absl::StatusCode::kUnimplemented) return -EAGAIN;
    static std::once_flag told;
    std::call_once(told, [&] {
      std::fprintf(stderr, "km: fork: %s; returning ENOSYS\n",
                   std::string(pid.status().message()).c_str());
    });
    return -ENOSYS;
  }
  if (*pid == 0) {
    if (vfork_pipe[0] >= 0) ::close(vfork_pipe[0]);
    const int tid = ctx.thread.tid();
    if (stack != 0) ctx.thread.EditRegs([stack](Regs& regs) { regs.rsp = stack; });
    if ((flags & CLONE_PARENT_SETTID) != 0) CopyOut(ctx.mem(), parent_tid, tid);
    if ((flags & CLONE_CHILD_SETTID) != 0) CopyOut(ctx.mem(), child_tid, tid);
    if ((flags & CLONE_CHILD_CLEARTID) != 0) ctx.thread.set_clear_child_tid(child_tid);
    return 0;
  }
  if ((flags & CLONE_PARENT_SETTID) != 0) CopyOut(ctx.mem(), parent_tid, *pid);
  if (DebugObserver* observer = ctx.process.debug_observer()) {
    observer->AfterFork(ctx.thread, *pid, (flags & CLONE_VFORK) != 0);
  }
  if (vfork_pipe[0] >= 0) {
    ::close(vfork_pipe[1]);
    char byte;
    while (::read(vfork_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
    ::close(vfork_pipe[0]);
  }
  return *pid;
}

}  // namespace

int64_t SysClone(SyscallContext& ctx) {
  const uint64_t flags = ctx.arg(0);
  const uint64_t stack = ctx.arg(1);
  const uint64_t parent_tid = ctx.arg(2);
  const uint64_t child_tid = ctx.arg(3);
  const uint64_t tls = ctx.arg(4);
  if ((flags & CLONE_THREAD) == 0) return NewProcess(ctx, flags, stack, parent_tid, child_tid);
  if ((flags & CLONE_VM) == 0) return -EINVAL;
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

int64_t SysFork(SyscallContext& ctx) { return NewProcess(ctx, SIGCHLD, 0, 0, 0); }

int64_t SysVfork(SyscallContext& ctx) {
  return NewProcess(ctx, CLONE_VM | CLONE_VFORK | SIGCHLD, 0, 0, 0);
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
