// Sockets: AF_UNIX, AF_INET and AF_INET6 sockets are host sockets, the guest's in FdTable like
// any fd. Addresses and option values are copied through km with their lengths checked; message
// headers are rebuilt with host iovecs into guest memory. Control messages are limited to those
// km understands: SCM_RIGHTS, whose fds must be the guest's going out and become the guest's
// coming in, and SCM_CREDENTIALS. Calls that may block are cut short by a signal like a read.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

#include "km/syscalls/guest_io.h"
#include "km/syscalls/handlers.h"
#include "km/syscalls/sys_common.h"

namespace km {
namespace {

bool FamilySupported(int domain) {
  return domain == AF_UNIX || domain == AF_INET || domain == AF_INET6;
}

// Linux's move_addr_to_kernel: an address of len bytes at gva (the kernel reads an int).
int AddressIn(const GuestMemory& mem, uint64_t gva, int len, sockaddr_storage* addr) {
  if (len < 0 || static_cast<size_t>(len) > sizeof(sockaddr_storage)) return -EINVAL;
  return CopyInBytes(mem, gva, addr, len);
}

// Linux's move_addr_to_user: as much of an address of klen bytes as the guest's length at
// len_gva allows, to gva, then klen to len_gva (telling the guest if it was cut).
int AddressOut(const GuestMemory& mem, const sockaddr_storage& addr, socklen_t klen, uint64_t gva,
               uint64_t len_gva) {
  int len;
  if (int e = CopyIn(mem, len_gva, &len); e != 0) return e;
  len = std::min<int64_t>(len, std::min<size_t>(klen, sizeof addr));
  if (len < 0) return -EINVAL;
  if (int e = CopyOutBytes(mem, gva, &addr, len); e != 0) return e;
  return CopyOut(mem, len_gva, static_cast<int>(klen));
}

// Whether the socket has a timeout for receiving (SO_RCVTIMEO) or sending (SO_SNDTIMEO).
bool HasTimeout(int fd, int optname) {
  struct timeval tv = {};
  socklen_t len = sizeof tv;
  return ::getsockopt(fd, SOL_SOCKET, optname, &tv, &len) == 0 && (tv.tv_sec | tv.tv_usec) != 0;
}

// A socket call that may block, waiting to receive (timeout_opt SO_RCVTIMEO: accept, recv) or
// to send (SO_SNDTIMEO: connect, send). Cut short by a signal, it starts over after an
// SA_RESTART handler, unless the socket has a timeout for that direction: then Linux returns
// EINTR.
int64_t SocketCall(SyscallContext& ctx, int fd, int timeout_opt, int64_t nr, uint64_t a2,
                   uint64_t a3 = 0, uint64_t a4 = 0) {
  const int64_t r = BlockingHostCall(ctx, nr, static_cast<uint64_t>(fd), a2, a3, a4);
  if (ctx.interrupted && HasTimeout(fd, timeout_opt)) ctx.restartable = false;
  return r;
}

// The host never sends km SIGPIPE (MSG_NOSIGNAL); the guest gets it as Linux sends it, for a
// stream socket whose other end is gone, unless it asked not to.
int64_t Send(SyscallContext& ctx, int fd, const msghdr& msg, int flags) {
  const int64_t r =
      SocketCall(ctx, fd, SO_SNDTIMEO, SYS_sendmsg, Ptr(&msg),
                 static_cast<uint32_t>(flags | MSG_NOSIGNAL));
  if (r == -EPIPE && (flags & MSG_NOSIGNAL) == 0) {
    int type = 0;
    socklen_t len = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM) {
      RaiseSigpipe(ctx);
    }
  }
  return r;
}

// struct msghdr as the x86-64 kernel reads it, its pointers guest addresses.
struct GuestMsghdr {
  uint64_t name;
  int32_t namelen;
  uint32_t pad0;
  uint64_t iov;
  uint64_t iovlen;
  uint64_t control;
  uint64_t controllen;
  int32_t flags;
  uint32_t pad1;
};
static_assert(sizeof(GuestMsghdr) == sizeof(msghdr));

// The most control bytes km takes or hands over in one call: far above what Linux allows a
// sender (net.core.optmem_max) and what any control message needs.
constexpr uint64_t kMaxControl = 1 << 20;

// A guest msghdr rebuilt for the host.
struct HostMessage {
  msghdr msg = {};
  sockaddr_storage addr;
  std::vector<iovec> iov;
  std::vector<uint8_t> control;
  std::vector<FdTable::Ref> held;  // the fds an SCM_RIGHTS sends, until the host has them
};

// Linux's copy_msghdr_from_user: the name (copied in when sending, room for it when receiving)
// and the iovecs. A name longer than any address is cut to sockaddr_storage, as Linux does.
int MessageIn(const GuestMemory& mem, const GuestMsghdr& g, bool sending, HostMessage* out) {
  const int namelen = g.name == 0 ? 0 : g.namelen;
  if (namelen < 0) return -EINVAL;
  if (namelen > 0) {
    const int len = std::min<int>(namelen, sizeof(sockaddr_storage));
    if (sending) {
      if (int e = AddressIn(mem, g.name, len, &out->addr); e != 0) return e;
    }
    out->msg.msg_name = &out->addr;
    out->msg.msg_namelen = sending ? len : sizeof(sockaddr_storage);
  }
  if (g.iovlen > IOV_MAX) return -EMSGSIZE;
  if (int e = GuestIovecArray(mem, g.iov, g.iovlen, sending ? Access::kRead : Access::kWrite,
                              &out->iov);
      e != 0) {
    return e;
  }
  out->msg.msg_iov = out->iov.data();
  out->msg.msg_iovlen = out->iov.size();
  return 0;
}

// Walks control messages as Linux's __scm_send does: each header must fit and lie within the
// buffer, else EINVAL. f(header, offset of the message) returns 0 or -errno.
template <typename F>
int ForEachCmsg(const std::vector<uint8_t>& control, size_t end, F f) {
  for (size_t at = 0; at + sizeof(cmsghdr) <= end;) {
    cmsghdr h;
    std::memcpy(&h, control.data() + at, sizeof h);
    if (h.cmsg_len < sizeof h || h.cmsg_len > end - at) return -EINVAL;
    if (int e = f(h, at); e != 0) return e;
    at += CMSG_ALIGN(h.cmsg_len);
  }
  return 0;
}

// The fds of an SCM_RIGHTS message at offset `at`.
std::vector<int> RightsFds(const std::vector<uint8_t>& control, size_t at, const cmsghdr& h) {
  std::vector<int> fds((h.cmsg_len - CMSG_LEN(0)) / sizeof(int));
  std::memcpy(fds.data(), control.data() + at + CMSG_LEN(0), fds.size() * sizeof(int));
  return fds;
}

// sendmsg's control messages, copied into km and checked: SCM_RIGHTS, whose fds must be the
// guest's (held until the host has them), and SCM_CREDENTIALS (the host checks them) pass; any
// other is EINVAL rather than bytes km did not look at.
int ControlIn(SyscallContext& ctx, const GuestMsghdr& g, HostMessage* out) {
  if (g.controllen == 0) return 0;
  if (g.controllen > kMaxControl) return -ENOBUFS;
  out->control.resize(g.controllen);
  if (int e = CopyInBytes(ctx.mem(), g.control, out->control.data(), g.controllen); e != 0) {
    return e;
  }
  int e = ForEachCmsg(out->control, out->control.size(), [&](const cmsghdr& h, size_t at) {
    if (h.cmsg_level != SOL_SOCKET) return -EINVAL;
    if (h.cmsg_type == SCM_CREDENTIALS) return 0;
    if (h.cmsg_type != SCM_RIGHTS) return -EINVAL;
    for (int fd : RightsFds(out->control, at, h)) {
      FdTable::Ref ref;
      if (ctx.process.fds().Acquire(fd, &ref) != 0) return -EBADF;
      out->held.push_back(std::move(ref));
    }
    return 0;
  });
  if (e != 0) return e;
  out->msg.msg_control = out->control.data();
  out->msg.msg_controllen = out->control.size();
  return 0;
}

// SCM_PIDFD (Linux 6.5; not in every header): a pidfd, for a socket with SO_PASSPIDFD.
constexpr int kScmPidfd = 4;

// recvmsg's control messages, from the host's buffer to the guest's: the fds an SCM_RIGHTS
// brought become the guest's, SCM_CREDENTIALS passes. Any other (which no socket option km
// allows asks for, but a socket received from elsewhere may) is dropped and reported as
// MSG_CTRUNC. Returns the bytes written, or -errno.
int64_t ControlOut(SyscallContext& ctx, const HostMessage& in, uint64_t gva, int* flags) {
  const size_t used = in.msg.msg_controllen;
  std::vector<uint8_t> kept;
  std::vector<int> fds;
  // A message the host had to cut (MSG_CTRUNC already says so) ends the walk.
  ForEachCmsg(in.control, used, [&](const cmsghdr& h, size_t at) {
    const size_t span = std::min(CMSG_ALIGN(h.cmsg_len), used - at);
    const bool rights = h.cmsg_level == SOL_SOCKET && h.cmsg_type == SCM_RIGHTS;
    if (rights || (h.cmsg_level == SOL_SOCKET && h.cmsg_type == SCM_CREDENTIALS)) {
      kept.insert(kept.end(), in.control.begin() + at, in.control.begin() + at + span);
      if (rights) {
        std::vector<int> more = RightsFds(in.control, at, h);
        fds.insert(fds.end(), more.begin(), more.end());
      }
    } else {
      if (h.cmsg_level == SOL_SOCKET && h.cmsg_type == kScmPidfd) {
        for (int fd : RightsFds(in.control, at, h)) ::close(fd);
      }
      *flags |= MSG_CTRUNC;
    }
    return 0;
  });
  if (int e = CopyOutBytes(ctx.mem(), gva, kept.data(), kept.size()); e != 0) {
    for (int fd : fds) ::close(fd);
    return e;
  }
  for (int fd : fds) ctx.process.fds().Adopt(fd);
  return static_cast<int64_t>(kept.size());
}

int64_t Accept(SyscallContext& ctx, int flags) {
  const int fd = FdArg(ctx.arg(0));
  if ((flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK)) != 0) return -EINVAL;
  return WithFd(ctx, fd, [&]() -> int64_t {
    sockaddr_storage addr;
    socklen_t len = sizeof addr;
    const int64_t r = SocketCall(ctx, fd, SO_RCVTIMEO, SYS_accept4, Ptr(&addr), Ptr(&len),
                                 static_cast<uint32_t>(flags));
    if (r < 0) return r;
    if (ctx.arg(1) != 0) {
      // As on Linux, an address the guest cannot take loses the connection.
      if (int e = AddressOut(ctx.mem(), addr, len, ctx.arg(1), ctx.arg(2)); e != 0) {
        ::close(static_cast<int>(r));
        return e;
      }
    }
    return AdoptNewFd(ctx, static_cast<int>(r));
  });
}

int64_t SocketName(SyscallContext& ctx, bool peer) {
  const int fd = FdArg(ctx.arg(0));
  return WithFd(ctx, fd, [&]() -> int64_t {
    sockaddr_storage addr;
    socklen_t len = sizeof addr;
    auto* sa = reinterpret_cast<sockaddr*>(&addr);
    if ((peer ? ::getpeername(fd, sa, &len) : ::getsockname(fd, sa, &len)) != 0) return -errno;
    return AddressOut(ctx.mem(), addr, len, ctx.arg(1), ctx.arg(2));
  });
}

// The socket options a payload may set and read: plain values, copied through. Any other could
// carry a pointer the host kernel would follow into km's own memory (SO_ATTACH_FILTER's
// program, TCP_ZEROCOPY_RECEIVE's address) or have the host hand over descriptors or control
// messages km does not track (SO_PASSPIDFD), so it is refused as unknown: ENOPROTOOPT.
struct SocketOption {
  int level;
  int name;
};
constexpr SocketOption kSocketOptions[] = {
    {SOL_SOCKET, SO_REUSEADDR},     {SOL_SOCKET, SO_REUSEPORT},
    {SOL_SOCKET, SO_KEEPALIVE},     {SOL_SOCKET, SO_BROADCAST},
    {SOL_SOCKET, SO_LINGER},        {SOL_SOCKET, SO_RCVBUF},
    {SOL_SOCKET, SO_SNDBUF},        {SOL_SOCKET, SO_RCVLOWAT},
    {SOL_SOCKET, SO_SNDLOWAT},      {SOL_SOCKET, SO_RCVTIMEO_OLD},
    {SOL_SOCKET, SO_SNDTIMEO_OLD},  {SOL_SOCKET, SO_RCVTIMEO_NEW},
    {SOL_SOCKET, SO_SNDTIMEO_NEW},  {SOL_SOCKET, SO_ERROR},
    {SOL_SOCKET, SO_TYPE},          {SOL_SOCKET, SO_DOMAIN},
    {SOL_SOCKET, SO_PROTOCOL},      {SOL_SOCKET, SO_ACCEPTCONN},
    {SOL_SOCKET, SO_PEERCRED},      {SOL_SOCKET, SO_PASSCRED},
    {SOL_SOCKET, SO_OOBINLINE},     {SOL_SOCKET, SO_PRIORITY},
    {SOL_SOCKET, SO_DONTROUTE},     {SOL_SOCKET, SO_BINDTODEVICE},
    {IPPROTO_TCP, TCP_NODELAY},     {IPPROTO_TCP, TCP_MAXSEG},
    {IPPROTO_TCP, TCP_CORK},        {IPPROTO_TCP, TCP_KEEPIDLE},
    {IPPROTO_TCP, TCP_KEEPINTVL},   {IPPROTO_TCP, TCP_KEEPCNT},
    {IPPROTO_TCP, TCP_SYNCNT},      {IPPROTO_TCP, TCP_LINGER2},
    {IPPROTO_TCP, TCP_DEFER_ACCEPT}, {IPPROTO_TCP, TCP_WINDOW_CLAMP},
    {IPPROTO_TCP, TCP_INFO},        {IPPROTO_TCP, TCP_QUICKACK},
    {IPPROTO_TCP, TCP_CONGESTION},  {IPPROTO_TCP, TCP_USER_TIMEOUT},
    {IPPROTO_TCP, TCP_FASTOPEN},    {IPPROTO_TCP, TCP_NOTSENT_LOWAT},
    {IPPROTO_IP, IP_TOS},           {IPPROTO_IP, IP_TTL},
    {IPPROTO_IP, IP_MULTICAST_IF},  {IPPROTO_IP, IP_MULTICAST_TTL},
    {IPPROTO_IP, IP_MULTICAST_LOOP}, {IPPROTO_IP, IP_ADD_MEMBERSHIP},
    {IPPROTO_IP, IP_DROP_MEMBERSHIP}, {IPPROTO_IPV6, IPV6_V6ONLY},
    {IPPROTO_IPV6, IPV6_UNICAST_HOPS}, {IPPROTO_IPV6, IPV6_MULTICAST_IF},
    {IPPROTO_IPV6, IPV6_MULTICAST_HOPS}, {IPPROTO_IPV6, IPV6_MULTICAST_LOOP},
    {IPPROTO_IPV6, IPV6_JOIN_GROUP}, {IPPROTO_IPV6, IPV6_LEAVE_GROUP},
    {IPPROTO_IPV6, IPV6_TCLASS},
};

bool OptionAllowed(int level, int name) {
  return std::any_of(std::begin(kSocketOptions), std::end(kSocketOptions),
                     [&](const SocketOption& o) { return o.level == level && o.name == name; });
}

// Larger than any allowed option's value (TCP_INFO's struct is the largest); the kernel reads
// or writes no more than its option's size, so a longer length changes nothing.
constexpr int kMaxOptionLen = 512;

}  // namespace

int64_t SysSocket(SyscallContext& ctx) {
  const int domain = static_cast<int>(ctx.arg(0));
  if (!FamilySupported(domain)) return -EAFNOSUPPORT;
  return AdoptNewFd(ctx, ::socket(domain, static_cast<int>(ctx.arg(1)),
                                  static_cast<int>(ctx.arg(2))));
}

int64_t SysSocketpair(SyscallContext& ctx) {
  const int domain = static_cast<int>(ctx.arg(0));
  if (!FamilySupported(domain)) return -EAFNOSUPPORT;
  int sv[2];
  if (::socketpair(domain, static_cast<int>(ctx.arg(1)), static_cast<int>(ctx.arg(2)), sv) != 0) {
    return -errno;
  }
  return AdoptNewFdPair(ctx, sv, ctx.arg(3));
}

int64_t SysBind(SyscallContext& ctx) {
  const int fd = FdArg(ctx.arg(0));
  return WithFd(ctx, fd, [&]() -> int64_t {
    sockaddr_storage addr;
    const int len = static_cast<int>(ctx.arg(2));
    if (int e = AddressIn(ctx.mem(), ctx.arg(1), len, &addr); e != 0) return e;
    return HostResult(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len));
  });
}

int64_t SysConnect(SyscallContext& ctx) {
  const int fd = FdArg(ctx.arg(0));
  return WithFd(ctx, fd, [&]() -> int64_t {
    sockaddr_storage addr;
    const int len = static_cast<int>(ctx.arg(2));
    if (int e = AddressIn(ctx.mem(), ctx.arg(1), len, &addr); e != 0) return e;
    return SocketCall(ctx, fd, SO_SNDTIMEO, SYS_connect, Ptr(&addr), static_cast<uint64_t>(len));
  });
}

int64_t SysListen(SyscallContext& ctx) {
  const int fd = FdArg(ctx.arg(0));
  return WithFd(ctx, fd, [&] { return HostResult(::listen(fd, static_cast<int>(ctx.arg(1)))); });
}

int64_t SysAccept(SyscallContext& ctx) { return Accept(ctx, 0); }
int64_t SysAccept4(SyscallContext& ctx) { return Accept(ctx, static_cast<int>(ctx.arg(3))); }

int64_t SysGetsockname(SyscallContext& ctx) { return SocketName(ctx, /*peer=*/false); }
int64_t SysGetpeername(SyscallContext& ctx) { return SocketName(ctx, /*peer=*/true); }

int64_t SysSendto(SyscallContext& ctx) {
  const int fd = FdArg(ctx.arg(0));
  return WithFd(ctx, fd, [&]() -> int64_t {
    HostMessage m;
    if (int e = GuestBufferIovecs(ctx.mem(), ctx.arg(1), ctx.arg(2), Access::kRead, &m.iov,
                                  IOV_MAX);
        e != 0) {
      return e;
    }
    m.msg.msg_iov = m.iov.data();
    m.msg.msg_iovlen = m.iov.size();
    if (ctx.arg(4) != 0) {
      const int len = static_cast<int>(ctx.arg(5));
      if (int e = AddressIn(ctx.mem(), ctx.arg(4), len, &m.addr); e != 0) return e;
      m.msg.msg_name = &m.addr;
      m.msg.msg_namelen = len;
    }
    return Send(ctx, fd, m.msg, static_cast<int>(ctx.arg(3)));
  });
}

int64_t SysRecvfrom(SyscallContext& ctx) {
  const int fd = FdArg(ctx.arg(0));
  return WithFd(ctx, fd, [&]() -> int64_t {
    HostMessage m;
    if (int e = GuestBufferIovecs(ctx.mem(), ctx.arg(1), ctx.arg(2), Access::kWrite, &m.iov,
                                  IOV_MAX);
        e != 0) {
      return e;
    }
    m.msg.msg_iov = m.iov.data();
    m.msg.msg_iovlen = m.iov.size();
    const uint64_t addr_gva = ctx.arg(4);
    if (addr_gva != 0) {
      m.msg.msg_name = &m.addr;
      m.msg.msg_namelen = sizeof m.addr;
    }
    const int64_t r = SocketCall(ctx, fd, SO_RCVTIMEO, SYS_recvmsg, Ptr(&m.msg),
                                 static_cast<uint32_t>(ctx.arg(3)));
    if (r < 0 || addr_gva == 0) return r;
    if (int e = AddressOut(ctx.mem(), m.addr, m.msg.msg_namelen, addr_gva, ctx.arg(5)); e != 0) {
      return e;
    }
    return r;
  });
}

int64_t SysSendmsg(SyscallContext& ctx) {
  const int fd = FdArg(ctx.arg(0));
  return WithFd(ctx, fd, [&]() -> int64_t {
    GuestMsghdr g;
    if (int e = CopyIn(ctx.mem(), ctx.arg(1), &g); e != 0) return e;
    HostMessage m;
    if (int e = MessageIn(ctx.mem(), g, /*sending=*/true, &m); e != 0) return e;
    if (int e = ControlIn(ctx, g, &m); e != 0) return e;
    m.msg.msg_flags = g.flags;
    return Send(ctx, fd, m.msg, static_cast<int>(ctx.arg(2)));
  });
}

int64_t SysRecvmsg(SyscallContext& ctx) {
  const int fd = FdArg(ctx.arg(0));
  const uint64_t msg_gva = ctx.arg(1);
  return WithFd(ctx, fd, [&]() -> int64_t {
    GuestMsghdr g;
    if (int e = CopyIn(ctx.mem(), msg_gva, &g); e != 0) return e;
    HostMessage m;
    if (int e = MessageIn(ctx.mem(), g, /*sending=*/false, &m); e != 0) return e;
    if (g.control != 0 && g.controllen != 0) {
      m.control.resize(std::min(g.controllen, kMaxControl));
      // Checked first: fds received cannot be given back to the sender.
      if (!ctx.mem().Check(g.control, m.control.size(), Access::kWrite).ok()) {
        return -EFAULT;
      }
      m.msg.msg_control = m.control.data();
      m.msg.msg_controllen = m.control.size();
    }
    const int64_t r = SocketCall(ctx, fd, SO_RCVTIMEO, SYS_recvmsg, Ptr(&m.msg),
                                 static_cast<uint32_t>(ctx.arg(2)));
    if (r < 0) return r;
    int flags = m.msg.msg_flags;
    const int64_t control_len = m.msg.msg_control == nullptr ? 0 : ControlOut(ctx, m, g.control,
                                                                               &flags);
    if (control_len < 0) return control_len;
    if (g.name != 0) {
      const socklen_t klen = m.msg.msg_name == nullptr ? 0 : m.msg.msg_namelen;
      if (int e = AddressOut(ctx.mem(), m.addr, klen, g.name,
                             msg_gva + offsetof(GuestMsghdr, namelen));
          e != 0) {
        return e;
      }
    }
    if (int e = CopyOut(ctx.mem(), msg_gva + offsetof(GuestMsghdr, flags), flags); e != 0) {
      return e;
    }
    if (int e = CopyOut(ctx.mem(), msg_gva + offsetof(GuestMsghdr, controllen),
                        static_cast<uint64_t>(control_len));
        e != 0) {
      return e;
    }
    return r;
  });
}

int64_t SysShutdown(SyscallContext& ctx) {
  const int fd = FdArg(ctx.arg(0));
  return WithFd(ctx, fd,
                [&] { return HostResult(::shutdown(fd, static_cast<int>(ctx.arg(1)))); });
}

int64_t SysSetsockopt(SyscallContext& ctx) {
  const int fd = FdArg(ctx.arg(0));
  const int level = static_cast<int>(ctx.arg(1));
  const int name = static_cast<int>(ctx.arg(2));
  const int len = static_cast<int>(ctx.arg(4));
  return WithFd(ctx, fd, [&]() -> int64_t {
    if (len < 0) return -EINVAL;
    if (!OptionAllowed(level, name)) return -ENOPROTOOPT;
    uint8_t value[kMaxOptionLen];
    const int n = std::min(len, kMaxOptionLen);
    if (int e = CopyInBytes(ctx.mem(), ctx.arg(3), value, n); e != 0) return e;
    return HostResult(::setsockopt(fd, level, name, value, n));
  });
}

int64_t SysGetsockopt(SyscallContext& ctx) {
  const int fd = FdArg(ctx.arg(0));
  const int level = static_cast<int>(ctx.arg(1));
  const int name = static_cast<int>(ctx.arg(2));
  return WithFd(ctx, fd, [&]() -> int64_t {
    int len;
    if (int e = CopyIn(ctx.mem(), ctx.arg(4), &len); e != 0) return e;
    if (len < 0) return -EINVAL;
    if (!OptionAllowed(level, name)) return -ENOPROTOOPT;
    uint8_t value[kMaxOptionLen];
    socklen_t n = std::min(len, kMaxOptionLen);
    if (::getsockopt(fd, level, name, value, &n) != 0) return -errno;
    n = std::min<socklen_t>(n, kMaxOptionLen);
    if (int e = CopyOutBytes(ctx.mem(), ctx.arg(3), value, n); e != 0) return e;
    return CopyOut(ctx.mem(), ctx.arg(4), static_cast<int>(n));
  });
}

}  // namespace km
