// A deterministic CPU-bound loop: argv[1] iterations (default 1000000) of xorshift and table
// updates. Prints a checksum that depends on every iteration.
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  uint64_t iterations = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
  uint32_t table[256];
  for (int i = 0; i < 256; i++) table[i] = (uint32_t)i * 2654435761u;
  uint64_t x = 0x9e3779b97f4a7c15ull;
  uint64_t checksum = 0;
  for (uint64_t i = 0; i < iterations; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    table[x & 255] += (uint32_t)(x >> 32);
    checksum = checksum * 31 + (table[(x >> 8) & 255] ^ i);
  }
  printf("iterations=%" PRIu64 " checksum=%016" PRIx64 "\n", iterations, checksum);
  return 0;
}
