// The load tests' payload: sixteen threads. "spin": all count at once until told to stop
// (done = 1). "hits N": all at once, each calls hit() N times, where the test puts a
// breakpoint that every thread must stop at every time, also while others step past it.
// Prints one line, exits 0.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 16

volatile long counters[THREADS];
volatile int done;
static long hits_per_thread;

__attribute__((noinline)) void hit(long i) { counters[i]++; }

static void* spin(void* arg) {
  long i = (long)arg;
  while (!done) counters[i]++;
  return 0;
}

static void* hits(void* arg) {
  long i = (long)arg;
  for (long k = 0; k < hits_per_thread; k++) hit(i);
  return 0;
}

int main(int argc, char** argv) {
  const int spinning = argc < 2 || strcmp(argv[1], "spin") == 0;
  if (!spinning) hits_per_thread = argc > 2 ? atol(argv[2]) : 100;
  pthread_t t[THREADS];
  for (long i = 0; i < THREADS; i++) pthread_create(&t[i], 0, spinning ? spin : hits, (void*)i);
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], 0);
  long total = 0;
  for (int i = 0; i < THREADS; i++) total += counters[i];
  if (spinning) {
    printf("spin done\n");
  } else {
    printf("hits done %ld\n", total);
  }
  return 0;
}
