// Signals a debugger lets through: an interval timer raises SIGALRM every 200 us until the
// handler has counted N of them (gdb passes SIGALRM without stopping by default), then the
// program raises SIGUSR2 once (gdb stops there by default) and prints what its handlers saw.
//   alarms N
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t alarms, usr2;

static void on_alarm(int signo) { alarms += signo == SIGALRM; }
static void on_usr2(int signo) { usr2 += signo == SIGUSR2; }

int main(int argc, char** argv) {
  const long n = argc > 1 ? atol(argv[1]) : 100;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  sa.sa_handler = on_usr2;
  sigaction(SIGUSR2, &sa, NULL);
  const struct itimerval every = {{0, 200}, {0, 200}};
  setitimer(ITIMER_REAL, &every, NULL);
  while (alarms < n) pause();
  const struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  raise(SIGUSR2);  // LINE: raise
  printf("alarms=%s usr2=%d\n", alarms >= n ? "enough" : "short", (int)usr2);
  return 0;
}
