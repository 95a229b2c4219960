// Dies the way argv[1] says: "segv" (null load), "fpe" (integer divide by zero), "ill" (ud2),
// "abort" (abort()). A monitor must report the same signal, and for CPU faults the same rip,
// as the native run.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// volatile: the compiler must emit a real idiv (it turns 1 / x into a comparison).
static volatile int one = 1;
static volatile int zero;

int main(int argc, char** argv) {
  const char* how = argc > 1 ? argv[1] : "segv";
  printf("fault: %s\n", how);
  fflush(stdout);  // the output must survive the crash
  if (strcmp(how, "segv") == 0) {
    volatile int* p = NULL;
    return *p;
  }
  if (strcmp(how, "fpe") == 0) return one / zero;
  if (strcmp(how, "ill") == 0) __builtin_trap();
  if (strcmp(how, "abort") == 0) abort();
  fprintf(stderr, "fault: unknown variant %s (want segv, fpe, ill or abort)\n", how);
  return 2;
}
