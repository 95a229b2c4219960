// poll, select, epoll, eventfd and timerfd handlers on real host descriptors: what a payload
// may not do (name km's own fds, pass bad pointers or lengths) and what they hand back.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <utility>

#include "gtest/gtest.h"
#include "km/runtime/signal_state.h"
#include "km/runtime_tests/syscalls_fixture.h"

namespace km {
namespace {

constexpr uint64_t kReadOnly = 0x500000;

class NetSyscallsTest : public SyscallsTest {
 protected:
  void SetUp() override {
    SyscallsTest::SetUp();
    ASSERT_TRUE(mem().Map(kReadOnly, 0x1000, kProtRead, RegionKind::kMmap, "ro").ok());
    ASSERT_EQ(pipe(km_pipe_), 0);  // km's own: never the guest's
  }
  void TearDown() override {
    close(km_pipe_[0]);
    close(km_pipe_[1]);
  }

  // Puts value in guest memory at kData + offset; returns its address.
  template <typename T>
  uint64_t Put(uint64_t offset, const T& value) {
    EXPECT_TRUE(mem().Write(kData + offset, &value, sizeof value).ok());
    return kData + offset;
  }
  template <typename T>
  T Get(uint64_t gva) {
    T value{};
    EXPECT_TRUE(mem().Read(gva, &value, sizeof value).ok());
    return value;
  }

  // Two guest fds made by pipe2 (which writes them at kData + 0xf000).
  std::pair<int, int> GuestPipe(int flags = O_NONBLOCK) {
    EXPECT_EQ(Call(SYS_pipe2, kData + 0xf000, flags), 0);
    return Get<std::pair<int, int>>(kData + 0xf000);
  }

  int km_pipe_[2];
};

TEST_F(NetSyscallsTest, PollMarksFdsNotTheGuestsPollnvalAndReturnsAtOnce) {
  auto [r, w] = GuestPipe();
  ASSERT_EQ(Call(SYS_write, w, GuestString("x", 0x100), 1), 1);
  const pollfd fds[4] = {{r, POLLIN, 0}, {km_pipe_[0], POLLIN, 0}, {-1, POLLIN, 0},
                         {1000, POLLIN, 0}};
  const uint64_t gva = Put(0, fds);
  EXPECT_EQ(Call(SYS_poll, gva, 4, static_cast<uint64_t>(-1)), 3);  // no wait: -1 is forever
  const auto back = Get<std::array<pollfd, 4>>(gva);
  EXPECT_EQ(back[0].revents, POLLIN);
  EXPECT_EQ(back[1].fd, km_pipe_[0]);
  EXPECT_EQ(back[1].revents, POLLNVAL);
  EXPECT_EQ(back[2].revents, 0);
  EXPECT_EQ(back[3].revents, POLLNVAL);
  // km's pipe was never polled for the guest: its data is still there.
  ASSERT_EQ(write(km_pipe_[1], "k", 1), 1);
  char c;
  EXPECT_EQ(read(km_pipe_[0], &c, 1), 1);
}

TEST_F(NetSyscallsTest, PollArgumentsAreChecked) {
  auto [r, w] = GuestPipe();
  const pollfd one = {r, POLLIN, 0};
  const uint64_t fds = Put(0, one);
  EXPECT_EQ(Call(SYS_poll, 0x1000, 1, 0), -EFAULT);
  EXPECT_EQ(Call(SYS_poll, kReadOnly, 1, 0), -EFAULT);  // revents cannot be written
  EXPECT_EQ(Call(SYS_poll, fds, 1u << 30, 0), -EINVAL);  // past RLIMIT_NOFILE
  EXPECT_EQ(Call(SYS_poll, fds, 1, 0), 0);
  const uint64_t mask = Put(0x100, uint64_t{0});
  const timespec bad = {0, 1000000000};
  EXPECT_EQ(Call(SYS_ppoll, fds, 1, Put(0x200, bad), mask, 8), -EINVAL);
  EXPECT_EQ(Call(SYS_ppoll, fds, 1, 0x1000, mask, 8), -EFAULT);
  const timespec zero = {0, 0};
  EXPECT_EQ(Call(SYS_ppoll, fds, 1, Put(0x200, zero), mask, 4), -EINVAL);
  EXPECT_EQ(Call(SYS_ppoll, fds, 1, Put(0x200, zero), 0x1000, 8), -EFAULT);
}

TEST_F(NetSyscallsTest, PpollTimesOutWritesBackWhatIsLeftAndRestoresTheMask) {
  auto [r, w] = GuestPipe();
  const pollfd one = {r, POLLIN, 0};
  const uint64_t fds = Put(0, one);
  ThreadSignalState& state = process_->main_thread()->signal_state();
  state.blocked = SignalBit(SIGUSR1);
  const uint64_t mask = Put(0x100, SignalBit(SIGUSR2) | SignalBit(SIGKILL));
  const timespec wait = {0, 20000000};
  const uint64_t ts = Put(0x200, wait);
  EXPECT_EQ(Call(SYS_ppoll, fds, 1, ts, mask, 8), 0);
  EXPECT_EQ(Get<timespec>(ts).tv_sec, 0);
  EXPECT_EQ(Get<timespec>(ts).tv_nsec, 0);
  EXPECT_EQ(state.blocked.load(), SignalBit(SIGUSR1));
  // Ready at once: the time left is most of what was given.
  ASSERT_EQ(Call(SYS_write, w, GuestString("x", 0x300), 1), 1);
  const timespec long_wait = {100, 0};
  Put(0x200, long_wait);
  EXPECT_EQ(Call(SYS_ppoll, fds, 1, ts, mask, 8), 1);
  EXPECT_GE(Get<timespec>(ts).tv_sec, 98);
  EXPECT_EQ(state.blocked.load(), SignalBit(SIGUSR1));
  EXPECT_EQ(Call(SYS_poll, fds, 1, 10), 1);
}

TEST_F(NetSyscallsTest, SelectRefusesFdsNotTheGuestsAndWritesBackTheTimeLeft) {
  auto [r, w] = GuestPipe();
  fd_set set;
  FD_ZERO(&set);
  FD_SET(km_pipe_[0], &set);
  const timeval zero = {0, 0};
  EXPECT_EQ(Call(SYS_select, km_pipe_[0] + 1, Put(0, set), 0, 0, Put(0x200, zero)), -EBADF);
  FD_ZERO(&set);
  FD_SET(900, &set);  // open nowhere
  EXPECT_EQ(Call(SYS_select, 901, Put(0, set), 0, 0, Put(0x200, zero)), -EBADF);
  // Bits at or past n are not looked at.
  EXPECT_EQ(Call(SYS_select, 900, Put(0, set), 0, 0, Put(0x200, zero)), 0);

  FD_ZERO(&set);
  FD_SET(r, &set);
  const uint64_t in = Put(0, set);
  const timeval wait = {0, 20000};
  const uint64_t tv = Put(0x200, wait);
  EXPECT_EQ(Call(SYS_select, r + 1, in, 0, 0, tv), 0);
  EXPECT_EQ(Get<timeval>(tv).tv_sec, 0);
  EXPECT_EQ(Get<timeval>(tv).tv_usec, 0);
  EXPECT_FALSE(FD_ISSET(r, &(set = Get<fd_set>(in))));

  ASSERT_EQ(Call(SYS_write, w, GuestString("x", 0x300), 1), 1);
  FD_ZERO(&set);
  FD_SET(r, &set);
  FD_SET(w, &set);
  Put(0, set);
  const timeval long_wait = {100, 0};
  Put(0x200, long_wait);
  EXPECT_EQ(Call(SYS_select, std::max(r, w) + 1, in, 0, 0, tv), 1);
  set = Get<fd_set>(in);
  EXPECT_TRUE(FD_ISSET(r, &set));
  EXPECT_FALSE(FD_ISSET(w, &set));
  EXPECT_GE(Get<timeval>(tv).tv_sec, 98);

  EXPECT_EQ(Call(SYS_select, -1, 0, 0, 0, 0), -EINVAL);
  EXPECT_EQ(Call(SYS_select, r + 1, 0x1000, 0, 0, tv), -EFAULT);
  const timeval negative = {0, -1};
  EXPECT_EQ(Call(SYS_select, r + 1, in, 0, 0, Put(0x200, negative)), -EINVAL);
  // pselect6: {mask, size} with a wrong size.
  const uint64_t sig[2] = {Put(0x400, uint64_t{0}), 4};
  EXPECT_EQ(Call(SYS_pselect6, r + 1, in, 0, 0, 0, Put(0x500, sig)), -EINVAL);
  EXPECT_EQ(Call(SYS_pselect6, r + 1, in, 0, 0, 0, 0x1000), -EFAULT);
  const uint64_t good_sig[2] = {kData + 0x400, 8};
  EXPECT_EQ(Call(SYS_pselect6, r + 1, in, 0, 0, 0, Put(0x500, good_sig)), 1);
}

TEST_F(NetSyscallsTest, EpollChecksBothFdsAndHandsBackTheGuestsData) {
  EXPECT_EQ(Call(SYS_epoll_create, 0), -EINVAL);
  EXPECT_EQ(Call(SYS_epoll_create1, 0x1234), -EINVAL);
  const int64_t ep = Call(SYS_epoll_create1, EPOLL_CLOEXEC);
  ASSERT_GE(ep, 0);
  const int km_ep = epoll_create1(0);
  ASSERT_GE(km_ep, 0);
  auto [r, w] = GuestPipe();
  epoll_event event = {};
  event.events = EPOLLIN;
  event.data.u64 = 0x1122334455667788;
  const uint64_t ev = Put(0, event);
  EXPECT_EQ(Call(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, km_pipe_[0], ev), -EBADF);
  EXPECT_EQ(Call(SYS_epoll_ctl, km_ep, EPOLL_CTL_ADD, r, ev), -EBADF);
  EXPECT_EQ(Call(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, r, 0x1000), -EFAULT);
  EXPECT_EQ(Call(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, r, ev), 0);
  epoll_event km_events[1];
  EXPECT_EQ(epoll_wait(km_ep, km_events, 1, 0), 0);  // nothing reached km's

  ASSERT_EQ(Call(SYS_write, w, GuestString("x", 0x300), 1), 1);
  const uint64_t out = kData + 0x1000;
  EXPECT_EQ(Call(SYS_epoll_wait, ep, out, 0, 0), -EINVAL);
  EXPECT_EQ(Call(SYS_epoll_wait, ep, out, -1, 0), -EINVAL);
  EXPECT_EQ(Call(SYS_epoll_wait, ep, kReadOnly, 1, 0), -EFAULT);
  EXPECT_EQ(Call(SYS_epoll_wait, km_ep, out, 1, 0), -EBADF);
  EXPECT_EQ(Call(SYS_epoll_wait, ep, out, 8, -1), 1);
  const auto got = Get<epoll_event>(out);
  EXPECT_EQ(got.events, static_cast<uint32_t>(EPOLLIN));
  EXPECT_EQ(got.data.u64, 0x1122334455667788u);
  const uint64_t mask = Put(0x100, uint64_t{0});
  EXPECT_EQ(Call(SYS_epoll_pwait, ep, out, 1, 0, mask, 4), -EINVAL);
  EXPECT_EQ(Call(SYS_epoll_pwait, ep, out, 1, 0, mask, 8), 1);
  const timespec wait = {0, 1000000};
  EXPECT_EQ(Call(SYS_epoll_pwait2, ep, out, 1, Put(0x200, wait), 0, 0), 1);
  EXPECT_EQ(Call(SYS_epoll_pwait2, ep, out, 1, 0x1000, 0, 0), -EFAULT);

  ASSERT_EQ(Call(SYS_read, r, kData + 0x300, 1), 1);
  EXPECT_EQ(Call(SYS_epoll_wait, ep, out, 1, 20), 0);  // times out
  EXPECT_EQ(Call(SYS_epoll_ctl, ep, EPOLL_CTL_DEL, r, 0), 0);
  close(km_ep);
}

TEST_F(NetSyscallsTest, EventfdAndTimerfdAreTheGuests) {
  const int64_t efd = Call(SYS_eventfd2, 3, EFD_NONBLOCK);
  ASSERT_GE(efd, 0);
  EXPECT_EQ(Call(SYS_write, efd, Put(0, uint64_t{4}), 8), 8);
  EXPECT_EQ(Call(SYS_read, efd, kData + 0x100, 8), 8);
  EXPECT_EQ(Get<uint64_t>(kData + 0x100), 7u);
  EXPECT_EQ(Call(SYS_read, efd, kData + 0x100, 8), -EAGAIN);
  EXPECT_EQ(Call(SYS_eventfd2, 0, 0x1234), -EINVAL);

  const int64_t tfd = Call(SYS_timerfd_create, CLOCK_MONOTONIC, 0);
  ASSERT_GE(tfd, 0);
  const itimerspec once = {{0, 0}, {0, 10000000}};
  EXPECT_EQ(Call(SYS_timerfd_settime, tfd, 0, 0x1000, 0), -EFAULT);
  EXPECT_EQ(Call(SYS_timerfd_settime, tfd, 0, Put(0, once), kReadOnly), -EFAULT);
  EXPECT_EQ(Call(SYS_timerfd_settime, tfd, 0, Put(0, once), kData + 0x100), 0);
  EXPECT_EQ(Call(SYS_timerfd_gettime, tfd, kReadOnly), -EFAULT);
  EXPECT_EQ(Call(SYS_read, tfd, kData + 0x200, 8), 8);
  EXPECT_EQ(Get<uint64_t>(kData + 0x200), 1u);
  EXPECT_EQ(Call(SYS_timerfd_gettime, tfd, kData + 0x300), 0);
  EXPECT_EQ(Get<itimerspec>(kData + 0x300).it_value.tv_nsec, 0);

  const int km_timer = timerfd_create(CLOCK_MONOTONIC, 0);
  ASSERT_GE(km_timer, 0);
  EXPECT_EQ(Call(SYS_timerfd_settime, km_timer, 0, Put(0, once), 0), -EBADF);
  EXPECT_EQ(Call(SYS_timerfd_gettime, km_timer, kData + 0x300), -EBADF);
  itimerspec untouched;
  ASSERT_EQ(timerfd_gettime(km_timer, &untouched), 0);
  EXPECT_EQ(untouched.it_value.tv_nsec, 0);
  close(km_timer);
}

}  // namespace
}  // namespace km
