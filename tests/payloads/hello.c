// Prints its arguments and KM_TEST_VAR (if set); exits with the status given as argv[1].
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  printf("argc=%d\n", argc);
  for (int i = 1; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
  const char* var = getenv("KM_TEST_VAR");
  if (var != NULL) printf("KM_TEST_VAR=%s\n", var);
  return argc > 1 ? atoi(argv[1]) : 0;
}
