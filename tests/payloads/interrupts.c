// Signals that reach a thread blocked in a syscall, and the timers that send them: what Linux
// does with each (EINTR, a restart under SA_RESTART, the time left of a sleep) is printed, so
// a run under km must print exactly what a native run prints. Times printed are coarse
// (bounds, never durations) so that a slow machine prints the same.
//
//   interrupts          every check below, in order
//   interrupts wait     prints "ready", then waits for SIGTERM and SIGINT sent from outside
//   interrupts sigpipe  writes to a pipe nobody reads, with SIGPIPE's default action
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <poll.h>
#include <semaphore.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static atomic_int handled;     // handler runs since the last reset
static atomic_int handler_tid;  // the thread the last one ran on
static atomic_int worker_done;
static int pipe_fds[2];

static void on_signal(int signo) {
  (void)signo;
  atomic_fetch_add(&handled, 1);
  atomic_store(&handler_tid, (int)syscall(SYS_gettid));
}

static void handle(int signo, int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  sigaction(signo, &sa, NULL);
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static const char* describe(long r, int err) {
  static char buf[64];
  if (r >= 0) {
    snprintf(buf, sizeof buf, "returned %ld", r);
  } else {
    snprintf(buf, sizeof buf, "failed with %s", err == EINTR ? "EINTR" : strerror(err));
  }
  return buf;
}

// Keeps sending signo to `to` until the worker says it is done: a signal that lands just
// before the worker blocks finds nothing to interrupt, and the next one does.
static void signal_until_done(pthread_t to, int signo) {
  while (!atomic_load(&worker_done)) {
    pthread_kill(to, signo);
    sleep_ms(20);
  }
}

static void* read_once(void* arg) {
  (void)arg;
  char buf[16];
  long r = read(pipe_fds[0], buf, sizeof buf);
  printf("read without SA_RESTART: %s\n", describe(r, errno));
  atomic_store(&worker_done, 1);
  return NULL;
}

static void* read_restarted(void* arg) {
  (void)arg;
  char buf[16] = {0};
  long r = read(pipe_fds[0], buf, sizeof buf - 1);
  printf("read with SA_RESTART: %s \"%s\"\n", describe(r, errno), r > 0 ? buf : "");
  atomic_store(&worker_done, 1);
  return NULL;
}

static void* sleep_long(void* arg) {
  (void)arg;
  struct timespec req = {30, 0}, rem = {0, 0};
  long r = nanosleep(&req, &rem);
  // Only an upper bound: one native run under load was seen to report none left.
  printf("nanosleep: %s, %s\n", describe(r, errno),
         rem.tv_sec <= 30 && rem.tv_nsec < 1000000000 ? "time left at most 30 s" : "bad time left");
  atomic_store(&worker_done, 1);
  return NULL;
}

// `sleep infinity`'s request: the largest time there is.
static void* sleep_forever(void* arg) {
  (void)arg;
  struct timespec req = {LONG_MAX, 999999999}, rem = {0, 0};
  long r = nanosleep(&req, &rem);
  printf("nanosleep forever: %s, %s\n", describe(r, errno),
         rem.tv_sec > 365L * 86400 ? "more than a year left" : "less than a year left");
  atomic_store(&worker_done, 1);
  return NULL;
}

static sem_t sem;

static void* wait_sem(void* arg) {
  (void)arg;
  long r = sem_wait(&sem);
  printf("sem_wait without SA_RESTART: %s\n", describe(r, errno));
  atomic_store(&worker_done, 1);
  return NULL;
}

static void run_worker(void* (*body)(void*), int signo) {
  pthread_t t;
  atomic_store(&worker_done, 0);
  pthread_create(&t, NULL, body, NULL);
  signal_until_done(t, signo);
  pthread_join(t, NULL);
}

static void check_blocked_syscalls(void) {
  pipe(pipe_fds);
  handle(SIGUSR1, 0);
  run_worker(read_once, SIGUSR1);
  run_worker(sleep_long, SIGUSR1);
  run_worker(sleep_forever, SIGUSR1);
  sem_init(&sem, 0, 0);
  run_worker(wait_sem, SIGUSR1);

  // With SA_RESTART the read goes on after each handler, until data comes.
  handle(SIGUSR1, SA_RESTART);
  atomic_store(&handled, 0);
  atomic_store(&worker_done, 0);
  pthread_t t;
  pthread_create(&t, NULL, read_restarted, NULL);
  while (atomic_load(&handled) < 3) {
    pthread_kill(t, SIGUSR1);
    sleep_ms(20);
  }
  write(pipe_fds[1], "hello", 5);
  pthread_join(t, NULL);
  close(pipe_fds[0]);
  close(pipe_fds[1]);
}

static void* unblocked_worker(void* arg) {
  (void)arg;
  while (!atomic_load(&worker_done)) sleep_ms(5);
  return NULL;
}

// kill(getpid()) goes to a thread that does not block the signal.
static void check_process_directed(void) {
  handle(SIGUSR2, 0);
  atomic_store(&worker_done, 0);
  atomic_store(&handler_tid, 0);
  pthread_t t;
  pthread_create(&t, NULL, unblocked_worker, NULL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  kill(getpid(), SIGUSR2);
  while (atomic_load(&handler_tid) == 0) sleep_ms(5);
  printf("kill(getpid()) with SIGUSR2 blocked in main: handled by %s\n",
         atomic_load(&handler_tid) == (int)getpid() ? "main" : "the other thread");
  atomic_store(&worker_done, 1);
  pthread_join(t, NULL);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

static void* sigwait_later(void* arg) {
  (void)arg;
  sleep_ms(200);  // the signal comes first, and waits for the payload meanwhile
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGHUP);
  int got = 0;
  sigwait(&set, &got);
  printf("the signal thread's sigwait got %s\n", got == SIGHUP ? "SIGHUP" : "something else");
  return NULL;
}

// A daemon's way: every thread blocks the signal, one thread takes it with sigwait.
static void check_signal_thread(void) {
  sigset_t set, pending;
  sigemptyset(&set);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  pthread_t t;
  pthread_create(&t, NULL, sigwait_later, NULL);
  kill(getpid(), SIGHUP);
  sigpending(&pending);
  printf("kill(getpid(), SIGHUP) with every thread blocking it: pending in main %s\n",
         sigismember(&pending, SIGHUP) ? "yes" : "no");
  pthread_join(t, NULL);
  sigpending(&pending);
  printf("after the sigwait: pending in main %s\n", sigismember(&pending, SIGHUP) ? "yes" : "no");
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

// The race-free wait: a signal blocked until the wait, pending already, and a wait whose own
// mask lets it in must fail with EINTR at once (after the handler), not wait its whole timeout.
static void check_waits_that_unblock(void) {
  handle(SIGUSR1, SA_RESTART);
  sigset_t usr1, none, after;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  sigemptyset(&none);
  pthread_sigmask(SIG_BLOCK, &usr1, NULL);

  atomic_store(&handled, 0);
  raise(SIGUSR1);
  struct timespec ten_s = {10, 0};
  long r = ppoll(NULL, 0, &ten_s, &none);
  pthread_sigmask(SIG_BLOCK, NULL, &after);
  printf("ppoll unblocking a pending signal: %s, handled %d, blocked again %s\n",
         describe(r, errno), atomic_load(&handled), sigismember(&after, SIGUSR1) ? "yes" : "no");

  atomic_store(&handled, 0);
  raise(SIGUSR1);
  r = pselect(0, NULL, NULL, NULL, &ten_s, &none);
  printf("pselect unblocking a pending signal: %s, handled %d\n", describe(r, errno),
         atomic_load(&handled));

  pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
}

static int blocking_sfd;

static void* read_signalfd(void* arg) {
  (void)arg;
  struct signalfd_siginfo si;
  long r = read(blocking_sfd, &si, sizeof si);
  printf("a blocking signalfd read: %s, signal %s, code %s\n", describe(r, errno),
         si.ssi_signo == SIGUSR1 ? "SIGUSR1" : "other", si.ssi_code == SI_USER ? "SI_USER" : "other");
  return NULL;
}

// Signals read from a descriptor, waited for with poll and epoll like any other.
static void check_signalfd(void) {
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &usr1, NULL);
  int sfd = signalfd(-1, &usr1, SFD_NONBLOCK | SFD_CLOEXEC);
  struct signalfd_siginfo si;
  long r = read(sfd, &si, sizeof si);
  printf("signalfd read with nothing pending: %s\n", describe(r, errno));
  r = read(sfd, &si, 16);
  printf("signalfd read into 16 bytes: %s\n", describe(r, errno));
  struct pollfd p = {sfd, POLLIN, 0};
  printf("poll with nothing pending: %d\n", poll(&p, 1, 0));

  raise(SIGUSR1);
  int ready = poll(&p, 1, 1000);
  printf("poll after raise: %d, revents POLLIN %s\n", ready, (p.revents & POLLIN) ? "yes" : "no");
  memset(&si, 0, sizeof si);
  r = read(sfd, &si, sizeof si);
  printf("signalfd read: %s, signal %s, code %s, pid is mine %s\n", describe(r, errno),
         si.ssi_signo == SIGUSR1 ? "SIGUSR1" : "other", si.ssi_code == SI_TKILL ? "SI_TKILL" : "other",
         si.ssi_pid == (uint32_t)getpid() ? "yes" : "no");
  printf("poll after the read: %d\n", poll(&p, 1, 0));

  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7};
  epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
  sigqueue(getpid(), SIGUSR1, (union sigval){.sival_int = 1234});
  struct epoll_event out;
  int n = epoll_wait(ep, &out, 1, 1000);
  printf("epoll_wait after sigqueue: %d, data %u\n", n, n == 1 ? out.data.u32 : 0);
  memset(&si, 0, sizeof si);
  r = read(sfd, &si, sizeof si);
  printf("signalfd read: %s, code %s, ssi_int %d\n", describe(r, errno),
         si.ssi_code == SI_QUEUE ? "SI_QUEUE" : "other", si.ssi_int);
  close(ep);

  sigset_t none;
  sigemptyset(&none);
  r = signalfd(0, &none, 0);
  printf("signalfd(0, ...), stdin not a signalfd: %s\n", describe(r, errno));
  close(sfd);

  blocking_sfd = signalfd(-1, &usr1, 0);
  pthread_t t;
  pthread_create(&t, NULL, read_signalfd, NULL);
  sleep_ms(50);
  kill(getpid(), SIGUSR1);
  pthread_join(t, NULL);
  close(blocking_sfd);
  pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
}

static atomic_int queued_value, queued_code;

static void on_queued(int signo, siginfo_t* info, void* uc) {
  (void)signo;
  (void)uc;
  atomic_store(&queued_value, info->si_value.sival_int);
  atomic_store(&queued_code, info->si_code);
}

static void check_sigqueue(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_queued;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR2, &sa, NULL);
  sigqueue(getpid(), SIGUSR2, (union sigval){.sival_int = 99});
  while (atomic_load(&queued_code) == 0) sleep_ms(5);
  printf("sigqueue: si_code %s, si_value %d\n",
         atomic_load(&queued_code) == SI_QUEUE ? "SI_QUEUE" : "other", atomic_load(&queued_value));
}

static void check_alarm(void) {
  handle(SIGALRM, 0);
  atomic_store(&handled, 0);
  printf("alarm(5) then alarm(1) returns %u\n", (alarm(5), alarm(1)));
  int fds[2];
  pipe(fds);
  char c;
  long r = read(fds[0], &c, 1);
  printf("read until the alarm: %s, SIGALRM handled %d time(s)\n", describe(r, errno),
         atomic_load(&handled));
  printf("alarm(0) after it fired returns %u\n", alarm(0));
  close(fds[0]);
  close(fds[1]);

  // A periodic ITIMER_REAL: pause() returns after each expiry.
  struct itimerval every = {{0, 20000}, {0, 20000}};
  setitimer(ITIMER_REAL, &every, NULL);
  atomic_store(&handled, 0);
  int pauses = 0;
  while (atomic_load(&handled) < 3) {
    pause();
    pauses++;
  }
  struct itimerval off = {{0, 0}, {0, 0}}, was;
  setitimer(ITIMER_REAL, &off, &was);
  printf("setitimer every 20 ms: 3 expiries seen, interval read back %ld us\n",
         (long)was.it_interval.tv_usec);
  struct itimerval now;
  getitimer(ITIMER_REAL, &now);
  printf("getitimer after disarming: %ld s %ld us\n", (long)now.it_value.tv_sec,
         (long)now.it_value.tv_usec);
  long r2 = setitimer(ITIMER_REAL, &(struct itimerval){{0, 2000000}, {0, 0}}, NULL);
  printf("setitimer with tv_usec = 2000000: %s\n", describe(r2, errno));
}

static atomic_int timer_value;
static atomic_int timer_code;

static void on_timer(int signo, siginfo_t* info, void* uc) {
  (void)signo;
  (void)uc;
  atomic_store(&timer_value, info->si_value.sival_int);
  atomic_store(&timer_code, info->si_code);
  atomic_fetch_add(&handled, 1);
}

static atomic_int thread_notified;

static void notified(union sigval value) { atomic_store(&thread_notified, value.sival_int); }

static void check_posix_timers(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_timer;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGRTMIN, &sa, NULL);

  struct sigevent ev;
  memset(&ev, 0, sizeof ev);
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGRTMIN;
  ev.sigev_value.sival_int = 42;
  timer_t timer;
  if (timer_create(CLOCK_MONOTONIC, &ev, &timer) != 0) {
    printf("timer_create: %s\n", strerror(errno));
    return;
  }
  struct itimerspec once = {{0, 0}, {0, 200000000}};
  atomic_store(&handled, 0);
  timer_settime(timer, 0, &once, NULL);
  struct itimerspec left;
  timer_gettime(timer, &left);
  printf("timer armed for 200 ms: %s\n",
         left.it_value.tv_sec == 0 && left.it_value.tv_nsec > 0 ? "time left below 200 ms"
                                                                : "wrong time left");
  struct timespec req = {10, 0}, rem = {0, 0};
  long r = nanosleep(&req, &rem);
  printf("nanosleep until the timer: %s, %s; si_value %d, si_code %s\n", describe(r, errno),
         rem.tv_sec >= 8 && rem.tv_sec < 10 ? "between 8 and 10 s left" : "wrong time left",
         atomic_load(&timer_value), atomic_load(&timer_code) == SI_TIMER ? "SI_TIMER" : "other");
  timer_gettime(timer, &left);
  printf("after it fired: %ld s %ld ns left\n", (long)left.it_value.tv_sec,
         (long)left.it_value.tv_nsec);

  // Absolute time on CLOCK_REALTIME, already past: fires at once.
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  struct itimerspec past = {{0, 0}, {now.tv_sec - 1, 0}};
  atomic_store(&handled, 0);
  timer_t real_timer;
  timer_create(CLOCK_REALTIME, &ev, &real_timer);
  timer_settime(real_timer, TIMER_ABSTIME, &past, NULL);
  while (atomic_load(&handled) == 0) sleep_ms(5);
  printf("absolute time already past: fired\n");
  timer_delete(real_timer);
  r = timer_delete(real_timer);
  // musl returns the raw -errno here.
  printf("timer_delete twice returns %ld\n", r);
  timer_delete(timer);

  // SIGEV_THREAD: musl runs the function on a thread of its own, woken by a signal to it.
  memset(&ev, 0, sizeof ev);
  ev.sigev_notify = SIGEV_THREAD;
  ev.sigev_notify_function = notified;
  ev.sigev_value.sival_int = 7;
  timer_t thread_timer;
  if (timer_create(CLOCK_MONOTONIC, &ev, &thread_timer) != 0) {
    printf("timer_create SIGEV_THREAD: %s\n", strerror(errno));
    return;
  }
  struct itimerspec soon = {{0, 0}, {0, 10000000}};
  timer_settime(thread_timer, 0, &soon, NULL);
  while (atomic_load(&thread_notified) == 0) sleep_ms(5);
  printf("SIGEV_THREAD timer ran its function with %d\n", atomic_load(&thread_notified));
  timer_delete(thread_timer);

  struct itimerspec bad = {{0, 0}, {0, 1000000000}};
  timer_t spare;
  timer_create(CLOCK_MONOTONIC, NULL, &spare);
  r = timer_settime(spare, 0, &bad, NULL);
  printf("timer_settime with tv_nsec = 1e9: %s\n", describe(r, errno));
  r = timer_create(CLOCK_THREAD_CPUTIME_ID + 100, NULL, &spare);
  printf("timer_create on an unknown clock: %s\n", describe(r, errno));
}

static volatile sig_atomic_t got_term, got_int;

static void on_term(int signo) {
  if (signo == SIGTERM) got_term = 1;
  if (signo == SIGINT) got_int = 1;
}

// Waits for SIGTERM then SIGINT from outside (the test sends them to km, or to the native
// process, again and again until it says it got them): SIGTERM must cut a blocking read short
// (one sent before the read began only sets the flag, and a later one interrupts the read).
static int wait_for_host_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  int fds[2];
  pipe(fds);
  printf("ready\n");
  fflush(stdout);
  for (;;) {
    char c;
    long r = read(fds[0], &c, 1);
    if (r < 0 && errno == EINTR && got_term) break;
  }
  printf("SIGTERM cut a read short\n");
  while (!got_int) pause();
  printf("SIGINT handled\n");
  return 0;
}

static int write_to_broken_pipe(void) {
  int fds[2];
  pipe(fds);
  close(fds[0]);
  signal(SIGPIPE, SIG_IGN);
  long r = write(fds[1], "x", 1);
  printf("write with SIGPIPE ignored: %s\n", describe(r, errno));
  handle(SIGPIPE, 0);
  atomic_store(&handled, 0);
  r = write(fds[1], "x", 1);
  printf("write with a SIGPIPE handler: %s, handled %d time(s)\n", describe(r, errno),
         atomic_load(&handled));
  fflush(stdout);
  signal(SIGPIPE, SIG_DFL);
  write(fds[1], "x", 1);
  printf("not reached: SIGPIPE's default action ends the process\n");
  return 0;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1 && strcmp(argv[1], "wait") == 0) return wait_for_host_signals();
  if (argc > 1 && strcmp(argv[1], "sigpipe") == 0) return write_to_broken_pipe();
  check_blocked_syscalls();
  check_process_directed();
  check_sigqueue();
  check_signal_thread();
  check_waits_that_unblock();
  check_signalfd();
  check_alarm();
  check_posix_timers();
  return 0;
}
