// The payload the gdb end-to-end tests debug (tests/gdb): lines to break at (marked LINE:),
// a struct and globals to print and watch, a named worker thread, a loop to interrupt and a
// crash. argv[1] picks what it does after the common part ("basic" by default); it exits 3.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct point {
  int x;
  int y;
  const char* label;
};

int counter;              // written by bump(): the watch test
int limit = 3;            // read by main's loop: the rwatch test
volatile int keep_going = 1;  // the spin loop runs until gdb clears it
struct point origin = {1, 2, "origin"};

int add(int a, int b) {
  int sum = a + b;  // LINE: add-body
  return sum;       // LINE: add-return
}

void bump(void) {
  counter++;  // LINE: bump
}

static void* worker(void* arg) {
  pthread_setname_np(pthread_self(), "gdb-worker");
  int id = (int)(long)arg;
  int r = add(id, 40);  // LINE: worker-add
  return (void*)(long)r;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "basic";
  struct point p = {3, 4, "p"};
  int total = add(p.x, p.y);  // LINE: main-add
  for (int i = 0; i < limit; i++) bump();
  total += counter;  // LINE: after-loop
  if (strcmp(mode, "threads") == 0) {
    pthread_t thread;
    void* ret;
    pthread_create(&thread, NULL, worker, (void*)2L);
    pthread_join(thread, &ret);
    total += (int)(long)ret;  // LINE: joined
  } else if (strcmp(mode, "spin") == 0) {
    unsigned long spins = 0;
    while (keep_going) spins++;  // LINE: spin
  } else if (strcmp(mode, "segv") == 0) {
    volatile int* bad = NULL;
    *bad = total;  // LINE: segv
  }
  printf("total=%d counter=%d label=%s\n", total, counter, origin.label);
  return 3;  // LINE: exit
}
