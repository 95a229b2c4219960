// A small static payload for km's loader tests: initialized data, read-only data, a large bss
// (several zero pages past the file bytes) and code.
#include <stdio.h>
#include <string.h>

int data_marker = 0x12345678;
const char rodata_marker[] = "km tiny payload";
char big_bss[3 * 4096 + 123];

int main(int argc, char** argv) {
  big_bss[sizeof(big_bss) - 1] = (char)argc;
  printf("%s %d %zu\n", rodata_marker, data_marker, strlen(argv[0]));
  return 0;
}
