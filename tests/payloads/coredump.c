// Dies with threads alive, the way argv[1] says, for core dump tests: "segv" (a store through
// NULL), "abort" (abort()), "quit" (waits in pause() for a SIGQUIT from outside), "nolimit"
// (sets its own RLIMIT_CORE to 0 first, then segv). Before that, three workers fill in a table
// and wait in pthread_cond_wait, and main copies the table to the heap: what a core must show.
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

struct record {
  int id;
  char name[16];
  double weight;
};

struct record table[3];
struct record* heap_copy;
static sem_t ready;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;

static void* worker(void* arg) {
  const int id = (int)(long)arg;
  table[id].id = id;
  snprintf(table[id].name, sizeof table[id].name, "worker-%d", id);
  table[id].weight = id * 1.5;
  pthread_mutex_lock(&lock);
  sem_post(&ready);
  for (;;) pthread_cond_wait(&never, &lock);  // LINE: worker-waits
  return NULL;
}

static void crash(const char* how) {
  const double kept = 2.5;
  if (strcmp(how, "quit") == 0) {
    printf("coredump: waiting for SIGQUIT\n");
    fflush(stdout);
    for (;;) pause();  // LINE: crash-quit
  }
  if (strcmp(how, "abort") == 0) abort();  // LINE: crash-abort
  if (strcmp(how, "nolimit") == 0) {
    const struct rlimit none = {0, 0};
    if (setrlimit(RLIMIT_CORE, &none) != 0) perror("setrlimit");
  }
  // A value a core must keep in an SSE register.
  __asm__ volatile("movsd %0, %%xmm1" : : "m"(kept) : "xmm1");
  volatile int* nowhere = NULL;
  *nowhere = 1;  // LINE: crash-segv
}

int main(int argc, char** argv) {
  const char* how = argc > 1 ? argv[1] : "segv";
  sem_init(&ready, 0, 0);
  pthread_t threads[3];
  for (long i = 0; i < 3; i++) pthread_create(&threads[i], NULL, worker, (void*)i);
  for (int i = 0; i < 3; i++) sem_wait(&ready);
  // Each worker that posted holds the lock until pthread_cond_wait lets it go: once main has
  // it, all three are waiting there.
  pthread_mutex_lock(&lock);
  pthread_mutex_unlock(&lock);
  // And in its futex wait, not on the few instructions before it, once this sleep is over.
  usleep(20000);
  heap_copy = malloc(sizeof table);
  memcpy(heap_copy, table, sizeof table);
  printf("coredump: %s\n", how);
  fflush(stdout);
  crash(how);
  return 0;
}
