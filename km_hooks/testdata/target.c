// What the debug service tests drive: a worker thread, a watched global, a known exit status.
#include <pthread.h>
#include <stdio.h>

volatile long counter;
long watched;

void* worker(void* arg) {
  for (int i = 0; i < 3; i++) __atomic_add_fetch(&counter, 1, __ATOMIC_SEQ_CST);
  return arg;
}

// A syscall instruction at a known address (pid_syscall), for stepping from a breakpoint on one.
long own_pid(void) {
  long r;
  __asm__ volatile(".globl pid_syscall\npid_syscall: syscall"
                   : "=a"(r)
                   : "a"(39L)
                   : "rcx", "r11", "memory");
  return r;
}

int touch(long v) {
  watched = v;
  return (int)watched;
}

int main(void) {
  pthread_t t;
  pthread_create(&t, 0, worker, 0);
  pthread_join(t, 0);
  own_pid();
  int r = touch(42);
  printf("done %ld %d\n", counter, r);
  return 7;
}
