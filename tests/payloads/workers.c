// Worker threads that show their progress, for non-stop debugging: each one counts its rounds in
// progress[i] and in a shared total, so a debugger can watch some threads run on while others
// sit stopped.
//   workers THREADS ROUNDS EVERY
// Worker 0, the lead, runs until `quit` is set (by a debugger) and calls lead_mark() every EVERY
// rounds. Workers 1..THREADS-1 run ROUNDS rounds each (0: until quit) and call checkpoint() every
// EVERY rounds. main joins those, prints what they did and exits without waiting for the lead
// unless quit is set: a process that ends while its lead may still be stopped.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>

enum { kMaxWorkers = 32 };

volatile int quit;                   // a debugger sets it to end the run
volatile long progress[kMaxWorkers];  // rounds each worker has done
volatile long hits[kMaxWorkers];      // checkpoint() calls per worker
long total;                          // every round of every worker, atomically
static long rounds, every;

// Breakpoint targets. noinline and a side effect so that each call is a real call.
__attribute__((noinline)) void checkpoint(int index) { hits[index]++; }  // LINE: checkpoint
__attribute__((noinline)) void lead_mark(long round) { hits[0] = round; }  // LINE: lead-mark

static void* lead(void* arg) {
  (void)arg;
  prctl(PR_SET_NAME, "lead");  // what a debugger lists the thread as
  for (long r = 0; !quit; r++) {
    progress[0]++;
    __atomic_fetch_add(&total, 1, __ATOMIC_RELAXED);
    if (r % every == 0) lead_mark(r);
  }
  return NULL;
}

static void* worker(void* arg) {
  const int index = (int)(long)arg;
  char name[16];
  snprintf(name, sizeof name, "worker-%d", index);
  prctl(PR_SET_NAME, name);
  for (long r = 0; !quit && (rounds == 0 || r < rounds); r++) {
    progress[index]++;
    __atomic_fetch_add(&total, 1, __ATOMIC_RELAXED);
    if (r % every == 0) checkpoint(index);
  }
  return NULL;
}

int main(int argc, char** argv) {
  const int threads = argc > 1 ? atoi(argv[1]) : 4;
  rounds = argc > 2 ? atol(argv[2]) : 0;
  every = argc > 3 ? atol(argv[3]) : 1000;
  if (threads < 1 || threads > kMaxWorkers || rounds < 0 || every < 1) {
    fprintf(stderr, "usage: workers THREADS(1-%d) ROUNDS EVERY\n", kMaxWorkers);
    return 2;
  }
  pthread_t ids[kMaxWorkers];
  for (long i = 0; i < threads; i++) {
    if (pthread_create(&ids[i], NULL, i == 0 ? lead : worker, (void*)i) != 0) {
      fprintf(stderr, "pthread_create %ld failed\n", i);
      return 1;
    }
  }
  long done = 0, checkpoints = 0;
  for (int i = 1; i < threads; i++) {
    pthread_join(ids[i], NULL);
    done += progress[i];
    checkpoints += hits[i];
  }
  if (quit) pthread_join(ids[0], NULL);
  // Each worker's checkpoints: one per EVERY rounds, counting round 0.
  long expected_checkpoints = 0;
  for (int i = 1; i < threads; i++) expected_checkpoints += (progress[i] + every - 1) / every;
  printf("workers=%d rounds=%ld checkpoints=%ld expected=%ld %s\n", threads - 1, done, checkpoints,
         expected_checkpoints, checkpoints == expected_checkpoints ? "ok" : "WRONG");
  fflush(stdout);
  return checkpoints == expected_checkpoints ? 0 : 1;
}
