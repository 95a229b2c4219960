// Hands the kernel (or a monitor standing in for it) pointers that are not the caller's: unmapped
// low memory, the page just above km's stack, an address where a host process's mmap area would
// be, kernel-half and non-canonical addresses. Each call must fail with EFAULT and nothing may
// crash. Raw syscalls, not libc: musl's clock_gettime would use the vDSO and fault in user space.
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const struct {
  const char* what;
  uintptr_t address;
} kBad[] = {
    {"null", 0},
    {"low page", 0x1000},
    {"above the stack", 0x7ffffffff000},
    {"host-mmap-like", 0x7ff000000000},
    {"kernel half", 0xffffffff80000000},
    {"non-canonical", 0xffff800000000000},
};

static int failures;

static void report(const char* call, const char* what, long ret, long want) {
  int err = ret < 0 ? errno : 0;
  printf("%s(%s) = %ld%s%s\n", call, what, ret, ret < 0 ? " " : "", ret < 0 ? strerror(err) : "");
  if (ret != want || (want < 0 && err != EFAULT)) {
    printf("  unexpected: wanted %ld%s\n", want, want < 0 ? " EFAULT" : "");
    failures++;
  }
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);  // each result out before the next call
  // The payload's own file: data to read whatever stdin is (a read of /dev/null would return 0
  // without touching the buffer).
  int fd = open(argv[0], O_RDONLY);
  if (fd < 0) {
    printf("open %s: %s\n", argv[0], strerror(errno));
    return 1;
  }
  for (size_t i = 0; i < sizeof kBad / sizeof kBad[0]; i++) {
    void* p = (void*)kBad[i].address;
    report("write", kBad[i].what, syscall(SYS_write, 1, p, 16), -1);
    report("read", kBad[i].what, syscall(SYS_read, fd, p, 16), -1);
    report("clock_gettime", kBad[i].what, syscall(SYS_clock_gettime, CLOCK_MONOTONIC, p), -1);
  }
  // A zero-length write touches no memory: Linux returns 0 whatever the pointer.
  report("write 0 bytes", "low page", syscall(SYS_write, 1, (void*)0x1000, 0), 0);
  close(fd);
  printf("%d unexpected results\n", failures);
  return failures == 0 ? 0 : 1;
}
