// Four threads that count until told to stop: a payload that is always running.
#include <pthread.h>
#include <stdio.h>

volatile long counters[4];
volatile int done;

void* work(void* arg) {
  long i = (long)arg;
  while (!done) counters[i]++;
  return 0;
}

int main(void) {
  pthread_t t[4];
  for (long i = 0; i < 4; i++) pthread_create(&t[i], 0, work, (void*)i);
  for (int i = 0; i < 4; i++) pthread_join(t[i], 0);
  puts("spin done");
  return 0;
}
