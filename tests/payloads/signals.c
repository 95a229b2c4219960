// Signal handlers, as a Linux process sees them: what each handler is told (siginfo, its
// ucontext), what it may change (rip in the ucontext), masks that hold a signal back,
// the alternate stack, SA_RESETHAND, a signal sent to another thread, faults caught and left by
// siglongjmp, and the interrupted code's registers intact afterwards. Prints only what is the
// same natively and under km. argv[1] "abort": ends with abort() (exit status 134);
// "bad-sigreturn": calls rt_sigreturn with no signal frame under rsp (Linux: SIGSEGV, 139).
#define _GNU_SOURCE
#include <pthread.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

static volatile sig_atomic_t hits[65];
static volatile int last_code;
static volatile int last_pid_is_self;
static volatile void* last_addr;
static sigjmp_buf escape;
static char altstack[64 * 1024];
static volatile int on_altstack;
static volatile int altstack_flags_onstack;
static volatile int order[8];
static volatile int order_len;
static volatile pid_t handler_tid;
static volatile int worker_go = 1;
// A handler may not clobber its caller's FPU state; this one makes it try.
static volatile double handler_float;

static void on_info(int sig, siginfo_t* info, void* uc) {
  (void)uc;
  hits[sig]++;
  last_code = info->si_code;
  last_pid_is_self = info->si_pid == getpid();
  handler_float = handler_float * 3.0 + 1.0;
  if (order_len < 8) order[order_len++] = sig;
}

static void on_nested_outer(int sig) {
  if (order_len < 8) order[order_len++] = sig;
  raise(SIGUSR2);  // its handler runs inside this one
  if (order_len < 8) order[order_len++] = -sig;
}

static void on_fault_escape(int sig, siginfo_t* info, void* uc) {
  (void)uc;
  hits[sig]++;
  last_code = info->si_code;
  last_addr = info->si_addr;
  siglongjmp(escape, sig);
}

static void on_ill_skip(int sig, siginfo_t* info, void* ucv) {
  ucontext_t* uc = ucv;
  hits[sig]++;
  last_code = info->si_code;
  uc->uc_mcontext.gregs[REG_RIP] += 2;  // past the ud2
}

static void on_altstack_check(int sig) {
  char here;
  hits[sig]++;
  on_altstack = &here >= altstack && &here < altstack + sizeof altstack;
  stack_t now;
  sigaltstack(NULL, &now);
  altstack_flags_onstack = (now.ss_flags & SS_ONSTACK) != 0;
}

static void on_worker_signal(int sig) {
  hits[sig]++;
  handler_tid = (pid_t)syscall(SYS_gettid);
  worker_go = 0;
}

static void install(int sig, void (*fn)(int, siginfo_t*, void*), int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = fn;
  sa.sa_flags = SA_SIGINFO | flags;
  sigemptyset(&sa.sa_mask);
  if (sigaction(sig, &sa, NULL) != 0) perror("sigaction");
}

static void install_plain(int sig, void (*fn)(int), int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = fn;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  if (sigaction(sig, &sa, NULL) != 0) perror("sigaction");
}

static void* send_later(void* arg) {
  usleep(20000);
  pthread_kill(*(pthread_t*)arg, SIGUSR1);
  return NULL;
}

static void* worker(void* arg) {
  (void)arg;
  unsigned long spins = 0;
  while (worker_go) spins++;  // runs guest code until its handler clears the flag
  return (void*)(long)syscall(SYS_gettid);
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1 && strcmp(argv[1], "bad-sigreturn") == 0) {
    printf("rt_sigreturn without a frame\n");
    __asm__ volatile("xor %%esp, %%esp\n\tmov $15, %%eax\n\tsyscall" ::: "memory");
  }

  install(SIGUSR1, on_info, 0);
  install(SIGUSR2, on_info, 0);
  volatile double before = 1.25;
  handler_float = 2.0;
  raise(SIGUSR1);
  printf("raise: hits=%d code=%s pid_is_self=%d float_after=%g handler_float=%g\n",
         hits[SIGUSR1], last_code == SI_TKILL ? "SI_TKILL" : "other", last_pid_is_self,
         before * 2.0, handler_float);

  kill(getpid(), SIGUSR2);
  printf("kill: hits=%d code=%s pid_is_self=%d\n", hits[SIGUSR2],
         last_code == SI_USER ? "SI_USER" : "other", last_pid_is_self);

  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  sigprocmask(SIG_BLOCK, &block, &old);
  raise(SIGUSR1);
  printf("blocked: hits=%d\n", hits[SIGUSR1]);
  sigprocmask(SIG_SETMASK, &old, NULL);
  printf("unblocked: hits=%d\n", hits[SIGUSR1]);

  order_len = 0;
  install_plain(SIGUSR1, on_nested_outer, 0);
  raise(SIGUSR1);
  printf("nested:");
  for (int i = 0; i < order_len; i++) printf(" %d", order[i]);
  printf("\n");

  install(SIGSEGV, on_fault_escape, 0);
  install(SIGFPE, on_fault_escape, 0);
  int sig = sigsetjmp(escape, 1);
  if (sig == 0) {
    volatile int* null = NULL;
    *null = 1;
  }
  printf("segv: escaped with %d code=%s addr=%p\n", sig,
         last_code == SEGV_MAPERR ? "SEGV_MAPERR" : "other", (void*)last_addr);
  sig = sigsetjmp(escape, 1);
  if (sig == 0) {
    volatile int zero = 0;
    volatile int r = 7 / zero;
    (void)r;
  }
  printf("fpe: escaped with %d code=%s\n", sig, last_code == FPE_INTDIV ? "FPE_INTDIV" : "other");
  // sigsetjmp saved the mask with the signal unblocked: a second fault is caught again.
  sig = sigsetjmp(escape, 1);
  if (sig == 0) {
    volatile int* null = NULL;
    *null = 2;
  }
  printf("segv again: escaped with %d hits=%d\n", sig, hits[SIGSEGV]);

  install(SIGILL, on_ill_skip, 0);
  __asm__ volatile("ud2");
  printf("ill: skipped, hits=%d code=%s\n", hits[SIGILL],
         last_code == ILL_ILLOPN ? "ILL_ILLOPN" : "other");

  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) perror("sigaltstack");
  install_plain(SIGUSR2, on_altstack_check, SA_ONSTACK);
  raise(SIGUSR2);
  stack_t after;
  sigaltstack(NULL, &after);
  printf("altstack: on=%d reported_onstack=%d after_onstack=%d\n", on_altstack,
         altstack_flags_onstack, (after.ss_flags & SS_ONSTACK) != 0);

  install(SIGURG, on_info, SA_RESETHAND);
  raise(SIGURG);
  raise(SIGURG);  // default action now: ignored
  printf("resethand: hits=%d\n", hits[SIGURG]);

  signal(SIGUSR1, SIG_IGN);
  raise(SIGUSR1);
  printf("ignored: still here\n");

  // Waiting for signals: sigpending, sigwait, sigtimedwait's timeout, sigsuspend.
  install(SIGUSR1, on_info, 0);
  install(SIGUSR2, on_info, 0);
  sigset_t both;
  sigemptyset(&both);
  sigaddset(&both, SIGUSR1);
  sigaddset(&both, SIGUSR2);
  sigprocmask(SIG_BLOCK, &both, &old);
  raise(SIGUSR2);
  sigset_t pending;
  sigpending(&pending);
  printf("sigpending: usr1=%d usr2=%d\n", sigismember(&pending, SIGUSR1),
         sigismember(&pending, SIGUSR2));
  const int usr2_hits = hits[SIGUSR2];
  int got = 0;
  sigset_t only_usr2;
  sigemptyset(&only_usr2);
  sigaddset(&only_usr2, SIGUSR2);
  sigwait(&only_usr2, &got);
  printf("sigwait: got=%d handler_ran=%d\n", got, hits[SIGUSR2] != usr2_hits);
  struct timespec short_wait = {0, 10 * 1000 * 1000};
  siginfo_t si;
  const int waited = sigtimedwait(&only_usr2, &si, &short_wait);
  printf("sigtimedwait: rc=%d eagain=%d\n", waited, waited < 0 && errno == EAGAIN);
  const int usr1_hits = hits[SIGUSR1];
  pthread_t self = pthread_self(), sender;
  pthread_create(&sender, NULL, send_later, &self);
  sigset_t none;
  sigemptyset(&none);
  const int suspended = sigsuspend(&none);
  const int suspend_errno = errno;
  pthread_join(sender, NULL);
  sigset_t now;
  sigprocmask(SIG_SETMASK, NULL, &now);
  printf("sigsuspend: rc=%d eintr=%d handler_ran=%d mask_back=%d\n", suspended,
         suspend_errno == EINTR, hits[SIGUSR1] == usr1_hits + 1, sigismember(&now, SIGUSR1));
  sigprocmask(SIG_SETMASK, &old, NULL);

  install_plain(SIGUSR1, on_worker_signal, 0);
  pthread_t thread;
  pthread_create(&thread, NULL, worker, NULL);
  pthread_kill(thread, SIGUSR1);
  void* worker_tid;
  pthread_join(thread, &worker_tid);
  printf("other thread: hits=%d in_worker=%d\n", hits[SIGUSR1],
         (long)worker_tid == (long)handler_tid);

  if (argc > 1 && strcmp(argv[1], "abort") == 0) abort();
  return 0;
}
