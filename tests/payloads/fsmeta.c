// Files' metadata in the directory argv[1] (mode, owner, times, links, size, locks, copies,
// file systems, syncs), then the process's own state (waits, usage, groups, session, priority,
// scheduling, affinity, membarrier). Each line is a result or a relation, never an inode, a
// time, a pid or anything else that differs between runs, so a native run and one under km
// print the same. A result Linux would not give counts as a failure: the exit status is 1.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/membarrier.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures;

static const char* ErrName(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EBADF: return "EBADF";
    case ECHILD: return "ECHILD";
    case EAGAIN: return "EAGAIN";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EEXIST: return "EEXIST";
    case EXDEV: return "EXDEV";
    case EINVAL: return "EINVAL";
    case ESPIPE: return "ESPIPE";
    case ENOSYS: return "ENOSYS";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    default: return strerror(e);
  }
}

// Prints a call's result: the value, or -1 and errno's name.
static void Show(const char* what, long r) {
  if (r == -1) {
    printf("%s: -1 %s\n", what, ErrName(errno));
  } else {
    printf("%s: %ld\n", what, r);
  }
}

// Prints the result; a failure unless it is `want` (0 or more) or fails with errno `want_errno`.
static void Expect(const char* what, long r, long want, int want_errno) {
  const int err = errno;
  Show(what, r);
  if (want_errno != 0 ? (r != -1 || err != want_errno) : r != want) {
    printf("  unexpected: wanted %ld %s\n", want_errno != 0 ? -1L : want,
           want_errno != 0 ? ErrName(want_errno) : "");
    failures++;
  }
}

static void Check(const char* what, int ok) {
  printf("%s: %s\n", what, ok ? "yes" : "NO");
  if (!ok) failures++;
}

static struct stat StatOf(const char* path) {
  struct stat st;
  memset(&st, 0, sizeof st);
  if (lstat(path, &st) != 0) printf("lstat %s: %s\n", path, ErrName(errno));
  return st;
}

static unsigned ModeOf(const char* path) { return StatOf(path).st_mode & 07777; }

static void ShowText(const char* what, const char* path) {
  char buf[64] = {0};
  int fd = open(path, O_RDONLY);
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  printf("%s: \"%.*s\"\n", what, (int)(n > 0 ? n : 0), buf);
}

// The kernel's struct statx (musl 1.2.3 has none).
struct StatxTime {
  int64_t tv_sec;
  uint32_t tv_nsec;
  int32_t reserved;
};
struct Statx {
  uint32_t mask, blksize;
  uint64_t attributes;
  uint32_t nlink, uid, gid;
  uint16_t mode, spare0;
  uint64_t ino, size, blocks, attributes_mask;
  struct StatxTime atime, btime, ctime, mtime;
  uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
  uint64_t spare2[14];
};
#define STATX_BASIC 0x7ffu

static void Modes(int dfd, int fd) {
  Expect("chmod f 0600", chmod("f", 0600), 0, 0);
  printf("  mode %o\n", ModeOf("f"));
  Expect("fchmod 0640", fchmod(fd, 0640), 0, 0);
  printf("  mode %o\n", ModeOf("f"));
  Expect("fchmodat 0604", fchmodat(dfd, "f", 0604, 0), 0, 0);
  printf("  mode %o\n", ModeOf("f"));
  // musl does this through an O_PATH descriptor and its /proc/self/fd link.
  Expect("fchmodat AT_SYMLINK_NOFOLLOW 0644", fchmodat(dfd, "f", 0644, AT_SYMLINK_NOFOLLOW), 0, 0);
  printf("  mode %o\n", ModeOf("f"));
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  Expect("chmod through /proc/self/fd of its own fd", chmod(proc, 0600), 0, 0);
  printf("  mode %o\n", ModeOf("f"));
  Expect("fchmod of no fd", fchmod(1000, 0600), 0, EBADF);
  Expect("chmod of a missing file", chmod("missing", 0600), 0, ENOENT);
  Expect("chmod of a bad pointer", syscall(SYS_chmod, 0x1000, 0600), 0, EFAULT);
  chmod("f", 0644);
}

static void Owners(int dfd, int fd) {
  Expect("chown to itself", chown("f", getuid(), getgid()), 0, 0);
  Expect("chown -1 -1", chown("f", -1, -1), 0, 0);
  Expect("fchown -1 -1", fchown(fd, -1, -1), 0, 0);
  Expect("lchown of the link", lchown("s", -1, -1), 0, 0);
  Expect("fchownat AT_SYMLINK_NOFOLLOW", fchownat(dfd, "s", -1, -1, AT_SYMLINK_NOFOLLOW), 0, 0);
  Expect("fchownat AT_EMPTY_PATH", fchownat(fd, "", getuid(), -1, AT_EMPTY_PATH), 0, 0);
  Expect("fchown of no fd", fchown(1000, -1, -1), 0, EBADF);
  const struct stat st = StatOf("f");
  Check("owner is still the caller", st.st_uid == getuid() && st.st_gid == getgid());
}

static void Links(int dfd, int fd) {
  Expect("link f g", link("f", "g"), 0, 0);
  printf("  link count %d\n", (int)StatOf("f").st_nlink);
  Expect("link f g again", link("f", "g"), 0, EEXIST);
  Expect("linkat f h", linkat(dfd, "f", dfd, "h", 0), 0, 0);
  printf("  link count %d\n", (int)StatOf("f").st_nlink);
  unlink("h");
  Expect("symlink s -> f", symlink("f", "s"), 0, 0);
  Check("s is a symlink", S_ISLNK(StatOf("s").st_mode));
  char target[16] = {0};
  readlink("s", target, sizeof target - 1);
  printf("  s points to \"%s\"\n", target);
  struct stat through;
  stat("s", &through);
  Check("s leads to f", through.st_ino == StatOf("f").st_ino);
  Expect("symlinkat s2 -> g", symlinkat("g", dfd, "s2"), 0, 0);
  Expect("linkat s hs AT_SYMLINK_FOLLOW", linkat(dfd, "s", dfd, "hs", AT_SYMLINK_FOLLOW), 0, 0);
  Check("that links f itself", StatOf("hs").st_ino == StatOf("f").st_ino);
  Expect("linkat s hl", linkat(dfd, "s", dfd, "hl", 0), 0, 0);
  Check("that links the symlink", S_ISLNK(StatOf("hl").st_mode));
  printf("  link count of f %d\n", (int)StatOf("f").st_nlink);
  unlink("hs");
  unlink("hl");
  // Needs CAP_DAC_READ_SEARCH: the answer depends on who runs it, not on km.
  const long r = linkat(fd, "", dfd, "e", AT_EMPTY_PATH);
  Show("linkat AT_EMPTY_PATH", r);
  if (r == 0) {
    Check("  that links f", StatOf("e").st_ino == StatOf("f").st_ino);
    unlink("e");
  }
  Expect("link of a bad pointer", syscall(SYS_link, "f", 0x1000), 0, EFAULT);
  Expect("symlinkat with no dirfd", symlinkat("f", 1000, "x"), 0, EBADF);
}

static void Times(int dfd, int fd) {
  struct timespec t[2] = {{1000000000, 0}, {1000000000, 0}};
  Expect("utimensat f to 1000000000", utimensat(dfd, "f", t, 0), 0, 0);
  struct stat st = StatOf("f");
  Check("  atime set", st.st_atim.tv_sec == 1000000000);
  Check("  mtime set", st.st_mtim.tv_sec == 1000000000);
  t[0].tv_nsec = UTIME_OMIT;
  t[1].tv_sec = 2000000000;
  Expect("utimensat mtime only", utimensat(AT_FDCWD, "f", t, 0), 0, 0);
  st = StatOf("f");
  Check("  atime kept", st.st_atim.tv_sec == 1000000000);
  Check("  mtime set to 2000000000", st.st_mtim.tv_sec == 2000000000);
  // futimens is utimensat(fd, NULL, ...).
  struct timespec a[2] = {{1500000000, 7}, {0, UTIME_OMIT}};
  Expect("futimens atime only", futimens(fd, a), 0, 0);
  st = StatOf("f");
  Check("  atime 1500000000.000000007", st.st_atim.tv_sec == 1500000000 && st.st_atim.tv_nsec == 7);
  Check("  mtime kept", st.st_mtim.tv_sec == 2000000000);
  t[0].tv_nsec = 0;
  t[1].tv_sec = 1200000000;
  Expect("utimensat of the link itself", utimensat(dfd, "s", t, AT_SYMLINK_NOFOLLOW), 0, 0);
  Check("  the link's mtime set", StatOf("s").st_mtim.tv_sec == 1200000000);
  Check("  f's mtime kept", StatOf("f").st_mtim.tv_sec == 2000000000);
  struct timespec now[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
  Expect("utimensat UTIME_NOW", utimensat(dfd, "f", now, 0), 0, 0);
  const time_t clock = time(NULL);
  Check("  mtime is now", StatOf("f").st_mtim.tv_sec >= clock - 60);
  utimensat(dfd, "f", t, 0);
  Expect("futimens NULL", futimens(fd, NULL), 0, 0);
  Check("  mtime is now", StatOf("f").st_mtim.tv_sec >= clock - 60);
  struct timespec omit[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
  Expect("both UTIME_OMIT on a missing file", utimensat(dfd, "missing", omit, 0), 0, 0);
  Expect("utimensat of a missing file", utimensat(dfd, "missing", t, 0), 0, ENOENT);
  Expect("utimensat NULL path, AT_FDCWD", syscall(SYS_utimensat, AT_FDCWD, 0, t, 0), 0, EFAULT);
  Expect("utimensat NULL path with a flag", syscall(SYS_utimensat, fd, 0, t, AT_SYMLINK_NOFOLLOW),
         0, EINVAL);
  Expect("utimensat NULL path, no fd", syscall(SYS_utimensat, 1000, 0, t, 0), 0, EBADF);
  Expect("utimensat bad times pointer", syscall(SYS_utimensat, dfd, "f", 0x1000, 0), 0, EFAULT);
  struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
  Expect("utimensat tv_nsec 1000000000", utimensat(dfd, "f", bad, 0), 0, EINVAL);
}

static void Statx(int dfd, int fd) {
  struct Statx sx;
  struct stat st;
  stat("f", &st);
  Expect("statx f", syscall(SYS_statx, dfd, "f", 0, STATX_BASIC, &sx), 0, 0);
  Check("  agrees with stat", sx.ino == st.st_ino && sx.size == (uint64_t)st.st_size &&
                                  sx.mode == st.st_mode && sx.nlink == st.st_nlink &&
                                  sx.mtime.tv_sec == st.st_mtim.tv_sec);
  Expect("statx AT_EMPTY_PATH", syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_BASIC, &sx), 0, 0);
  Check("  names the fd's file", sx.ino == st.st_ino);
  // A null path is Linux 6.11's; older kernels say EFAULT. Either way the same as native.
  memset(&sx, 0, sizeof sx);
  const long r = syscall(SYS_statx, fd, 0, AT_EMPTY_PATH, STATX_BASIC, &sx);
  Show("statx NULL path AT_EMPTY_PATH", r);
  if (r == 0) Check("  names the fd's file", sx.ino == st.st_ino);
  Expect("statx s AT_SYMLINK_NOFOLLOW",
         syscall(SYS_statx, dfd, "s", AT_SYMLINK_NOFOLLOW, STATX_BASIC, &sx), 0, 0);
  Check("  is the link", S_ISLNK(sx.mode));
  Expect("statx bad buffer", syscall(SYS_statx, dfd, "f", 0, STATX_BASIC, 0x1000), 0, EFAULT);
  Expect("statx no dirfd", syscall(SYS_statx, 1000, "f", 0, STATX_BASIC, &sx), 0, EBADF);

  struct statfs a, b;
  Expect("statfs .", statfs(".", &a), 0, 0);
  Expect("fstatfs", fstatfs(fd, &b), 0, 0);
  Check("  same file system type", a.f_type == b.f_type);
  Check("  block size positive", a.f_bsize > 0);
  Expect("statfs of a missing path", statfs("missing", &a), 0, ENOENT);
  Expect("statfs bad buffer", syscall(SYS_statfs, ".", 0x1000), 0, EFAULT);
  Expect("fstatfs of no fd", fstatfs(1000, &a), 0, EBADF);
}

static void Sizes(int fd) {
  Expect("truncate f 5", truncate("f", 5), 0, 0);
  printf("  size %lld\n", (long long)StatOf("f").st_size);
  ShowText("  text", "f");
  Expect("truncate of a missing file", truncate("missing", 0), 0, ENOENT);
  // Some file systems have no fallocate: the answer is the host's either way.
  const long r = fallocate(fd, 0, 0, 8192);
  Show("fallocate 8192", r);
  if (r == 0) {
    printf("  size %lld\n", (long long)StatOf("f").st_size);
    Show("fallocate KEEP_SIZE 65536", fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 65536));
    printf("  size %lld\n", (long long)StatOf("f").st_size);
  }
  int p[2];
  pipe(p);
  Expect("fallocate on a pipe", fallocate(p[1], 0, 0, 10), 0, ESPIPE);
  Expect("fallocate of no fd", fallocate(1000, 0, 0, 10), 0, EBADF);
  close(p[0]);
  close(p[1]);
}

static void Locks(int fd) {
  const int other = open("f", O_RDONLY);
  Expect("flock LOCK_EX", flock(fd, LOCK_EX), 0, 0);
  Expect("another's LOCK_EX|LOCK_NB", flock(other, LOCK_EX | LOCK_NB), 0, EWOULDBLOCK);
  Expect("another's LOCK_SH|LOCK_NB", flock(other, LOCK_SH | LOCK_NB), 0, EWOULDBLOCK);
  Expect("flock LOCK_UN", flock(fd, LOCK_UN), 0, 0);
  Expect("another's LOCK_SH|LOCK_NB", flock(other, LOCK_SH | LOCK_NB), 0, 0);
  Expect("LOCK_SH|LOCK_NB beside it", flock(fd, LOCK_SH | LOCK_NB), 0, 0);
  Expect("flock of no fd", flock(1000, LOCK_EX), 0, EBADF);
  Expect("flock with no operation", flock(fd, 0), 0, EINVAL);
  close(other);
}

static void Copies(void) {
  const int src = open("src", O_CREAT | O_RDWR | O_TRUNC, 0644);
  const int dst = open("dst", O_CREAT | O_RDWR | O_TRUNC, 0644);
  write(src, "0123456789abcdef", 16);
  lseek(src, 0, SEEK_SET);
  off_t off = 4;
  Expect("sendfile 6 from offset 4", sendfile(dst, src, &off, 6), 6, 0);
  printf("  offset now %lld, src position %lld\n", (long long)off,
         (long long)lseek(src, 0, SEEK_CUR));
  Expect("sendfile 3 from the position", sendfile(dst, src, NULL, 3), 3, 0);
  printf("  src position %lld\n", (long long)lseek(src, 0, SEEK_CUR));
  ShowText("  dst", "dst");
  int p[2];
  pipe(p);
  off = 0;
  Expect("sendfile 5 into a pipe", sendfile(p[1], src, &off, 5), 5, 0);
  char buf[8] = {0};
  read(p[0], buf, sizeof buf - 1);
  printf("  pipe gave \"%s\"\n", buf);
  Expect("sendfile bad offset pointer", syscall(SYS_sendfile, dst, src, 0x1000, 1), 0, EFAULT);
  Expect("sendfile of no fd", sendfile(dst, 1000, NULL, 1), 0, EBADF);

  off_t in = 10, out = 0;
  Expect("copy_file_range 4, offsets 10 and 0", copy_file_range(src, &in, dst, &out, 4, 0), 4, 0);
  printf("  offsets now %lld and %lld\n", (long long)in, (long long)out);
  Expect("copy_file_range 2 at the positions", copy_file_range(src, NULL, dst, NULL, 2, 0), 2,
         0);
  ShowText("  dst", "dst");
  Expect("copy_file_range flags 1", copy_file_range(src, &in, dst, &out, 1, 1), 0, EINVAL);
  Expect("copy_file_range bad offset pointer",
         syscall(SYS_copy_file_range, src, 0x1000, dst, 0, 1, 0), 0, EFAULT);
  Expect("copy_file_range of no fd", copy_file_range(1000, NULL, dst, NULL, 1, 0), 0, EBADF);

  sync();
  printf("sync: done\n");
  Expect("syncfs", syncfs(dst), 0, 0);
  Expect("syncfs of no fd", syncfs(1000), 0, EBADF);
  // posix_fadvise returns the error number itself.
  printf("posix_fadvise SEQUENTIAL: %d\n", posix_fadvise(src, 0, 0, POSIX_FADV_SEQUENTIAL));
  printf("posix_fadvise DONTNEED: %d\n", posix_fadvise(src, 0, 0, POSIX_FADV_DONTNEED));
  printf("posix_fadvise advice 99: %s\n", ErrName(posix_fadvise(src, 0, 0, 99)));
  printf("posix_fadvise on a pipe: %s\n", ErrName(posix_fadvise(p[0], 0, 0, POSIX_FADV_NORMAL)));
  printf("posix_fadvise of no fd: %s\n", ErrName(posix_fadvise(1000, 0, 0, POSIX_FADV_NORMAL)));
  close(p[0]);
  close(p[1]);
  close(src);
  close(dst);
  unlink("src");
  unlink("dst");
}

static void Waits(void) {
  int status;
  Expect("waitpid -1", waitpid(-1, &status, 0), 0, ECHILD);
  Expect("waitpid -1 WNOHANG", waitpid(-1, &status, WNOHANG), 0, ECHILD);
  Expect("wait4 with bad pointers", syscall(SYS_wait4, -1, 0x1000, 0, 0x1000), 0, ECHILD);
  Expect("waitpid unknown option", waitpid(-1, &status, 0x100000), 0, EINVAL);
  siginfo_t info;
  memset(&info, 0xff, sizeof info);
  Expect("waitid P_ALL WEXITED", waitid(P_ALL, 0, &info, WEXITED), 0, ECHILD);
  Check("  si_signo cleared", info.si_signo == 0);
  Expect("waitid with no event", waitid(P_ALL, 0, &info, 0), 0, EINVAL);
  Expect("waitid P_PID 0", waitid(P_PID, 0, &info, WEXITED), 0, EINVAL);
  Expect("waitid bad siginfo", syscall(SYS_waitid, P_ALL, 0, 0x1000, WEXITED, 0), 0, EFAULT);
}

static void Usage(void) {
  struct rusage ru;
  Expect("getrusage RUSAGE_SELF", getrusage(RUSAGE_SELF, &ru), 0, 0);
  Check("  maxrss positive", ru.ru_maxrss > 0);
  Expect("getrusage RUSAGE_THREAD", getrusage(RUSAGE_THREAD, &ru), 0, 0);
  memset(&ru, 0xff, sizeof ru);
  Expect("getrusage RUSAGE_CHILDREN", getrusage(RUSAGE_CHILDREN, &ru), 0, 0);
  // The kernel's part of musl's struct, which goes on with reserved space.
  const size_t kernel_size = offsetof(struct rusage, ru_nivcsw) + sizeof ru.ru_nivcsw;
  const struct rusage zero = {0};
  Check("  all zero", memcmp(&ru, &zero, kernel_size) == 0);
  Expect("getrusage 5", getrusage(5, &ru), 0, EINVAL);
  Expect("getrusage bad pointer", syscall(SYS_getrusage, RUSAGE_SELF, 0x1000), 0, EFAULT);
  struct tms t;
  Check("times succeeds", times(&t) != (clock_t)-1);
  Check("  children's times zero", t.tms_cutime == 0 && t.tms_cstime == 0);
  Expect("times bad pointer", syscall(SYS_times, 0x1000), 0, EFAULT);
}

static void Identity(void) {
  const mode_t old = umask(027);
  Check("umask round trip", umask(old) == 027);
  Check("getpgrp == getpgid(0)", getpgrp() == getpgid(0));
  Check("getpgid(getpid()) == getpgrp()", getpgid(getpid()) == getpgrp());
  Check("getsid(0) == getsid(getpid())", getsid(0) == getsid(getpid()));
  Expect("getpgid(-1)", getpgid(-1), 0, ESRCH);
  Show("setpgid(0, 0)", setpgid(0, 0));
  // Now a group leader (or already a session leader): setsid refuses.
  Expect("setsid", setsid(), 0, EPERM);
  gid_t groups[256];
  const int n = getgroups(256, groups);
  Check("getgroups", n >= 0 && getgroups(0, NULL) == n);
  Show("setgroups to the same", setgroups(n, groups));
  // Linux writes (and so checks) the list only if there is one.
  Expect("getgroups bad pointer", syscall(SYS_getgroups, 256, 0x1000), 0, n > 0 ? EFAULT : 0);
}

static void Scheduling(void) {
  errno = 0;
  const int nice = getpriority(PRIO_PROCESS, 0);
  Check("getpriority", errno == 0);
  Expect("setpriority to the same", setpriority(PRIO_PROCESS, 0, nice), 0, 0);
  Check("  reads back", getpriority(PRIO_PROCESS, 0) == nice);
  const int lower = nice < 19 ? nice + 1 : 19;
  Expect("setpriority lower", setpriority(PRIO_PROCESS, 0, lower), 0, 0);
  Check("  reads back", getpriority(PRIO_PROCESS, 0) == lower);
  Check("  the same by pid", getpriority(PRIO_PROCESS, getpid()) == lower);

  cpu_set_t all, one, got;
  Expect("sched_getaffinity", sched_getaffinity(0, sizeof all, &all), 0, 0);
  Check("  some CPU", CPU_COUNT(&all) > 0);
  int first = 0;
  while (!CPU_ISSET(first, &all)) first++;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  Expect("sched_setaffinity to one CPU", sched_setaffinity(0, sizeof one, &one), 0, 0);
  sched_getaffinity(0, sizeof got, &got);
  Check("  reads back", CPU_EQUAL(&got, &one));
  Check("  getcpu is that CPU", sched_getcpu() == first);
  Expect("sched_setaffinity back", sched_setaffinity(0, sizeof all, &all), 0, 0);
  sched_getaffinity(0, sizeof got, &got);
  Check("  round trip", CPU_EQUAL(&got, &all));
  Expect("sched_setaffinity bad pointer", syscall(SYS_sched_setaffinity, 0, 8, 0x1000), 0,
         EFAULT);
  unsigned cpu, node;
  Expect("getcpu", syscall(SYS_getcpu, &cpu, &node, 0), 0, 0);

  // musl leaves these to the kernel's per-thread calls: raw syscalls.
  struct sched_param param = {0};
  Expect("sched_getscheduler", syscall(SYS_sched_getscheduler, 0), SCHED_OTHER, 0);
  Expect("sched_getparam", syscall(SYS_sched_getparam, 0, &param), 0, 0);
  printf("  priority %d\n", param.sched_priority);
  Expect("sched_setparam", syscall(SYS_sched_setparam, 0, &param), 0, 0);
  Expect("sched_setscheduler SCHED_BATCH", syscall(SYS_sched_setscheduler, 0, SCHED_BATCH, &param),
         0, 0);
  Expect("  sched_getscheduler", syscall(SYS_sched_getscheduler, 0), SCHED_BATCH, 0);
  Expect("sched_setscheduler SCHED_OTHER", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &param),
         0, 0);
  param.sched_priority = 1;
  Expect("SCHED_OTHER with priority 1", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &param), 0,
         EINVAL);
  Expect("sched_getparam NULL", syscall(SYS_sched_getparam, 0, 0), 0, EINVAL);
  Expect("sched_getparam pid -1", syscall(SYS_sched_getparam, -1, &param), 0, EINVAL);
  Expect("sched_get_priority_max SCHED_FIFO", sched_get_priority_max(SCHED_FIFO), 99, 0);
  Expect("sched_get_priority_min SCHED_FIFO", sched_get_priority_min(SCHED_FIFO), 1, 0);
  Expect("sched_get_priority_max SCHED_OTHER", sched_get_priority_max(SCHED_OTHER), 0, 0);
  Expect("sched_get_priority_max -1", sched_get_priority_max(-1), 0, EINVAL);

  const long query = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  Check("membarrier offers PRIVATE_EXPEDITED",
        query > 0 && (query & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0);
  Expect("membarrier PRIVATE_EXPEDITED unregistered",
         syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0), 0, EPERM);
  Expect("membarrier REGISTER_PRIVATE_EXPEDITED",
         syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0), 0, 0);
  Expect("membarrier PRIVATE_EXPEDITED",
         syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0), 0, 0);
  Expect("membarrier unknown command", syscall(SYS_membarrier, 1 << 20, 0, 0), 0, EINVAL);
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: fsmeta DIR\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);  // each line out before the next step, to see where it stops
  if (chdir(argv[1]) != 0) {
    printf("chdir: %s\n", ErrName(errno));
    return 1;
  }
  const int dfd = open(".", O_RDONLY | O_DIRECTORY);
  const int fd = open("f", O_CREAT | O_RDWR | O_TRUNC, 0644);
  if (dfd < 0 || fd < 0 || write(fd, "hello, metadata\n", 16) != 16) {
    printf("setup: %s\n", ErrName(errno));
    return 1;
  }
  Modes(dfd, fd);
  Links(dfd, fd);
  Owners(dfd, fd);
  Times(dfd, fd);
  Statx(dfd, fd);
  Sizes(fd);
  Locks(fd);
  Copies();
  Waits();
  Usage();
  Identity();
  Scheduling();
  unlink("f");
  unlink("g");
  unlink("s");
  unlink("s2");
  printf("%d unexpected results\n", failures);
  return failures == 0 ? 0 : 1;
}
