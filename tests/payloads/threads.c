// Several threads share a sum under a mutex, meet at a condition-variable barrier, then take
// turns in a fixed order. Everything printed is deterministic whatever the scheduling, so any
// difference from a native run is a bug in the monitor (lost wake-up, torn update, bad TLS).
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>

enum { kThreads = 5, kAdds = 2000, kTurnRounds = 4 };

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long sum;
static int arrived;
static int turn;  // index of the thread allowed to append next
static char order[kThreads * kTurnRounds + 1];
static long seen_after_barrier[kThreads];
static __thread int my_index;  // checks that each thread has its own TLS block

static void* worker(void* arg) {
  my_index = (int)(long)arg;
  char name[16];
  snprintf(name, sizeof name, "worker-%d", my_index);
  // Writes /proc/self/task/TID/comm, which a monitor may not provide: the result is not used.
  (void)pthread_setname_np(pthread_self(), name);

  for (int i = 0; i < kAdds; i++) {
    pthread_mutex_lock(&mu);
    sum += my_index + 1;
    pthread_mutex_unlock(&mu);
  }

  pthread_mutex_lock(&mu);
  if (++arrived == kThreads) pthread_cond_broadcast(&cv);
  while (arrived < kThreads) pthread_cond_wait(&cv, &mu);
  seen_after_barrier[my_index] = sum;
  pthread_mutex_unlock(&mu);

  for (int round = 0; round < kTurnRounds; round++) {
    pthread_mutex_lock(&mu);
    while (turn % kThreads != my_index) pthread_cond_wait(&cv, &mu);
    order[turn] = (char)('A' + my_index);
    turn++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
  }
  return (void*)(long)(my_index * 10);
}

int main(void) {
  pthread_t threads[kThreads];
  for (long i = 0; i < kThreads; i++) {
    if (pthread_create(&threads[i], NULL, worker, (void*)i) != 0) {
      fprintf(stderr, "pthread_create %ld failed\n", i);
      return 1;
    }
  }
  long returned = 0;
  for (int i = 0; i < kThreads; i++) {
    void* ret;
    pthread_join(threads[i], &ret);
    returned += (long)ret;
  }
  long expected = 0;
  for (int i = 0; i < kThreads; i++) expected += (long)(i + 1) * kAdds;
  printf("threads=%d sum=%ld expected=%ld\n", kThreads, sum, expected);
  for (int i = 0; i < kThreads; i++) printf("thread %d saw %ld after the barrier\n", i, seen_after_barrier[i]);
  printf("turn order=%s\n", order);
  printf("join values=%ld\n", returned);
  return sum == expected ? 0 : 1;
}
