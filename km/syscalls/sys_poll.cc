// Waiting for descriptors: poll, select and epoll. Every fd the guest names must be the guest's
// (FdTable) and is held for the call, so that a concurrent close cannot hand its number to one
// of km's own descriptors meanwhile. The waiting is the host kernel's, cut short by a signal for
// the thread; Linux then returns EINTR, whatever SA_RESTART says.
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <optional>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "km/runtime/guest_thread.h"
#include "km/runtime/signal_state.h"
#include "km/syscalls/guest_io.h"
#include "km/syscalls/handlers.h"
#include "km/syscalls/sys_common.h"
#include "km/syscalls/timespec.h"

namespace km {
namespace {

// A call's timeout as a deadline on CLOCK_MONOTONIC, so that it ends on time however many times
// the host call is issued.
struct Timeout {
  bool given = false;  // none: wait as long as it takes
  absl::Duration deadline = absl::InfiniteDuration();
  bool zero = false;  // Linux writes no time left back for a zero timeout
};

Timeout After(absl::Duration relative) {
  return {true, MonotonicNow() + relative, relative == absl::ZeroDuration()};
}

// poll's and epoll_wait's: milliseconds, negative for none.
Timeout AfterMillis(int ms) { return ms < 0 ? Timeout{} : After(absl::Milliseconds(ms)); }

absl::Duration TimeLeft(const Timeout& t) {
  return std::max(absl::ZeroDuration(), t.deadline - MonotonicNow());
}

// A guest timespec timeout at gva (0: none): -EFAULT, or -EINVAL if it is not a valid time.
int TimespecTimeout(const GuestMemory& mem, uint64_t gva, Timeout* out) {
  if (gva == 0) return 0;
  struct timespec ts;
  if (int e = CopyIn(mem, gva, &ts); e != 0) return e;
  if (!ValidTimespec(ts)) return -EINVAL;
  *out = After(absl::DurationFromTimespec(ts));
  return 0;
}

// The raw ppoll and pselect6 write what is left of their timeout back (the C library's
// wrappers hide it); Linux ignores a fault doing so.
void WriteBackTimespec(const GuestMemory& mem, uint64_t gva, const Timeout& t) {
  if (gva != 0 && !t.zero) CopyOut(mem, gva, absl::ToTimespec(TimeLeft(t)));
}

// The sigmask argument of ppoll, pselect6 and epoll_pwait (gva 0: none).
int SigmaskArg(const GuestMemory& mem, uint64_t gva, uint64_t size, std::optional<uint64_t>* out) {
  if (gva == 0) return 0;
  if (size != kSigsetSize) return -EINVAL;
  uint64_t mask;
  if (int e = CopyIn(mem, gva, &mask); e != 0) return e;
  *out = mask;
  return 0;
}

// The signal mask a call was given, in force while it waits. A call a signal cut short keeps it
// until that signal is taken, as on Linux: the handler's frame saves the old mask for its
// sigreturn (or km puts it back if no handler runs).
class CallMask {
 public:
  CallMask(SyscallContext& ctx, std::optional<uint64_t> mask) : ctx_(ctx) {
    if (!mask) return;
    ThreadSignalState& state = ctx.thread.signal_state();
    old_ = state.blocked.load();
    state.blocked = *mask & ~kUnblockableSignals;
  }
  CallMask(const CallMask&) = delete;
  CallMask& operator=(const CallMask&) = delete;
  ~CallMask() {
    if (!old_) return;
    if (ctx_.interrupted) {
      ctx_.thread.RestoreMaskAfterSignal(*old_);
    } else {
      ctx_.thread.signal_state().blocked = *old_;
    }
  }

 private:
  SyscallContext& ctx_;
  std::optional<uint64_t> old_;
};

// An fd the guest does not own is POLLNVAL, as a closed one is on Linux; the host skips its
// entry (fd -1).
int64_t Poll(SyscallContext& ctx, uint64_t fds_gva, unsigned int nfds, const Timeout& timeout) {
  struct rlimit nofile;
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  if (nfds > nofile.rlim_cur) return -EINVAL;
  std::vector<pollfd> fds(nfds);
  if (int e = CopyInBytes(ctx.mem(), fds_gva, fds.data(), fds.size() * sizeof(pollfd)); e != 0) {
    return e;
  }
  std::vector<FdTable::Ref> held;
  std::vector<std::pair<size_t, int>> invalid;  // index, guest fd
  for (size_t i = 0; i < fds.size(); i++) {
    if (fds[i].fd < 0) continue;
    FdTable::Ref ref;
    if (ctx.process.fds().Acquire(fds[i].fd, &ref) == 0) {
      held.push_back(std::move(ref));
    } else {
      invalid.emplace_back(i, fds[i].fd);
      fds[i].fd = -1;
    }
  }
  ctx.restartable = false;
  int64_t r;
  if (invalid.empty()) {
    timespec left;
    timespec* t = timeout.given ? &left : nullptr;
    r = BlockingHostCallUntil(ctx, timeout.deadline, t, SYS_ppoll, Ptr(fds.data()), nfds, Ptr(t));
  } else {
    // Counted as ready, they make the call return at once, signal or not.
    const timespec zero = {};
    r = HostResult(::ppoll(fds.data(), nfds, &zero, nullptr));
  }
  if (r < 0 && r != -EINTR) return r;
  for (const auto& [i, fd] : invalid) {
    fds[i].fd = fd;
    fds[i].revents = POLLNVAL;
  }
  if (r >= 0) r += static_cast<int64_t>(invalid.size());
  // Linux writes every revents back, also when a signal cut the wait short.
  if (int e = CopyOutBytes(ctx.mem(), fds_gva, fds.data(), fds.size() * sizeof(pollfd)); e != 0) {
    return e;
  }
  return r;
}

// Linux clamps select's n to the size of the process's fd table, itself at most nr_open
// (1 << 20 by default); fds past it are not looked at.
constexpr int kMaxSelectFds = 1 << 20;

// The three fd sets (in, out, except) at sets_gva, each 0 or n bits. Every fd in them must be
// the guest's, else EBADF, as for a closed fd on Linux.
int64_t Select(SyscallContext& ctx, int n, const uint64_t (&sets_gva)[3], const Timeout& timeout) {
  if (n < 0) return -EINVAL;
  n = std::min(n, kMaxSelectFds);
  const size_t words = (static_cast<size_t>(n) + 63) / 64;
  std::vector<uint64_t> sets[3];
  for (int s = 0; s < 3; s++) {
    if (sets_gva[s] == 0) continue;
    sets[s].resize(words);
    if (int e = CopyInBytes(ctx.mem(), sets_gva[s], sets[s].data(), words * 8); e != 0) return e;
  }
  std::vector<FdTable::Ref> held;
  for (size_t w = 0; w < words; w++) {
    uint64_t named = 0;
    for (const std::vector<uint64_t>& set : sets) named |= set.empty() ? 0 : set[w];
    for (; named != 0; named &= named - 1) {
      const int fd = static_cast<int>(w * 64) + std::countr_zero(named);
      if (fd >= n) break;
      FdTable::Ref ref;
      if (ctx.process.fds().Acquire(fd, &ref) != 0) return -EBADF;
      held.push_back(std::move(ref));
    }
  }
  ctx.restartable = false;
  auto set_arg = [&](int s) { return sets[s].empty() ? 0 : Ptr(sets[s].data()); };
  timespec left;
  timespec* t = timeout.given ? &left : nullptr;
  const int64_t r = BlockingHostCallUntil(ctx, timeout.deadline, t, SYS_pselect6,
                                          static_cast<uint64_t>(n), set_arg(0), set_arg(1),
                                          set_arg(2), Ptr(t), 0);
  if (r < 0) return r;
  for (int s = 0; s < 3; s++) {
    if (sets[s].empty()) continue;
    if (int e = CopyOutBytes(ctx.mem(), sets_gva[s], sets[s].data(), words * 8); e != 0) return e;
  }
  return r;
}

// epoll_wait hands over at most this many events at a time; the others stay ready for the next
// call, as those past maxevents do.
constexpr int kMaxEventsPerWait = 1024;

int64_t EpollWait(SyscallContext& ctx, int epfd, uint64_t events_gva, int maxevents,
                  const Timeout& timeout, std::optional<uint64_t> mask) {
  if (maxevents <= 0 || maxevents > INT_MAX / static_cast<int>(sizeof(epoll_event))) {
    return -EINVAL;
  }
  std::vector<epoll_event> events(std::min(maxevents, kMaxEventsPerWait));
  // Checked first: the host cannot take back an event it handed over.
  if (!ctx.mem().Check(events_gva, events.size() * sizeof(epoll_event), Access::kWrite).ok()) {
    return -EFAULT;
  }
  return WithFd(ctx, epfd, [&]() -> int64_t {
    ctx.restartable = false;
    int64_t r;
    {
      CallMask during(ctx, mask);
      timespec left;
      timespec* t = timeout.given ? &left : nullptr;
      r = BlockingHostCallUntil(ctx, timeout.deadline, t, SYS_epoll_pwait2,
                                static_cast<uint64_t>(epfd), Ptr(events.data()), events.size(),
                                Ptr(t));
    }
    if (r <= 0) return r;
    if (int e = CopyOutBytes(ctx.mem(), events_gva, events.data(), r * sizeof(epoll_event));
        e != 0) {
      return e;
    }
    return r;
  });
}

}  // namespace

int64_t SysPoll(SyscallContext& ctx) {
  return Poll(ctx, ctx.arg(0), static_cast<unsigned int>(ctx.arg(1)),
              AfterMillis(static_cast<int>(ctx.arg(2))));
}

int64_t SysPpoll(SyscallContext& ctx) {
  Timeout timeout;
  if (int e = TimespecTimeout(ctx.mem(), ctx.arg(2), &timeout); e != 0) return e;
  std::optional<uint64_t> mask;
  if (int e = SigmaskArg(ctx.mem(), ctx.arg(3), ctx.arg(4), &mask); e != 0) return e;
  int64_t r;
  {
    CallMask during(ctx, mask);
    r = Poll(ctx, ctx.arg(0), static_cast<unsigned int>(ctx.arg(1)), timeout);
  }
  WriteBackTimespec(ctx.mem(), ctx.arg(2), timeout);
  return r;
}

int64_t SysSelect(SyscallContext& ctx) {
  const uint64_t tv_gva = ctx.arg(4);
  Timeout timeout;
  if (tv_gva != 0) {
    struct timeval tv;
    if (int e = CopyIn(ctx.mem(), tv_gva, &tv); e != 0) return e;
    // Linux carries whole seconds out of tv_usec; a negative part is invalid.
    if (tv.tv_sec < 0 || tv.tv_usec < 0) return -EINVAL;
    timeout = After(absl::Seconds(tv.tv_sec) + absl::Microseconds(tv.tv_usec));
  }
  const uint64_t sets[3] = {ctx.arg(1), ctx.arg(2), ctx.arg(3)};
  const int64_t r = Select(ctx, static_cast<int>(ctx.arg(0)), sets, timeout);
  // select tells what was left of the timeout, as Linux does (a fault doing so is ignored).
  if (tv_gva != 0 && !timeout.zero) CopyOut(ctx.mem(), tv_gva, absl::ToTimeval(TimeLeft(timeout)));
  return r;
}

int64_t SysPselect6(SyscallContext& ctx) {
  // The sixth argument points to {const sigset_t* mask; size_t size}.
  uint64_t sig[2] = {0, 0};
  if (ctx.arg(5) != 0) {
    if (int e = CopyInBytes(ctx.mem(), ctx.arg(5), sig, sizeof sig); e != 0) return e;
  }
  Timeout timeout;
  if (int e = TimespecTimeout(ctx.mem(), ctx.arg(4), &timeout); e != 0) return e;
  std::optional<uint64_t> mask;
  if (int e = SigmaskArg(ctx.mem(), sig[0], sig[1], &mask); e != 0) return e;
  const uint64_t sets[3] = {ctx.arg(1), ctx.arg(2), ctx.arg(3)};
  int64_t r;
  {
    CallMask during(ctx, mask);
    r = Select(ctx, static_cast<int>(ctx.arg(0)), sets, timeout);
  }
  WriteBackTimespec(ctx.mem(), ctx.arg(4), timeout);
  return r;
}

int64_t SysEpollCreate(SyscallContext& ctx) {
  if (static_cast<int>(ctx.arg(0)) <= 0) return -EINVAL;
  return AdoptNewFd(ctx, ::epoll_create1(0));
}

int64_t SysEpollCreate1(SyscallContext& ctx) {
  return AdoptNewFd(ctx, ::epoll_create1(static_cast<int>(ctx.arg(0))));
}

int64_t SysEpollCtl(SyscallContext& ctx) {
  const int epfd = FdArg(ctx.arg(0));
  const int op = static_cast<int>(ctx.arg(1));
  const int fd = FdArg(ctx.arg(2));
  // The event's data is the guest's own cookie, handed back as it is.
  struct epoll_event event = {};
  if (op != EPOLL_CTL_DEL) {
    if (int e = CopyIn(ctx.mem(), ctx.arg(3), &event); e != 0) return e;
  }
  return WithFd(ctx, epfd, [&] {
    return WithFd(ctx, fd, [&] { return HostResult(::epoll_ctl(epfd, op, fd, &event)); });
  });
}

int64_t SysEpollWait(SyscallContext& ctx) {
  return EpollWait(ctx, FdArg(ctx.arg(0)), ctx.arg(1), static_cast<int>(ctx.arg(2)),
                   AfterMillis(static_cast<int>(ctx.arg(3))), std::nullopt);
}

int64_t SysEpollPwait(SyscallContext& ctx) {
  std::optional<uint64_t> mask;
  if (int e = SigmaskArg(ctx.mem(), ctx.arg(4), ctx.arg(5), &mask); e != 0) return e;
  return EpollWait(ctx, FdArg(ctx.arg(0)), ctx.arg(1), static_cast<int>(ctx.arg(2)),
                   AfterMillis(static_cast<int>(ctx.arg(3))), mask);
}

int64_t SysEpollPwait2(SyscallContext& ctx) {
  Timeout timeout;
  if (int e = TimespecTimeout(ctx.mem(), ctx.arg(3), &timeout); e != 0) return e;
  std::optional<uint64_t> mask;
  if (int e = SigmaskArg(ctx.mem(), ctx.arg(4), ctx.arg(5), &mask); e != 0) return e;
  return EpollWait(ctx, FdArg(ctx.arg(0)), ctx.arg(1), static_cast<int>(ctx.arg(2)), timeout,
                   mask);
}

}  // namespace km
