// futex: guest memory is host memory, so a guest futex word is a host futex word. km translates
// the addresses and calls the host's futex; a wait blocks only this guest thread's host thread
// (its vCPU is outside Run(), so the engine is free to run the others) until a wake, its timeout
// or a signal for the thread (EINTR, or a restart). Guest tids are host tids, so the
// priority-inheritance ops, which keep the owner's tid in the word, work as they are.
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "km/syscalls/guest_io.h"
#include "km/syscalls/handlers.h"
#include "km/syscalls/sys_common.h"
#include "km/syscalls/timespec.h"

namespace km {
namespace {

// Host address of the 4-byte futex word at gva: it must be aligned and accessible.
int FutexWord(const GuestMemory& mem, uint64_t gva, Access need, uint32_t** out) {
  if ((gva & 3) != 0) return -EINVAL;
  absl::StatusOr<uint8_t*> host = mem.HostPointer(gva, sizeof(uint32_t), need);
  if (!host.ok()) return -EFAULT;
  *out = reinterpret_cast<uint32_t*>(*host);
  return 0;
}

// FUTEX_WAIT(_BITSET), cut short by a signal for the thread. FUTEX_WAIT's timeout is relative:
// it becomes a deadline first, so a wait that goes again after a host interrupt that concerned
// no signal still ends when it should.
int64_t Wait(SyscallContext& ctx, uint32_t* uaddr, int op, uint32_t val, uint64_t timeout_gva,
             uint32_t bitset) {
  struct timespec deadline;
  struct timespec* deadline_ptr = nullptr;
  if (timeout_gva != 0) {
    if (int e = CopyIn(ctx.mem(), timeout_gva, &deadline); e != 0) return e;
    deadline_ptr = &deadline;
    if ((op & FUTEX_CMD_MASK) == FUTEX_WAIT) {
      if (!ValidTimespec(deadline)) return -EINVAL;
      const clockid_t clock =
          (op & FUTEX_CLOCK_REALTIME) != 0 ? CLOCK_REALTIME : CLOCK_MONOTONIC;
      struct timespec now;
      ::clock_gettime(clock, &now);
      deadline = DeadlineAfter(now, deadline);
      op = (op & ~FUTEX_CMD_MASK) | FUTEX_WAIT_BITSET;
      bitset = FUTEX_BITSET_MATCH_ANY;
    }
  }
  // As on Linux: a wait without a timeout starts over after an SA_RESTART handler; a timed one
  // returns EINTR.
  ctx.restartable = deadline_ptr == nullptr;
  return BlockingHostCall(ctx, SYS_futex, Ptr(uaddr), static_cast<uint64_t>(op), val,
                          Ptr(deadline_ptr), 0, bitset);
}

}  // namespace

int64_t SysFutex(SyscallContext& ctx) {
  const int op = static_cast<int>(ctx.arg(1));
  const uint32_t val = static_cast<uint32_t>(ctx.arg(2));
  const uint64_t arg4 = ctx.arg(3);  // timeout pointer, or val2 for the requeue ops
  const uint32_t val3 = static_cast<uint32_t>(ctx.arg(5));
  const int cmd = op & FUTEX_CMD_MASK;

  const bool pi = cmd == FUTEX_LOCK_PI || cmd == FUTEX_LOCK_PI2 || cmd == FUTEX_TRYLOCK_PI ||
                  cmd == FUTEX_UNLOCK_PI;
  uint32_t* uaddr;
  // The PI ops write the owner's tid into *uaddr and WAKE_OP writes *uaddr2; the rest only read.
  if (int e = FutexWord(ctx.mem(), ctx.arg(0), pi ? Access::kWrite : Access::kRead, &uaddr);
      e != 0) {
    return e;
  }
  uint32_t* uaddr2 = nullptr;
  switch (cmd) {
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE:
      if (int e = FutexWord(ctx.mem(), ctx.arg(4), Access::kRead, &uaddr2); e != 0) return e;
      break;
    case FUTEX_WAKE_OP:
      if (int e = FutexWord(ctx.mem(), ctx.arg(4), Access::kWrite, &uaddr2); e != 0) return e;
      break;
    default:
      break;
  }

  switch (cmd) {
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET:
      return Wait(ctx, uaddr, op, val, arg4, val3);
    case FUTEX_LOCK_PI:
    case FUTEX_LOCK_PI2:
    case FUTEX_TRYLOCK_PI: {
      struct timespec timeout;
      struct timespec* timeout_ptr = nullptr;
      if (arg4 != 0) {
        if (int e = CopyIn(ctx.mem(), arg4, &timeout); e != 0) return e;
        timeout_ptr = &timeout;
      }
      return HostResult(::syscall(SYS_futex, uaddr, op, val, timeout_ptr, nullptr, val3));
    }
    case FUTEX_WAKE:
    case FUTEX_WAKE_BITSET:
    case FUTEX_UNLOCK_PI:
      return HostResult(::syscall(SYS_futex, uaddr, op, val, nullptr, nullptr, val3));
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE:
    case FUTEX_WAKE_OP:
      // arg4 is a count here (val2), passed by value in the pointer's place.
      return HostResult(::syscall(SYS_futex, uaddr, op, val, arg4, uaddr2, val3));
    default:
      // The requeue-PI pair (condition variables over PI mutexes) is not served.
      return -ENOSYS;
  }
}

}  // namespace km
