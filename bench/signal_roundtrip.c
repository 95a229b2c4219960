// Signal latency into a blocked thread: `signal_roundtrip N` sends SIGUSR1 N times to a thread
// blocked in read(2) on an empty pipe; each time the read is cut short, the thread's handler
// writes a byte to a second pipe, and the sender waits for that byte before the next signal.
// The handler, not the interrupted read, answers: a signal that lands before the read began
// gets its answer all the same. Prints the count of answers.
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int idle[2], answers[2];

static void on_usr1(int signo) {
  (void)signo;
  (void)!write(answers[1], "a", 1);
}

static void* blocked_reader(void* arg) {
  (void)arg;
  char c;
  for (;;) (void)!read(idle[0], &c, 1);
  return NULL;
}

int main(int argc, char** argv) {
  const long n = argc > 1 ? atol(argv[1]) : 1000;
  if (pipe(idle) != 0 || pipe(answers) != 0) return 1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;  // no SA_RESTART: the read fails with EINTR and the loop reads again
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, NULL);
  pthread_t reader;
  pthread_create(&reader, NULL, blocked_reader, NULL);
  long answered = 0;
  for (long i = 0; i < n; i++) {
    pthread_kill(reader, SIGUSR1);
    char c;
    if (read(answers[0], &c, 1) == 1) answered++;
  }
  printf("%ld\n", answered);
  return 0;
}
