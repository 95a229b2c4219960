// Sockets and waiting, as a Linux process sees them: descriptors passed over AF_UNIX, a server
// and a client on two threads, TCP and UDP on loopback with poll and epoll, select timing out,
// eventfd and timerfd, temporary signal masks (ppoll, pselect, epoll_pwait), SIGPIPE, and signals
// that cut blocking calls short or let them start over (SA_RESTART). Works in the directory
// argv[1] (its AF_UNIX socket file). Prints one line per behaviour, never a port, path, fd
// number or time, so that runs natively and under km print the same; exits 1 if a check failed.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int failures;

// Records a failed check; the line printed differs from the run it is compared with.
static int check(int ok, const char* what) {
  if (!ok) {
    printf("FAILED: %s: %s\n", what, strerror(errno));
    failures++;
  }
  return ok;
}

static const char* err_name(int rc, int err) {
  if (rc >= 0) return "ok";
  switch (err) {
    case EINTR: return "EINTR";
    case EPIPE: return "EPIPE";
    case EAGAIN: return "EAGAIN";
    case EBADF: return "EBADF";
    default: return strerror(err);
  }
}

static uint16_t port_of(int fd, int peer) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  struct sockaddr* sa = (struct sockaddr*)&a;
  int rc = peer ? getpeername(fd, sa, &len) : getsockname(fd, sa, &len);
  check(rc == 0 && len == sizeof a, peer ? "getpeername" : "getsockname");
  return ntohs(a.sin_port);
}

// A socket bound to 127.0.0.1 on a port the kernel picks.
static int loopback_socket(int type) {
  int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  check(fd >= 0, "socket");
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  check(bind(fd, (struct sockaddr*)&a, sizeof a) == 0, "bind loopback");
  return fd;
}

static struct sockaddr_in loopback_addr(uint16_t port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  return a;
}

static void scm_rights_and_credentials(void) {
  int sv[2], p[2];
  check(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
  check(pipe(p) == 0, "pipe");
  char byte = 'r';
  struct iovec iov = {&byte, 1};
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(struct ucred))];
  } u;
  memset(&u, 0, sizeof u);
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                     .msg_controllen = CMSG_SPACE(sizeof(int))};
  struct cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &p[0], sizeof(int));
  ssize_t sent = sendmsg(sv[0], &m, 0);
  close(p[0]);  // the one in flight keeps the pipe's read end open

  char got = 0;
  iov.iov_base = &got;
  memset(&u, 0, sizeof u);
  m.msg_controllen = sizeof u.buf;
  ssize_t received = recvmsg(sv[1], &m, MSG_CMSG_CLOEXEC);
  c = CMSG_FIRSTHDR(&m);
  int passed = -1;
  int rights = c != NULL && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
               c->cmsg_len == CMSG_LEN(sizeof(int));
  if (rights) memcpy(&passed, CMSG_DATA(c), sizeof(int));
  check(write(p[1], "through the pipe", 16) == 16, "write to the pipe");
  char buf[32] = {0};
  ssize_t n = passed >= 0 ? read(passed, buf, sizeof buf) : -1;
  printf("scm_rights: sent=%zd received=%zd byte=%c rights=%d cloexec=%d read=%zd \"%s\"\n", sent,
         received, got, rights, passed >= 0 && fcntl(passed, F_GETFD) == FD_CLOEXEC, n, buf);
  close(passed);
  close(p[1]);

  int on = 1;
  check(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0, "SO_PASSCRED");
  struct ucred me = {getpid(), getuid(), getgid()};
  iov.iov_base = &byte;
  memset(&u, 0, sizeof u);
  m.msg_controllen = CMSG_SPACE(sizeof me);
  c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_CREDENTIALS;
  c->cmsg_len = CMSG_LEN(sizeof me);
  memcpy(CMSG_DATA(c), &me, sizeof me);
  sent = sendmsg(sv[0], &m, 0);
  iov.iov_base = &got;
  memset(&u, 0, sizeof u);
  m.msg_controllen = sizeof u.buf;
  received = recvmsg(sv[1], &m, 0);
  c = CMSG_FIRSTHDR(&m);
  struct ucred them = {0};
  int creds = c != NULL && c->cmsg_type == SCM_CREDENTIALS;
  if (creds) memcpy(&them, CMSG_DATA(c), sizeof them);
  printf("scm_credentials: sent=%zd received=%zd creds=%d pid_is_self=%d uid_is_self=%d\n", sent,
         received, creds, them.pid == getpid(), them.uid == getuid());
  close(sv[0]);
  close(sv[1]);
}

struct unix_server {
  int listen_fd;
  char got[16];
  int peer_len;
  int cloexec;
};

static void* serve_unix(void* arg) {
  struct unix_server* s = arg;
  struct sockaddr_un peer;
  socklen_t len = sizeof peer;
  int fd = accept4(s->listen_fd, (struct sockaddr*)&peer, &len, SOCK_CLOEXEC);
  if (!check(fd >= 0, "accept4")) return NULL;
  s->peer_len = (int)len;
  s->cloexec = fcntl(fd, F_GETFD) == FD_CLOEXEC;
  check(recv(fd, s->got, 5, MSG_WAITALL) == 5, "server recv");
  check(send(fd, "world", 5, 0) == 5, "server send");
  close(fd);
  return NULL;
}

static void unix_stream(void) {
  const char* name = "km_net.sock";
  unlink(name);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strcpy(addr.sun_path, name);
  struct unix_server s = {.listen_fd = socket(AF_UNIX, SOCK_STREAM, 0)};
  check(bind(s.listen_fd, (struct sockaddr*)&addr, sizeof addr) == 0, "bind unix");
  check(listen(s.listen_fd, 4) == 0, "listen unix");
  pthread_t server;
  pthread_create(&server, NULL, serve_unix, &s);

  int c = socket(AF_UNIX, SOCK_STREAM, 0);
  check(connect(c, (struct sockaddr*)&addr, sizeof addr) == 0, "connect unix");
  check(send(c, "hello", 5, 0) == 5, "client send");
  char buf[16] = {0};
  ssize_t n = recv(c, buf, sizeof buf - 1, MSG_WAITALL);
  struct sockaddr_un mine, theirs;
  socklen_t mine_len = sizeof mine, theirs_len = sizeof theirs;
  check(getsockname(c, (struct sockaddr*)&mine, &mine_len) == 0, "getsockname unix");
  check(getpeername(c, (struct sockaddr*)&theirs, &theirs_len) == 0, "getpeername unix");
  pthread_join(server, NULL);
  printf("unix stream: server got \"%s\" peer_unnamed=%d cloexec=%d; client got %zd \"%s\" "
         "unnamed=%d peer=%s\n",
         s.got, s.peer_len == (int)sizeof(sa_family_t), s.cloexec, n, buf,
         mine_len == sizeof(sa_family_t), theirs.sun_path);
  close(c);
  close(s.listen_fd);
  check(unlink(name) == 0, "unlink the socket file");
}

static void tcp_loopback(void) {
  int l = loopback_socket(SOCK_STREAM | SOCK_NONBLOCK);
  int on = 1;
  check(setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == 0, "SO_REUSEADDR");
  check(listen(l, 4) == 0, "listen tcp");
  uint16_t port = port_of(l, 0);
  int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in to = loopback_addr(port);
  int rc = connect(c, (struct sockaddr*)&to, sizeof to);
  int connecting = rc == 0 || errno == EINPROGRESS;

  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 1};
  check(epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev) == 0, "epoll_ctl listener");
  struct epoll_event out[4];
  int ready = epoll_wait(ep, out, 4, 10000);
  int listener_ready = ready == 1 && out[0].data.u32 == 1;
  int a = accept4(l, NULL, NULL, SOCK_NONBLOCK);
  check(a >= 0, "accept tcp");

  struct pollfd pfd = {c, POLLOUT, 0};
  int writable = poll(&pfd, 1, 10000) == 1 && (pfd.revents & POLLOUT);
  int err = -1;
  socklen_t len = sizeof err;
  check(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len) == 0, "SO_ERROR");
  int nodelay = 0;
  check(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) == 0, "TCP_NODELAY");
  len = sizeof nodelay;
  check(getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len) == 0, "get TCP_NODELAY");
  printf("tcp: port_assigned=%d connecting=%d listener_ready=%d writable=%d so_error=%d "
         "nodelay=%d peer_matches=%d\n",
         port != 0, connecting, listener_ready, writable, err, nodelay,
         port_of(a, 1) == port_of(c, 0));

  check(send(c, "ping", 4, 0) == 4, "send ping");
  ev.data.u32 = 2;
  check(epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev) == 0, "epoll_ctl accepted");
  ready = epoll_wait(ep, out, 4, 10000);
  int data_ready = ready == 1 && out[0].data.u32 == 2;
  char buf[8] = {0};
  ssize_t n = recv(a, buf, sizeof buf - 1, 0);
  check(send(a, "pong", 4, 0) == 4, "send pong");
  pfd.events = POLLIN;
  int readable = poll(&pfd, 1, 10000) == 1 && (pfd.revents & POLLIN);
  char back[8] = {0};
  ssize_t m = recv(c, back, sizeof back - 1, 0);
  check(shutdown(c, SHUT_WR) == 0, "shutdown");
  struct pollfd apfd = {a, POLLIN, 0};
  poll(&apfd, 1, 10000);
  ssize_t eof = recv(a, buf, sizeof buf, 0);
  printf("tcp: data_ready=%d server got %zd \"%s\"; readable=%d client got %zd \"%s\"; eof=%zd\n",
         data_ready, n, buf, readable, m, back, eof);
  close(ep);
  close(a);
  close(c);
  close(l);
}

static void udp_loopback(void) {
  int a = loopback_socket(SOCK_DGRAM), b = loopback_socket(SOCK_DGRAM);
  struct sockaddr_in to = loopback_addr(port_of(b, 0));
  ssize_t sent = sendto(a, "datagram", 8, 0, (struct sockaddr*)&to, sizeof to);
  char buf[16] = {0};
  struct sockaddr_in from;
  socklen_t from_len = sizeof from;
  ssize_t n = recvfrom(b, buf, sizeof buf - 1, 0, (struct sockaddr*)&from, &from_len);
  printf("udp: sent=%zd got %zd \"%s\" from_sender=%d\n", sent, n, buf,
         from_len == sizeof from && ntohs(from.sin_port) == port_of(a, 0));

  struct iovec parts[2] = {{"scat", 4}, {"ter", 3}};
  struct msghdr m = {.msg_name = &to, .msg_namelen = sizeof to, .msg_iov = parts,
                     .msg_iovlen = 2};
  sent = sendmsg(a, &m, 0);
  char first[4], rest[16] = {0};
  struct iovec into[2] = {{first, sizeof first}, {rest, sizeof rest - 1}};
  struct msghdr r = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = into,
                     .msg_iovlen = 2};
  n = recvmsg(b, &r, 0);
  printf("udp: sendmsg=%zd recvmsg=%zd \"%.4s%s\" namelen_ok=%d flags=%d\n", sent, n, first, rest,
         r.msg_namelen == sizeof from, r.msg_flags);
  close(a);
  close(b);
}

static void select_timeout(void) {
  int p[2];
  check(pipe(p) == 0, "pipe");
  fd_set in;
  FD_ZERO(&in);
  FD_SET(p[0], &in);
  struct timeval tv = {0, 50000};
  int n = select(p[0] + 1, &in, NULL, NULL, &tv);
  printf("select: %d, timed out with the set cleared: %d\n", n, n == 0 && !FD_ISSET(p[0], &in));
  // The raw syscall tells what was left of the timeout (the C library's select hides it).
  FD_SET(p[0], &in);
  struct timeval raw = {0, 30000};
  n = syscall(SYS_select, p[0] + 1, &in, NULL, NULL, &raw);
  printf("raw select: %d, time left zero: %d\n", n, raw.tv_sec == 0 && raw.tv_usec == 0);
  check(write(p[1], "x", 1) == 1, "write");
  FD_SET(p[0], &in);
  raw = (struct timeval){100, 0};
  n = syscall(SYS_select, p[0] + 1, &in, NULL, NULL, &raw);
  printf("raw select on data: %d, readable: %d, most time left: %d\n", n, FD_ISSET(p[0], &in),
         raw.tv_sec >= 90);
  close(p[0]);
  close(p[1]);
}

static void eventfd_counter(void) {
  int e = eventfd(3, EFD_NONBLOCK | EFD_CLOEXEC);
  uint64_t v = 4;
  check(write(e, &v, sizeof v) == sizeof v, "eventfd write");
  struct pollfd pfd = {e, POLLIN, 0};
  int ready = poll(&pfd, 1, 0);
  ssize_t n = read(e, &v, sizeof v);
  errno = 0;
  ssize_t again = read(e, &v, sizeof v);
  printf("eventfd: ready=%d read %zd value=%llu, then %zd %s\n", ready, n, (unsigned long long)v,
         again, err_name((int)again, errno));

  int s = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
  uint64_t a = 0, b = 0;
  ssize_t ra = read(s, &a, sizeof a), rb = read(s, &b, sizeof b);
  errno = 0;
  ssize_t rc = read(s, &v, sizeof v);
  printf("eventfd semaphore: %zd:%llu %zd:%llu then %s\n", ra, (unsigned long long)a, rb,
         (unsigned long long)b, err_name((int)rc, errno));
  close(e);
  close(s);
}

static void timerfd_once(void) {
  int t = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
  struct itimerspec once = {{0, 0}, {0, 200000000}}, now;
  check(timerfd_settime(t, 0, &once, NULL) == 0, "timerfd_settime");
  check(timerfd_gettime(t, &now) == 0, "timerfd_gettime");
  int armed = now.it_value.tv_sec != 0 || now.it_value.tv_nsec != 0;
  uint64_t expirations = 0;
  ssize_t n = read(t, &expirations, sizeof expirations);
  check(timerfd_gettime(t, &now) == 0, "timerfd_gettime");
  printf("timerfd: armed=%d read %zd expirations=%llu disarmed=%d\n", armed, n,
         (unsigned long long)expirations, now.it_value.tv_sec == 0 && now.it_value.tv_nsec == 0);
  close(t);
}

static volatile sig_atomic_t usr2_hits;
static volatile sig_atomic_t usr2_blocked_in_handler;

static void on_usr2(int sig) {
  (void)sig;
  sigset_t now;
  sigprocmask(SIG_BLOCK, NULL, &now);
  usr2_blocked_in_handler = sigismember(&now, SIGUSR2);
  usr2_hits++;
}

// Each call's mask lets through a SIGUSR2 that is pending, blocked by the thread's own mask:
// the call returns EINTR, the handler runs, and the thread's mask is back afterwards.
static void temporary_masks(void) {
  struct sigaction sa = {.sa_handler = on_usr2};
  sigaction(SIGUSR2, &sa, NULL);
  sigset_t blocked, empty, now;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGUSR2);
  sigemptyset(&empty);
  sigprocmask(SIG_BLOCK, &blocked, NULL);
  int p[2];
  check(pipe(p) == 0, "pipe");
  struct pollfd pfd = {p[0], POLLIN, 0};
  struct timespec short_wait = {0, 20000000}, long_wait = {10, 0};

  raise(SIGUSR2);
  int rc = ppoll(&pfd, 1, &short_wait, &blocked);
  printf("ppoll, still blocked: %d hits=%d\n", rc, usr2_hits);
  errno = 0;
  rc = ppoll(&pfd, 1, &long_wait, &empty);
  sigprocmask(SIG_BLOCK, NULL, &now);
  printf("ppoll, let through: %d %s hits=%d blocked_in_handler=%d mask_back=%d\n", rc,
         err_name(rc, errno), usr2_hits, usr2_blocked_in_handler, sigismember(&now, SIGUSR2));

  raise(SIGUSR2);
  fd_set in;
  FD_ZERO(&in);
  FD_SET(p[0], &in);
  errno = 0;
  rc = pselect(p[0] + 1, &in, NULL, NULL, &long_wait, &empty);
  sigprocmask(SIG_BLOCK, NULL, &now);
  printf("pselect, let through: %d %s hits=%d mask_back=%d\n", rc, err_name(rc, errno), usr2_hits,
         sigismember(&now, SIGUSR2));

  raise(SIGUSR2);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN}, out;
  epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
  errno = 0;
  rc = epoll_pwait(ep, &out, 1, 10000, &empty);
  sigprocmask(SIG_BLOCK, NULL, &now);
  printf("epoll_pwait, let through: %d %s hits=%d mask_back=%d\n", rc, err_name(rc, errno),
         usr2_hits, sigismember(&now, SIGUSR2));
  sigprocmask(SIG_UNBLOCK, &blocked, NULL);
  close(ep);
  close(p[0]);
  close(p[1]);
}

static volatile sig_atomic_t pipe_hits;
static void on_pipe(int sig) {
  (void)sig;
  pipe_hits++;
}

static void sigpipe(void) {
  struct sigaction sa = {.sa_handler = on_pipe};
  sigaction(SIGPIPE, &sa, NULL);
  int sv[2];
  check(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
  close(sv[1]);
  errno = 0;
  int rc = (int)send(sv[0], "x", 1, MSG_NOSIGNAL);
  printf("send MSG_NOSIGNAL on a closed socket: %d %s sigpipe=%d\n", rc, err_name(rc, errno),
         pipe_hits);
  errno = 0;
  rc = (int)send(sv[0], "x", 1, 0);
  printf("send on a closed socket: %d %s sigpipe=%d\n", rc, err_name(rc, errno), pipe_hits);
  close(sv[0]);
}

// A thread blocked in a call while the main thread signals it.
static volatile sig_atomic_t usr1_hits;
static void on_usr1(int sig) {
  (void)sig;
  usr1_hits++;
}

enum blocker_kind { kPoll, kRecv, kRecvTimeout, kEpollWait };

struct blocker {
  enum blocker_kind kind;
  int fd;
  volatile int started;
  volatile int done;
  int rc;
  int err;
  char got[16];
};

static void* block(void* arg) {
  struct blocker* b = arg;
  struct pollfd pfd = {b->fd, POLLIN, 0};
  struct epoll_event out;
  b->started = 1;
  switch (b->kind) {
    case kPoll: b->rc = poll(&pfd, 1, 10000); break;
    case kRecv:
    case kRecvTimeout: b->rc = (int)recv(b->fd, b->got, sizeof b->got - 1, 0); break;
    case kEpollWait: b->rc = epoll_wait(b->fd, &out, 1, 10000); break;
  }
  b->err = errno;
  b->done = 1;
  return NULL;
}

static void sleep_ms(int ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

// Signals the blocked thread until its call returns (the first signal may come before it is in
// the call), for at most ten seconds.
static void signal_until_done(pthread_t t, struct blocker* b) {
  while (!b->started) sleep_ms(1);
  for (int i = 0; i < 500 && !b->done; i++) {
    pthread_kill(t, SIGUSR1);
    sleep_ms(20);
  }
}

static void interrupted_calls(void) {
  struct sigaction sa = {.sa_handler = on_usr1};
  sigaction(SIGUSR1, &sa, NULL);
  int p[2];
  check(pipe(p) == 0, "pipe");
  struct blocker b = {.kind = kPoll, .fd = p[0]};
  pthread_t t;
  pthread_create(&t, NULL, block, &b);
  signal_until_done(t, &b);
  pthread_join(t, NULL);
  printf("poll, handler without SA_RESTART: %d %s handler_ran=%d\n", b.rc, err_name(b.rc, b.err),
         usr1_hits > 0);

  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, NULL);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN};
  epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
  usr1_hits = 0;
  b = (struct blocker){.kind = kEpollWait, .fd = ep};
  pthread_create(&t, NULL, block, &b);
  signal_until_done(t, &b);
  pthread_join(t, NULL);
  printf("epoll_wait, handler with SA_RESTART: %d %s handler_ran=%d\n", b.rc,
         err_name(b.rc, b.err), usr1_hits > 0);

  int sv[2];
  check(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
  usr1_hits = 0;
  b = (struct blocker){.kind = kRecv, .fd = sv[1]};
  pthread_create(&t, NULL, block, &b);
  while (!b.started) sleep_ms(1);
  sleep_ms(100);  // well inside recv by now
  pthread_kill(t, SIGUSR1);
  for (int i = 0; i < 500 && usr1_hits == 0; i++) sleep_ms(10);
  sleep_ms(100);
  int still_blocked = !b.done;
  check(send(sv[0], "after", 5, 0) == 5, "send after the signal");
  pthread_join(t, NULL);
  printf("recv, handler with SA_RESTART: still blocked after it=%d, then %d \"%s\" "
         "handler_ran=%d\n",
         still_blocked, b.rc, b.got, usr1_hits > 0);

  // With a receive timeout, Linux does not restart it.
  struct timeval timeout = {10, 0};
  check(setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) == 0, "SO_RCVTIMEO");
  usr1_hits = 0;
  b = (struct blocker){.kind = kRecvTimeout, .fd = sv[1]};
  pthread_create(&t, NULL, block, &b);
  signal_until_done(t, &b);
  pthread_join(t, NULL);
  printf("recv with SO_RCVTIMEO, handler with SA_RESTART: %d %s handler_ran=%d\n", b.rc,
         err_name(b.rc, b.err), usr1_hits > 0);
  close(sv[0]);
  close(sv[1]);
  close(ep);
  close(p[0]);
  close(p[1]);
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: net DIR\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);  // each line out before the next step, to see where it stops
  if (chdir(argv[1]) != 0) {
    perror("chdir");
    return 2;
  }
  scm_rights_and_credentials();
  unix_stream();
  tcp_loopback();
  udp_loopback();
  select_timeout();
  eventfd_counter();
  timerfd_once();
  temporary_masks();
  sigpipe();
  interrupted_calls();
  printf("%d failures\n", failures);
  return failures == 0 ? 0 : 1;
}
