// signalfd: a descriptor whose reads take pending signals (those in its mask, normally blocked)
// as struct signalfd_siginfo records. km keeps the signals, so km serves the reads; the host fd
// is an eventfd km makes readable when a signal the signalfd reads is made pending (and drains
// once none is left), so poll, select and epoll on it work as on Linux. Readiness is the whole
// payload's: Linux's is the polling thread's own pending signals plus the process's.
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>

#include <cstdint>
#include <vector>

#include "absl/time/time.h"
#include "km/runtime/guest_thread.h"
#include "km/syscalls/guest_io.h"
#include "km/syscalls/handlers.h"
#include "km/syscalls/sys_common.h"

namespace km {
namespace {

signalfd_siginfo ToRecord(const SignalInfo& info) {
  signalfd_siginfo r = {};
  r.ssi_signo = static_cast<uint32_t>(info.signo);
  r.ssi_code = info.code;
  r.ssi_pid = static_cast<uint32_t>(info.sender_pid);
  r.ssi_uid = info.sender_uid;
  r.ssi_tid = static_cast<uint32_t>(info.timer_id);
  r.ssi_overrun = static_cast<uint32_t>(info.overrun);
  r.ssi_trapno = static_cast<uint32_t>(info.trapno);
  r.ssi_int = static_cast<int32_t>(info.value);
  r.ssi_ptr = info.value;
  r.ssi_addr = info.addr;
  return r;
}

// Empties the eventfd's count, which need not block even if the guest made the fd blocking.
void Drain(int fd) {
  pollfd p = {fd, POLLIN, 0};
  uint64_t count;
  if (::poll(&p, 1, 0) == 1) (void)!::read(fd, &count, sizeof count);
}

// Whether a signal in mask is pending for the thread or the payload, and the eventfd's
// readiness to match.
void SyncReadiness(SyscallContext& ctx, int fd, uint64_t mask) {
  if ((ctx.thread.PendingSignals() & mask) != 0) {
    const uint64_t one = 1;
    (void)!::write(fd, &one, sizeof one);
  } else {
    Drain(fd);
  }
}

int64_t Signalfd(SyscallContext& ctx, int fd, uint64_t mask_gva, uint64_t mask_size, int flags) {
  if (mask_size != kSigsetSize || (flags & ~(SFD_NONBLOCK | SFD_CLOEXEC)) != 0) return -EINVAL;
  uint64_t mask;
  if (int e = CopyIn(ctx.mem(), mask_gva, &mask); e != 0) return e;
  // As Linux: SIGKILL and SIGSTOP cannot be read from a signalfd.
  mask &= ~kUnblockableSignals;
  if (fd != -1) {
    return WithFd(ctx, fd, [&]() -> int64_t {
      if (int e = ctx.process.fds().SetSignalfdMask(fd, mask); e != 0) return e;
      SyncReadiness(ctx, fd, mask);
      return fd;
    });
  }
  const int efd = ::eventfd(0, ((flags & SFD_NONBLOCK) != 0 ? EFD_NONBLOCK : 0) |
                                   ((flags & SFD_CLOEXEC) != 0 ? EFD_CLOEXEC : 0));
  if (efd < 0) return -errno;
  ctx.process.fds().AdoptSignalfd(efd, mask);
  SyncReadiness(ctx, efd, mask);
  return efd;
}

}  // namespace

int64_t SysSignalfd(SyscallContext& ctx) {
  return Signalfd(ctx, FdArg(ctx.arg(0)), ctx.arg(1), ctx.arg(2), 0);
}

int64_t SysSignalfd4(SyscallContext& ctx) {
  return Signalfd(ctx, FdArg(ctx.arg(0)), ctx.arg(1), ctx.arg(2), static_cast<int>(ctx.arg(3)));
}

int64_t ReadSignalfd(SyscallContext& ctx, int fd, uint64_t mask, uint64_t buf, uint64_t count) {
  const uint64_t room = count / sizeof(signalfd_siginfo);
  if (room == 0) return -EINVAL;
  // Checked before any signal is taken: a bad buffer must not lose one.
  if (!ctx.mem().Check(buf, room * sizeof(signalfd_siginfo), Access::kWrite).ok()) return -EFAULT;
  std::vector<signalfd_siginfo> records;
  SignalInfo info;
  while (records.size() < room &&
         ctx.thread.WaitForSignal(mask, absl::InfinitePast(), &info) ==
             GuestThread::SignalWait::kTaken) {
    records.push_back(ToRecord(info));
  }
  if (records.empty()) {
    const int fl = ::fcntl(fd, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK) != 0) {
      SyncReadiness(ctx, fd, mask);
      return -EAGAIN;
    }
    // Blocks until one comes, or a signal the thread does not block cuts the read short (and
    // the read starts over after an SA_RESTART handler, as Linux's does).
    if (ctx.thread.WaitForSignal(mask, absl::InfiniteFuture(), &info) !=
        GuestThread::SignalWait::kTaken) {
      ctx.interrupted = true;
      return -EINTR;
    }
    records.push_back(ToRecord(info));
  }
  SyncReadiness(ctx, fd, mask);
  const uint64_t bytes = records.size() * sizeof(signalfd_siginfo);
  if (int e = CopyOutBytes(ctx.mem(), buf, records.data(), bytes); e != 0) return e;
  return static_cast<int64_t>(bytes);
}

}  // namespace km
