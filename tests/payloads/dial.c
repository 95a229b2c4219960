// `dial PATH`: connects to the unix socket at PATH and reads until the other end closes, then
// says how it went (a gRPC server would wait for the client to speak first, and never close). Under `km --debug-socket PATH`, km's own debug socket must
// turn its payload away.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, argv[1], sizeof addr.sun_path - 1);
  if (connect(fd, (struct sockaddr*)&addr, sizeof addr) != 0) {
    printf("connect: %s\n", strerror(errno));
    return 1;
  }
  char buf[64];
  long total = 0, r;
  while ((r = read(fd, buf, sizeof buf)) > 0) total += r;
  printf("the other end closed after %ld bytes%s\n", total, r < 0 ? " (with an error)" : "");
  return 0;
}
