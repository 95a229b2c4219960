// What bench/debug_bench.py debugs, the same static binary under every server.
//
//   debug_target loop N    calls hot(i) for i < N, prints the loop's own run time
//   debug_target spin [B]  fills the first B bytes of `buffer` (all by default; the memory read
//                          figure reads them), then calls hot(i) forever
//   debug_target lines N   runs N iterations of a loop whose body is one long line (gdb's next)
//   debug_target threads N as loop N, with three more threads blocked in pthread_cond_wait (a
//                          debugger stops and lists them at every stop)
//
// Every mode then calls ready(), where the bench sets its first breakpoint. The run time printed
// is CLOCK_MONOTONIC around the loop only, so a debugger's attach and startup costs stay out of
// the attach-idle figure. Only spin fills the buffer: on km's tcg engine that takes seconds.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUFFER_SIZE (8u << 20)

unsigned char buffer[BUFFER_SIZE];
volatile unsigned long counter;

__attribute__((noinline)) void ready(void) { __asm__ volatile(""); }

__attribute__((noinline)) void hot(unsigned long i) { counter += i ^ (counter >> 3); }

static pthread_mutex_t idle_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cond = PTHREAD_COND_INITIALIZER;

// Waits for a signal that never comes: the process's exit ends it.
static void* idle(void* arg) {
  (void)arg;
  pthread_mutex_lock(&idle_mutex);
  for (;;) pthread_cond_wait(&idle_cond, &idle_mutex);
  return NULL;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned long lines(unsigned long n) {
  volatile unsigned long a = 1, b = 2, c = 3, d = 4;
  for (unsigned long i = 0; i < n; i++) {
    a = (a * 3 + b) ^ (c >> 1) ^ (d * 5 + a) ^ (b * 7 + c) ^ (a + d) * (b + c) ^ (a - b) * (c - d) ^ (a * b + c * d) ^ (a * c + b * d) ^ (a * d + b * c) ^ (a + b + c + d) ^ (a * b * c * d) ^ i;
  }
  return a;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s loop N | spin | lines N | threads N\n", argv[0]);
    return 2;
  }
  const unsigned long n = argc > 2 ? strtoul(argv[2], NULL, 0) : 0;
  if (strcmp(argv[1], "spin") == 0) {
    const unsigned long fill = n != 0 && n < BUFFER_SIZE ? n : BUFFER_SIZE;
    for (unsigned long i = 0; i < fill; i++) buffer[i] = (unsigned char)(i * 131 + (i >> 12));
  }
  if (strcmp(argv[1], "threads") == 0) {
    for (int t = 0; t < 3; t++) {
      pthread_t id;
      if (pthread_create(&id, NULL, idle, NULL) != 0) return 1;
    }
  }
  ready();
  const double start = now();
  if (strcmp(argv[1], "loop") == 0 || strcmp(argv[1], "threads") == 0) {
    for (unsigned long i = 0; i < n; i++) hot(i);
  } else if (strcmp(argv[1], "spin") == 0) {
    for (unsigned long i = 0;; i++) hot(i);
  } else if (strcmp(argv[1], "lines") == 0) {
    counter = lines(n);
  } else {
    fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 2;
  }
  printf("run_seconds=%.6f counter=%lu\n", now() - start, counter);  // PRINT_LINE in debug_bench.py
  return 0;
}
