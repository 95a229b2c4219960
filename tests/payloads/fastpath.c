// What tests/gdb/fastpath_test.cc debugs: a function called many times (conditional
// breakpoints), a line that runs thousands of instructions (range stepping), memory a
// condition reads, and a pointer to nowhere.
#include <stdio.h>
#include <stdlib.h>

int values[16] = {[5] = 42};
int *nowhere = (int *)0x1000;  // km maps nothing this low
volatile long total;

__attribute__((noinline)) void visit(int i, int *p) {
  total += i + *p;  // LINE: visit-body
}

int main(int argc, char **argv) {
  const int rounds = argc > 1 ? atoi(argv[1]) : 10000;
  const int work = argc > 2 ? atoi(argv[2]) : 3000;
  long acc = 0;
  for (int i = 0; i < rounds; ++i) visit(i, &values[i & 15]);  // LINE: calls
  for (int k = 0; k < work; ++k) acc += k * 3;  // LINE: heavy
  total += acc;  // LINE: after-heavy
  printf("total %ld\n", total);
  return 0;
}
