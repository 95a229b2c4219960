// File I/O in the directory argv[1]: create and write, read back, lseek, fstat, append, read
// through stdio, unlink. Prints what it saw (never the path, so runs in different directories
// print the same); exits 1 at the first unexpected result.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(const char* what) {
  printf("FAILED: %s: %s\n", what, strerror(errno));
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: fileio DIR\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);  // each line out before the next step, to see where it stops
  char path[4096];
  snprintf(path, sizeof path, "%s/km_fileio.txt", argv[1]);

  int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);
  if (fd < 0) return fail("open for writing");
  const char first[] = "hello, file\n";
  printf("write: %zd\n", write(fd, first, strlen(first)));

  printf("lseek SET 0: %lld\n", (long long)lseek(fd, 0, SEEK_SET));
  char buf[64] = {0};
  ssize_t n = read(fd, buf, sizeof buf - 1);
  printf("read: %zd \"%.*s\"\n", n, (int)(n > 0 ? n - 1 : 0), buf);  // without the newline

  printf("lseek SET 7: %lld\n", (long long)lseek(fd, 7, SEEK_SET));
  memset(buf, 0, sizeof buf);
  n = read(fd, buf, 4);
  printf("read 4 at 7: %zd \"%s\"\n", n, buf);
  printf("read the rest: %zd\n", read(fd, buf, sizeof buf));
  printf("read at EOF: %zd\n", read(fd, buf, sizeof buf));

  struct stat st;
  if (fstat(fd, &st) != 0) return fail("fstat");
  printf("fstat size: %lld regular: %d\n", (long long)st.st_size, S_ISREG(st.st_mode));
  close(fd);

  fd = open(path, O_WRONLY | O_APPEND);
  if (fd < 0) return fail("open for appending");
  const char more[] = "appended line\n";
  printf("append: %zd\n", write(fd, more, strlen(more)));
  printf("lseek END after append: %lld\n", (long long)lseek(fd, 0, SEEK_END));
  close(fd);

  FILE* f = fopen(path, "r");
  if (f == NULL) return fail("fopen");
  char line[64];
  for (int i = 1; fgets(line, sizeof line, f) != NULL; i++) printf("line %d: %s", i, line);
  if (fstat(fileno(f), &st) != 0) return fail("fstat after append");
  printf("fstat size after append: %lld\n", (long long)st.st_size);
  fclose(f);

  printf("unlink: %d\n", unlink(path));
  fd = open(path, O_RDONLY);
  printf("open after unlink: %d (%s)\n", fd, fd < 0 ? strerror(errno) : "unexpectedly there");
  return fd < 0 ? 0 : 1;
}
