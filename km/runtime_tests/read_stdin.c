// Reads one byte from stdin and exits with its value.
#include <unistd.h>

int main(void) {
  unsigned char c = 0;
  return read(0, &c, 1) == 1 ? c : 255;
}
