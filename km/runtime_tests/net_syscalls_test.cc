// poll, select, epoll, eventfd, timerfd and socket handlers on real host descriptors: what a
// payload may not do (name km's own fds, pass bad pointers, lengths or control messages) and
// what they hand back.
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <utility>

#include "gtest/gtest.h"
#include "km/runtime/guest_thread.h"
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

  // Two guest fds made by pipe2 or socketpair (which write them at kData + 0xf000).
  std::pair<int, int> GuestPipe(int flags = O_NONBLOCK) {
    EXPECT_EQ(Call(SYS_pipe2, kData + 0xf000, flags), 0);
    return Get<std::pair<int, int>>(kData + 0xf000);
  }
  std::pair<int, int> GuestSocketpair(int type) {
    EXPECT_EQ(Call(SYS_socketpair, AF_UNIX, type, 0, kData + 0xf000), 0);
    return Get<std::pair<int, int>>(kData + 0xf000);
  }

  bool SigpipePending() {
    return (process_->main_thread()->PendingSignals() & SignalBit(SIGPIPE)) != 0;
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

TEST_F(NetSyscallsTest, OnlyUnixAndInetFamilies) {
  EXPECT_EQ(Call(SYS_socket, AF_NETLINK, SOCK_RAW, 0), -EAFNOSUPPORT);
  EXPECT_EQ(Call(SYS_socket, AF_PACKET, SOCK_RAW, 0), -EAFNOSUPPORT);
  EXPECT_EQ(Call(SYS_socket, AF_VSOCK, SOCK_STREAM, 0), -EAFNOSUPPORT);
  EXPECT_EQ(Call(SYS_socketpair, AF_NETLINK, SOCK_RAW, 0, kData), -EAFNOSUPPORT);
  EXPECT_EQ(Call(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, kReadOnly), -EFAULT);
  for (int family : {AF_UNIX, AF_INET, AF_INET6}) {
    const int64_t fd = Call(SYS_socket, family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd, 0) << family;
    EXPECT_EQ(Call(SYS_close, fd), 0);
  }
}

TEST_F(NetSyscallsTest, AddressesAreCheckedAndCopiedWithTheirLengths) {
  const int64_t fd = Call(SYS_socket, AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in loopback = {};
  loopback.sin_family = AF_INET;
  loopback.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const uint64_t addr = Put(0, loopback);
  EXPECT_EQ(Call(SYS_bind, fd, addr, sizeof(sockaddr_storage) + 1), -EINVAL);
  EXPECT_EQ(Call(SYS_bind, fd, addr, static_cast<uint64_t>(-1)), -EINVAL);
  EXPECT_EQ(Call(SYS_bind, fd, 0x1000, sizeof loopback), -EFAULT);
  EXPECT_EQ(Call(SYS_bind, fd, addr, sizeof loopback), 0);

  const uint64_t out = kData + 0x100;
  const uint64_t len = Put(0x200, static_cast<int>(sizeof(sockaddr_in)));
  EXPECT_EQ(Call(SYS_getsockname, fd, out, len), 0);
  const auto bound = Get<sockaddr_in>(out);
  EXPECT_EQ(bound.sin_family, AF_INET);
  EXPECT_NE(bound.sin_port, 0);
  // A short buffer gets what fits and the full length.
  Put(0x100, std::array<uint8_t, 16>{});
  Put(0x200, 4);
  EXPECT_EQ(Call(SYS_getsockname, fd, out, len), 0);
  EXPECT_EQ(Get<int>(len), static_cast<int>(sizeof(sockaddr_in)));
  EXPECT_EQ(Get<sockaddr_in>(out).sin_port, bound.sin_port);
  EXPECT_EQ(Get<sockaddr_in>(out).sin_addr.s_addr, 0u);
  Put(0x200, -1);
  EXPECT_EQ(Call(SYS_getsockname, fd, out, len), -EINVAL);
  EXPECT_EQ(Call(SYS_getsockname, fd, out, 0x1000), -EFAULT);
  Put(0x200, 16);
  EXPECT_EQ(Call(SYS_getsockname, fd, kReadOnly, len), -EFAULT);
  EXPECT_EQ(Call(SYS_getpeername, fd, out, len), -ENOTCONN);

  // A datagram to itself, and where it came from.
  const uint64_t to = Put(0x300, bound);
  EXPECT_EQ(Call(SYS_sendto, fd, GuestString("ping", 0x400), 4, 0, to, sizeof bound), 4);
  Put(0x200, static_cast<int>(sizeof(sockaddr_in)));
  EXPECT_EQ(Call(SYS_recvfrom, fd, kData + 0x500, 16, 0, out, len), 4);
  EXPECT_EQ(Get<sockaddr_in>(out).sin_port, bound.sin_port);
  EXPECT_EQ(Call(SYS_sendto, fd, 0x1000, 4, 0, to, sizeof bound), -EFAULT);
  EXPECT_EQ(Call(SYS_sendto, fd, kData + 0x400, 4, 0, to, 1000), -EINVAL);
  EXPECT_EQ(Call(SYS_recvfrom, fd, kReadOnly, 16, MSG_DONTWAIT, 0, 0), -EFAULT);
  EXPECT_EQ(Call(SYS_close, fd), 0);
}

TEST_F(NetSyscallsTest, SocketCallsOnKmsOwnSocketAreEbadf) {
  int km_sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, km_sv), 0);
  const int s = km_sv[0];
  const uint64_t buf = GuestString("secret", 0x100);
  const uint64_t len = Put(0x200, 16);
  EXPECT_EQ(Call(SYS_bind, s, kData, 2), -EBADF);
  EXPECT_EQ(Call(SYS_connect, s, kData, 2), -EBADF);
  EXPECT_EQ(Call(SYS_listen, s, 1), -EBADF);
  EXPECT_EQ(Call(SYS_accept4, s, 0, 0, 0), -EBADF);
  EXPECT_EQ(Call(SYS_getsockname, s, kData, len), -EBADF);
  EXPECT_EQ(Call(SYS_getpeername, s, kData, len), -EBADF);
  EXPECT_EQ(Call(SYS_sendto, s, buf, 6, 0, 0, 0), -EBADF);
  EXPECT_EQ(Call(SYS_recvfrom, s, buf, 6, 0, 0, 0), -EBADF);
  EXPECT_EQ(Call(SYS_sendmsg, s, kData, 0), -EBADF);
  EXPECT_EQ(Call(SYS_recvmsg, s, kData, 0), -EBADF);
  EXPECT_EQ(Call(SYS_setsockopt, s, SOL_SOCKET, SO_RCVBUF, len, 4), -EBADF);
  EXPECT_EQ(Call(SYS_getsockopt, s, SOL_SOCKET, SO_RCVBUF, kData, len), -EBADF);
  EXPECT_EQ(Call(SYS_shutdown, s, SHUT_RDWR), -EBADF);
  char c;
  EXPECT_EQ(recv(km_sv[1], &c, 1, MSG_DONTWAIT), -1);
  EXPECT_EQ(errno, EAGAIN);  // nothing was sent, and the socket still works
  close(km_sv[0]);
  close(km_sv[1]);
}

// One control message as the kernel lays it out (glibc's cmsghdr ends in a flexible array).
template <typename T>
struct Cmsg {
  uint64_t len = CMSG_LEN(sizeof(T));
  int level = SOL_SOCKET;
  int type = 0;
  T data = {};
};

TEST_F(NetSyscallsTest, ControlMessagesKmDoesNotKnowAreEinval) {
  auto [a, b] = GuestSocketpair(SOCK_STREAM | SOCK_NONBLOCK);
  const uint64_t control = kData + 0x1000;
  const uint64_t msg = kData + 0x2000;
  auto send_with = [&](const void* bytes, size_t len, size_t controllen) {
    EXPECT_TRUE(mem().Write(control, bytes, len).ok());
    msghdr m = {};
    m.msg_iov = reinterpret_cast<iovec*>(kData + 0x900);
    m.msg_iovlen = 1;
    m.msg_control = reinterpret_cast<void*>(control);
    m.msg_controllen = controllen;
    Put(0x2000, m);
    return Call(SYS_sendmsg, a, msg, 0);
  };
  Put(0x900, iovec{reinterpret_cast<void*>(GuestString("x", 0x800)), 1});
  Cmsg<int> c;
  c.type = 0x77;  // no such type
  EXPECT_EQ(send_with(&c, sizeof c, sizeof c), -EINVAL);
  c.level = IPPROTO_IP;
  c.type = IP_TOS;
  EXPECT_EQ(send_with(&c, sizeof c, sizeof c), -EINVAL);
  c.level = SOL_SOCKET;
  c.type = SCM_RIGHTS;
  c.len = CMSG_LEN(sizeof(int)) + 64;  // past the buffer
  EXPECT_EQ(send_with(&c, sizeof c, sizeof c), -EINVAL);
  c.len = 4;  // shorter than its header
  EXPECT_EQ(send_with(&c, sizeof c, sizeof c), -EINVAL);
  c.len = CMSG_LEN(sizeof(int));
  c.data = km_pipe_[0];
  EXPECT_EQ(send_with(&c, sizeof c, sizeof c), -EBADF);
  c.data = 1000;
  EXPECT_EQ(send_with(&c, sizeof c, sizeof c), -EBADF);
  EXPECT_EQ(send_with(&c, sizeof c, 1ull << 40), -ENOBUFS);
  EXPECT_EQ(send_with(&c, 0, 16), -EINVAL);  // a header of zeros
  // Bad pointers in the header.
  msghdr m = {};
  m.msg_iov = reinterpret_cast<iovec*>(kData + 0x900);
  m.msg_iovlen = 1;
  m.msg_control = reinterpret_cast<void*>(0x1000);
  m.msg_controllen = 16;
  EXPECT_EQ(Call(SYS_sendmsg, a, Put(0x2000, m), 0), -EFAULT);
  m.msg_control = nullptr;
  m.msg_controllen = 0;
  m.msg_iovlen = 2000;
  EXPECT_EQ(Call(SYS_sendmsg, a, Put(0x2000, m), 0), -EMSGSIZE);
  m.msg_iovlen = 1;
  m.msg_iov = reinterpret_cast<iovec*>(0x1000);
  EXPECT_EQ(Call(SYS_sendmsg, a, Put(0x2000, m), 0), -EFAULT);
  m.msg_iov = reinterpret_cast<iovec*>(kData + 0x900);
  m.msg_name = reinterpret_cast<void*>(kData);
  m.msg_namelen = -1;
  EXPECT_EQ(Call(SYS_sendmsg, a, Put(0x2000, m), 0), -EINVAL);
  EXPECT_EQ(Call(SYS_sendmsg, a, 0x1000, 0), -EFAULT);
  // None of it was sent.
  EXPECT_EQ(Call(SYS_recvfrom, b, kData + 0x3000, 16, 0, 0, 0), -EAGAIN);
}

TEST_F(NetSyscallsTest, ScmRightsSendsGuestFdsAndReceivedOnesBecomeTheGuests) {
  auto [a, b] = GuestSocketpair(SOCK_STREAM);
  auto [r, w] = GuestPipe(0);
  Cmsg<int> c;
  c.type = SCM_RIGHTS;
  c.data = r;
  const uint64_t control = Put(0x1000, c);
  Put(0x900, iovec{reinterpret_cast<void*>(GuestString("x", 0x800)), 1});
  msghdr m = {};
  m.msg_iov = reinterpret_cast<iovec*>(kData + 0x900);
  m.msg_iovlen = 1;
  m.msg_control = reinterpret_cast<void*>(control);
  m.msg_controllen = sizeof c;
  EXPECT_EQ(Call(SYS_sendmsg, a, Put(0x2000, m), 0), 1);
  EXPECT_EQ(Call(SYS_close, r), 0);

  // Received into a read-only control buffer: refused before anything is taken.
  Put(0x1000, std::array<uint8_t, 32>{});
  Put(0xa00, iovec{reinterpret_cast<void*>(kData + 0xb00), 16});
  msghdr in = {};
  in.msg_iov = reinterpret_cast<iovec*>(kData + 0xa00);
  in.msg_iovlen = 1;
  in.msg_control = reinterpret_cast<void*>(kReadOnly);
  in.msg_controllen = 32;
  EXPECT_EQ(Call(SYS_recvmsg, b, Put(0x2000, in), 0), -EFAULT);
  in.msg_control = reinterpret_cast<void*>(control);
  EXPECT_EQ(Call(SYS_recvmsg, b, Put(0x2000, in), MSG_CMSG_CLOEXEC), 1);
  const auto back = Get<msghdr>(kData + 0x2000);
  EXPECT_EQ(back.msg_controllen, CMSG_SPACE(sizeof(int)));
  EXPECT_EQ(back.msg_flags & MSG_CTRUNC, 0);
  const auto got = Get<Cmsg<int>>(control);
  EXPECT_EQ(got.type, SCM_RIGHTS);
  const int passed = got.data;
  EXPECT_TRUE(process_->fds().Owns(passed));
  EXPECT_EQ(fcntl(passed, F_GETFD), FD_CLOEXEC);
  EXPECT_EQ(Call(SYS_write, w, GuestString("via", 0x300), 3), 3);
  EXPECT_EQ(Call(SYS_read, passed, kData + 0x400, 3), 3);
  EXPECT_EQ(Call(SYS_close, passed), 0);
}

TEST_F(NetSyscallsTest, CredentialsPassBothWays) {
  auto [a, b] = GuestSocketpair(SOCK_DGRAM);
  EXPECT_EQ(Call(SYS_setsockopt, b, SOL_SOCKET, SO_PASSCRED, Put(0x100, 1), 4), 0);
  Cmsg<ucred> c;
  c.type = SCM_CREDENTIALS;
  c.data = {getpid(), getuid(), getgid()};
  const uint64_t control = Put(0x1000, c);
  Put(0x900, iovec{reinterpret_cast<void*>(GuestString("x", 0x800)), 1});
  msghdr m = {};
  m.msg_iov = reinterpret_cast<iovec*>(kData + 0x900);
  m.msg_iovlen = 1;
  m.msg_control = reinterpret_cast<void*>(control);
  m.msg_controllen = sizeof c;
  EXPECT_EQ(Call(SYS_sendmsg, a, Put(0x2000, m), 0), 1);
  Put(0x1000, Cmsg<ucred>{});
  m.msg_controllen = sizeof c;
  EXPECT_EQ(Call(SYS_recvmsg, b, Put(0x2000, m), 0), 1);
  const auto got = Get<Cmsg<ucred>>(control);
  EXPECT_EQ(got.type, SCM_CREDENTIALS);
  EXPECT_EQ(got.data.pid, getpid());
  EXPECT_EQ(got.data.uid, getuid());
}

// A socket whose options were set outside km (one received from another process, say) may
// bring control messages km does not know: they are dropped, and the guest told so.
TEST_F(NetSyscallsTest, ControlMessagesKmDoesNotKnowAreDroppedOnReceipt) {
  auto [a, b] = GuestSocketpair(SOCK_DGRAM);
  const int on = 1;
  ASSERT_EQ(setsockopt(b, SOL_SOCKET, SO_TIMESTAMP, &on, sizeof on), 0);
  ASSERT_EQ(Call(SYS_sendto, a, GuestString("x", 0x800), 1, 0, 0, 0), 1);
  Put(0xa00, iovec{reinterpret_cast<void*>(kData + 0xb00), 16});
  msghdr in = {};
  in.msg_iov = reinterpret_cast<iovec*>(kData + 0xa00);
  in.msg_iovlen = 1;
  in.msg_control = reinterpret_cast<void*>(kData + 0x1000);
  in.msg_controllen = 64;
  EXPECT_EQ(Call(SYS_recvmsg, b, Put(0x2000, in), 0), 1);
  const auto back = Get<msghdr>(kData + 0x2000);
  EXPECT_EQ(back.msg_controllen, 0u);
  EXPECT_EQ(back.msg_flags & MSG_CTRUNC, MSG_CTRUNC);
}

TEST_F(NetSyscallsTest, SocketOptionsOutsideTheListAreRefused) {
  const int64_t fd = Call(SYS_socket, AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  // A filter program is a pointer the host would follow into km's memory.
  sock_filter code[1] = {{0x6, 0, 0, 0}};
  const sock_fprog prog = {1, code};
  EXPECT_EQ(Call(SYS_setsockopt, fd, SOL_SOCKET, SO_ATTACH_FILTER, Put(0, prog), sizeof prog),
            -ENOPROTOOPT);
  EXPECT_EQ(Call(SYS_setsockopt, fd, SOL_SOCKET, 76 /* SO_PASSPIDFD */, Put(0, 1), 4),
            -ENOPROTOOPT);
  const uint64_t len = Put(0x100, 4);
  EXPECT_EQ(Call(SYS_getsockopt, fd, IPPROTO_TCP, 35 /* TCP_ZEROCOPY_RECEIVE */, kData, len),
            -ENOPROTOOPT);
  EXPECT_EQ(Call(SYS_setsockopt, fd, IPPROTO_TCP, TCP_NODELAY, Put(0, 1), -1), -EINVAL);
  EXPECT_EQ(Call(SYS_setsockopt, fd, IPPROTO_TCP, TCP_NODELAY, 0x1000, 4), -EFAULT);
  EXPECT_EQ(Call(SYS_setsockopt, fd, IPPROTO_TCP, TCP_NODELAY, Put(0, 1), 4), 0);
  Put(0, 0);
  EXPECT_EQ(Call(SYS_getsockopt, fd, IPPROTO_TCP, TCP_NODELAY, kData, len), 0);
  EXPECT_EQ(Get<int>(kData), 1);
  EXPECT_EQ(Get<int>(len), 4);
  EXPECT_EQ(Call(SYS_getsockopt, fd, IPPROTO_TCP, TCP_NODELAY, kData, 0x1000), -EFAULT);
  EXPECT_EQ(Call(SYS_getsockopt, fd, IPPROTO_TCP, TCP_NODELAY, kReadOnly, len), -EFAULT);
  Put(0x100, -1);
  EXPECT_EQ(Call(SYS_getsockopt, fd, IPPROTO_TCP, TCP_NODELAY, kData, len), -EINVAL);
  EXPECT_EQ(Call(SYS_close, fd), 0);
}

TEST_F(NetSyscallsTest, SendOnABrokenStreamRaisesSigpipeUnlessAskedNot) {
  auto [a, b] = GuestSocketpair(SOCK_STREAM);
  ASSERT_EQ(Call(SYS_close, b), 0);
  const uint64_t buf = GuestString("x", 0x100);
  EXPECT_EQ(Call(SYS_sendto, a, buf, 1, MSG_NOSIGNAL, 0, 0), -EPIPE);
  EXPECT_FALSE(SigpipePending());
  EXPECT_EQ(Call(SYS_sendto, a, buf, 1, 0, 0, 0), -EPIPE);
  EXPECT_TRUE(SigpipePending());

}

TEST_F(NetSyscallsTest, SendOnABrokenSeqpacketSocketRaisesNoSigpipe) {
  auto [a, b] = GuestSocketpair(SOCK_SEQPACKET);
  ASSERT_EQ(Call(SYS_close, b), 0);
  EXPECT_EQ(Call(SYS_sendto, a, GuestString("x", 0x100), 1, 0, 0, 0), -EPIPE);
  EXPECT_FALSE(SigpipePending());  // as on Linux: only streams raise it
}

}  // namespace
}  // namespace km
