// Syscall handlers on a Process whose engine runs nothing: argument checking, descriptors and
// memory bookkeeping, with real guest memory.
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <asm/prctl.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "km/runtime/process.h"
#include "km/runtime_tests/syscalls_fixture.h"
#include "km/syscalls/dispatch.h"

namespace km {
namespace {

TEST_F(SyscallsTest, UnknownSyscallIsEnosys) {
  EXPECT_EQ(Call(1000), -ENOSYS);
  EXPECT_EQ(Call(SYS_uselib), -ENOSYS);
  EXPECT_EQ(Call(static_cast<uint64_t>(-1)), -ENOSYS);
}

TEST_F(SyscallsTest, BadPointersAreEfault) {
  char host_buffer[16] = "km's own memory";
  const uint64_t host = reinterpret_cast<uint64_t>(host_buffer);
  for (uint64_t bad : {uint64_t{0}, uint64_t{0x1000}, host, uint64_t{0xffff800000000000},
                       uint64_t{0xfffffffffffffff0}}) {
    EXPECT_EQ(Call(SYS_write, 1, bad, 16), -EFAULT) << std::hex << bad;
    EXPECT_EQ(Call(SYS_clock_gettime, CLOCK_MONOTONIC, bad), -EFAULT) << std::hex << bad;
    EXPECT_EQ(Call(SYS_open, bad, O_RDONLY), -EFAULT) << std::hex << bad;
    EXPECT_EQ(Call(SYS_uname, bad), -EFAULT) << std::hex << bad;
    EXPECT_EQ(Call(SYS_futex, bad, FUTEX_WAKE, 1), -EFAULT) << std::hex << bad;
    if (bad != 0) {  // a null action only reads the old one
      EXPECT_EQ(Call(SYS_rt_sigaction, SIGUSR1, bad, 0, 8), -EFAULT) << std::hex << bad;
    }
  }
  EXPECT_STREQ(host_buffer, "km's own memory");
  // A buffer that runs off the end of the mapping.
  EXPECT_EQ(Call(SYS_write, 1, kData + kDataSize - 8, 16), -EFAULT);
  // Nothing to transfer touches no memory.
  EXPECT_EQ(Call(SYS_write, 1, 0x1000, 0), 0);
}

TEST_F(SyscallsTest, DescriptorsNotTheGuestsAreEbadf) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);  // km's own
  EXPECT_EQ(Call(SYS_write, p[1], kData, 1), -EBADF);
  EXPECT_EQ(Call(SYS_read, p[0], kData, 1), -EBADF);
  EXPECT_EQ(Call(SYS_close, p[0]), -EBADF);
  EXPECT_EQ(Call(SYS_dup2, 1, p[1]), -EBADF);
  EXPECT_EQ(Call(SYS_fcntl, p[0], F_GETFL), -EBADF);
  EXPECT_EQ(Call(SYS_fstat, p[0], kData), -EBADF);
  EXPECT_EQ(Call(SYS_ioctl, p[0], FIONREAD, kData), -EBADF);
  EXPECT_NE(fcntl(p[0], F_GETFD), -1);
  close(p[0]);
  close(p[1]);
}

TEST_F(SyscallsTest, FileRoundTrip) {
  const std::string path = TempPath();
  const int64_t fd = Call(SYS_open, GuestString(path), O_CREAT | O_TRUNC | O_RDWR, 0644);
  ASSERT_GE(fd, 3);
  const uint64_t text = GuestString("hello, file\n", 0x1000);
  EXPECT_EQ(Call(SYS_write, fd, text, 12), 12);
  EXPECT_EQ(Call(SYS_lseek, fd, 7, SEEK_SET), 7);
  EXPECT_EQ(Call(SYS_read, fd, kData + 0x2000, 64), 5);
  char back[6] = {};
  ASSERT_TRUE(mem().Read(kData + 0x2000, back, 5).ok());
  EXPECT_STREQ(back, "file\n");
  EXPECT_EQ(Call(SYS_pread64, fd, kData + 0x2000, 5, 0), 5);
  ASSERT_TRUE(mem().Read(kData + 0x2000, back, 5).ok());
  EXPECT_STREQ(back, "hello");

  EXPECT_EQ(Call(SYS_fstat, fd, kData + 0x3000), 0);
  struct stat st;
  ASSERT_TRUE(mem().Read(kData + 0x3000, &st, sizeof st).ok());
  EXPECT_EQ(st.st_size, 12);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(Call(SYS_stat, GuestString(path), kData + 0x3000), 0);
  EXPECT_EQ(Call(SYS_newfstatat, AT_FDCWD, GuestString(path), kData + 0x3000, 0), 0);

  // readv across two iovecs.
  struct iovec iov[2] = {{reinterpret_cast<void*>(kData + 0x4000), 6},
                         {reinterpret_cast<void*>(kData + 0x4100), 6}};
  ASSERT_TRUE(mem().Write(kData + 0x3800, iov, sizeof iov).ok());
  EXPECT_EQ(Call(SYS_lseek, fd, 0, SEEK_SET), 0);
  EXPECT_EQ(Call(SYS_readv, fd, kData + 0x3800, 2), 12);
  ASSERT_TRUE(mem().Read(kData + 0x4100, back, 5).ok());
  EXPECT_STREQ(back, " file");
  EXPECT_EQ(Call(SYS_readv, fd, kData + 0x3800, 5000), -EINVAL);

  const int64_t dup = Call(SYS_dup, fd);
  EXPECT_GE(dup, 3);
  EXPECT_EQ(Call(SYS_close, dup), 0);
  EXPECT_EQ(Call(SYS_close, fd), 0);
  EXPECT_EQ(Call(SYS_close, fd), -EBADF);
  EXPECT_EQ(Call(SYS_read, fd, kData, 1), -EBADF);
  EXPECT_EQ(Call(SYS_unlink, GuestString(path)), 0);
  EXPECT_EQ(Call(SYS_access, GuestString(path), F_OK), -ENOENT);
}

TEST_F(SyscallsTest, ReadIntoReadOnlyMemoryIsEfault) {
  const int64_t fd = Call(SYS_open, GuestString("/proc/self/exe"), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(mem().Map(0x500000, 0x1000, kProtRead, RegionKind::kMmap, "ro").ok());
  EXPECT_EQ(Call(SYS_read, fd, 0x500000, 16), -EFAULT);
  EXPECT_EQ(Call(SYS_close, fd), 0);
}

TEST_F(SyscallsTest, BuffersMaySpanRegions) {
  // Two adjacent regions that do not merge (different protection).
  ASSERT_TRUE(mem().Map(0x600000, 0x1000, kProtRead | kProtWrite, RegionKind::kMmap, "a").ok());
  ASSERT_TRUE(
      mem().Map(0x601000, 0x1000, kProtRead | kProtWrite | kProtExec, RegionKind::kMmap, "b")
          .ok());
  int p[2];
  ASSERT_EQ(Call(SYS_pipe, kData), 0);
  ASSERT_TRUE(mem().Read(kData, p, sizeof p).ok());
  const std::string text(32, 'x');
  ASSERT_TRUE(mem().Write(0x600ff0, text.data(), text.size()).ok());
  EXPECT_EQ(Call(SYS_write, p[1], 0x600ff0, 32), 32);
  EXPECT_EQ(Call(SYS_read, p[0], 0x601ff0 - 16, 32), 32);
  EXPECT_EQ(Call(SYS_close, p[0]), 0);
  EXPECT_EQ(Call(SYS_close, p[1]), 0);
}

TEST_F(SyscallsTest, ProcFilesThatAreKmAreRefused) {
  EXPECT_EQ(Call(SYS_open, GuestString("/proc/self/mem"), O_RDWR), -EACCES);
  EXPECT_EQ(Call(SYS_open, GuestString("/proc/" + std::to_string(getpid()) + "/mem"), O_RDWR),
            -EACCES);
  const std::string link = TempPath() + "_link";
  ASSERT_EQ(symlink("/proc/self/mem", link.c_str()), 0);
  EXPECT_EQ(Call(SYS_open, GuestString(link), O_RDWR), -EACCES);
  unlink(link.c_str());
  int p[2];
  ASSERT_EQ(pipe(p), 0);  // km's own
  EXPECT_EQ(Call(SYS_open, GuestString("/proc/self/fd/" + std::to_string(p[0])), O_RDONLY),
            -ENOENT);
  const int64_t fd = Call(SYS_open, GuestString("/proc/self/fd/1"), O_WRONLY);
  EXPECT_GE(fd, 0);
  Call(SYS_close, fd);
  close(p[0]);
  close(p[1]);
}

TEST_F(SyscallsTest, Brk) {
  EXPECT_EQ(Call(SYS_brk, 0), static_cast<int64_t>(kBrkStart));
  EXPECT_EQ(Call(SYS_brk, kBrkStart + 0x2500), static_cast<int64_t>(kBrkStart + 0x2500));
  const uint32_t value = 42;
  EXPECT_TRUE(mem().Write(kBrkStart + 0x2400, &value, sizeof value).ok());
  EXPECT_FALSE(mem().Write(kBrkStart + 0x3000, &value, sizeof value).ok());
  EXPECT_EQ(Call(SYS_brk, kBrkStart - 0x1000), static_cast<int64_t>(kBrkStart + 0x2500));
  EXPECT_EQ(Call(SYS_brk, kBrkStart + 0x1000), static_cast<int64_t>(kBrkStart + 0x1000));
  EXPECT_FALSE(mem().Write(kBrkStart + 0x1000, &value, sizeof value).ok());
  // Something mapped in the way stops the break.
  ASSERT_TRUE(mem().Map(kBrkStart + 0x4000, 0x1000, kProtRead, RegionKind::kMmap, "x").ok());
  EXPECT_EQ(Call(SYS_brk, kBrkStart + 0x8000), static_cast<int64_t>(kBrkStart + 0x1000));
  std::vector<Region> regions = mem().Regions();
  int heaps = 0;
  for (const Region& r : regions) heaps += r.kind == RegionKind::kHeap;
  EXPECT_EQ(heaps, 1);
}

TEST_F(SyscallsTest, MmapAnonymous) {
  const int64_t a = Call(SYS_mmap, 0, 10000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                         static_cast<uint64_t>(-1), 0);
  ASSERT_GT(a, 0);
  EXPECT_EQ(a % 4096, 0);
  const uint64_t value = 7;
  EXPECT_TRUE(mem().Write(a + 12000, &value, sizeof value).ok());  // rounded up to 3 pages
  EXPECT_EQ(Call(SYS_munmap, a, 10000), 0);
  EXPECT_FALSE(mem().Write(a, &value, sizeof value).ok());

  // A free hint is honoured; MAP_FIXED_NOREPLACE over a mapping is EEXIST.
  EXPECT_EQ(Call(SYS_mmap, 0x20000000, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            0x20000000);
  EXPECT_EQ(Call(SYS_mmap, 0x20000000, 4096, PROT_READ,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0),
            -EEXIST);
  // A taken hint falls back elsewhere.
  const int64_t elsewhere =
      Call(SYS_mmap, 0x20000000, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  EXPECT_GT(elsewhere, 0);
  EXPECT_NE(elsewhere, 0x20000000);
  // MAP_FIXED replaces.
  EXPECT_EQ(Call(SYS_mmap, 0x20000000, 4096, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
            0x20000000);
  EXPECT_TRUE(mem().Write(0x20000000, &value, sizeof value).ok());

  EXPECT_EQ(Call(SYS_mmap, 0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), -EINVAL);
  EXPECT_EQ(Call(SYS_mmap, 0, 4096, PROT_READ, MAP_ANONYMOUS, -1, 0), -EINVAL);
  EXPECT_EQ(Call(SYS_mmap, 0x20000001, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                 -1, 0),
            -EINVAL);
  EXPECT_EQ(Call(SYS_mmap, 0, 1ull << 50, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            -ENOMEM);
  EXPECT_EQ(Call(SYS_munmap, 0x20000001, 4096), -EINVAL);
  EXPECT_EQ(Call(SYS_mremap, 0x20000000, 4096, 8192, 1), -ENOMEM);
}

TEST_F(SyscallsTest, MprotectAndMadvise) {
  const int64_t a = Call(SYS_mmap, 0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                         -1, 0);
  ASSERT_GT(a, 0);
  const uint64_t value = 0x1122334455667788;
  ASSERT_TRUE(mem().Write(a + 4096, &value, sizeof value).ok());
  EXPECT_EQ(Call(SYS_madvise, a, 8192, MADV_DONTNEED), 0);
  uint64_t back = 1;
  ASSERT_TRUE(mem().Read(a + 4096, &back, sizeof back).ok());
  EXPECT_EQ(back, 0u);

  EXPECT_EQ(Call(SYS_mprotect, a, 4096, PROT_READ), 0);
  EXPECT_FALSE(mem().Write(a, &value, sizeof value).ok());
  EXPECT_EQ(Call(SYS_clock_gettime, CLOCK_MONOTONIC, a), -EFAULT);
  const int before = engine_->code_modified;
  EXPECT_EQ(Call(SYS_mprotect, a, 4096, PROT_READ | PROT_EXEC), 0);
  EXPECT_EQ(engine_->code_modified, before + 1);
  EXPECT_EQ(Call(SYS_mprotect, a + 1, 4096, PROT_READ), -EINVAL);
  EXPECT_EQ(Call(SYS_munmap, a, 8192), 0);
  EXPECT_EQ(Call(SYS_mprotect, a, 4096, PROT_READ), -ENOMEM);
}

TEST_F(SyscallsTest, MmapFilePrivate) {
  const std::string path = TempPath() + "_map";
  std::string content(5000, 'k');
  content += "end";
  FILE* f = fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fwrite(content.data(), 1, content.size(), f);
  fclose(f);
  const int64_t fd = Call(SYS_open, GuestString(path), O_RDONLY);
  ASSERT_GE(fd, 3);
  const int64_t a = Call(SYS_mmap, 0, 8192, PROT_READ, MAP_PRIVATE, fd, 0);
  ASSERT_GT(a, 0);
  char back[8] = {};
  ASSERT_TRUE(mem().Read(a + 5000, back, 4).ok());
  EXPECT_EQ(std::string(back, 4), std::string("end\0", 4));  // zero past the end of the file
  EXPECT_FALSE(mem().Write(a, "x", 1).ok());                   // PROT_READ holds
  const int64_t at_offset = Call(SYS_mmap, 0, 4096, PROT_READ, MAP_PRIVATE, fd, 4096);
  ASSERT_GT(at_offset, 0);
  ASSERT_TRUE(mem().Read(at_offset + 5000 - 4096, back, 3).ok());
  EXPECT_EQ(std::string(back, 3), "end");
  EXPECT_EQ(Call(SYS_mmap, 0, 4096, PROT_READ, MAP_SHARED, fd, 0), -ENODEV);
  EXPECT_EQ(Call(SYS_mmap, 0, 4096, PROT_READ, MAP_PRIVATE, fd, 100), -EINVAL);
  EXPECT_EQ(Call(SYS_mmap, 0, 4096, PROT_READ, MAP_PRIVATE, 1000, 0), -EBADF);
  Call(SYS_close, fd);
  unlink(path.c_str());
}

TEST_F(SyscallsTest, ArchPrctlSetsTheThreadsFsBase) {
  EXPECT_EQ(Call(SYS_arch_prctl, ARCH_SET_FS, 0x7000123400), 0);
  Regs regs;
  ASSERT_TRUE(process_->main_thread()->GetRegs(&regs).ok());
  EXPECT_EQ(regs.fs_base, 0x7000123400u);
  EXPECT_EQ(Call(SYS_arch_prctl, ARCH_GET_FS, kData), 0);
  uint64_t fs = 0;
  ASSERT_TRUE(mem().Read(kData, &fs, sizeof fs).ok());
  EXPECT_EQ(fs, 0x7000123400u);
  EXPECT_EQ(Call(SYS_arch_prctl, ARCH_SET_FS, 0xffff800000000000), -EPERM);
  EXPECT_EQ(Call(SYS_arch_prctl, 0x9999, 0), -EINVAL);
}

TEST_F(SyscallsTest, SignalsAreRecorded) {
  const uint64_t act[4] = {0x401000, 0x04000000, 0x401100, 0x5};
  ASSERT_TRUE(mem().Write(kData, act, sizeof act).ok());
  EXPECT_EQ(Call(SYS_rt_sigaction, SIGUSR1, kData, 0, 8), 0);
  EXPECT_EQ(Call(SYS_rt_sigaction, SIGUSR1, 0, kData + 0x100, 8), 0);
  uint64_t old[4];
  ASSERT_TRUE(mem().Read(kData + 0x100, old, sizeof old).ok());
  EXPECT_EQ(std::memcmp(act, old, sizeof act), 0);
  EXPECT_EQ(Call(SYS_rt_sigaction, SIGKILL, kData, 0, 8), -EINVAL);
  EXPECT_EQ(Call(SYS_rt_sigaction, SIGUSR1, kData, 0, 4), -EINVAL);
  EXPECT_EQ(Call(SYS_rt_sigaction, 65, 0, 0, 8), -EINVAL);

  const uint64_t set = 1ull << (SIGUSR2 - 1);
  ASSERT_TRUE(mem().Write(kData, &set, sizeof set).ok());
  EXPECT_EQ(Call(SYS_rt_sigprocmask, SIG_BLOCK, kData, kData + 8, 8), 0);
  EXPECT_EQ(Call(SYS_rt_sigprocmask, SIG_BLOCK, 0, kData + 8, 8), 0);
  uint64_t blocked = 0;
  ASSERT_TRUE(mem().Read(kData + 8, &blocked, sizeof blocked).ok());
  EXPECT_EQ(blocked, set);
  EXPECT_EQ(Call(SYS_rt_sigprocmask, 99, kData, 0, 8), -EINVAL);

  // Signals to others are refused; ignored ones do nothing.
  EXPECT_EQ(Call(SYS_kill, 1, SIGTERM), -EPERM);
  // A child of km's (the payload's, each a km) gets the signals a km passes to its payload.
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    for (;;) pause();
  }
  EXPECT_EQ(Call(SYS_kill, child, SIGUSR1), -EPERM);
  EXPECT_EQ(Call(SYS_kill, child, 0), 0);
  EXPECT_EQ(Call(SYS_kill, child, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << status;
  EXPECT_EQ(Call(SYS_kill, getpid(), 0), 0);
  EXPECT_EQ(Call(SYS_kill, getpid(), SIGCHLD), 0);
  EXPECT_FALSE(process_->ended());
}

TEST_F(SyscallsTest, SigkillToSelfEndsThePayloadAtOnce) {
  int status = -1;
  process_->set_exit_handler([&status](const ExitInfo& info) { status = info.status; });
  EXPECT_EQ(Call(SYS_kill, getpid(), SIGKILL), 0);
  EXPECT_TRUE(last_end_thread_);
  EXPECT_TRUE(process_->ended());
  EXPECT_EQ(status, 128 + SIGKILL);
}

// Any other signal is only made pending: the thread's loop delivers it (tests/e2e, signals).
TEST_F(SyscallsTest, OtherSignalsToSelfArePendingForTheThread) {
  EXPECT_EQ(Call(SYS_kill, getpid(), SIGABRT), 0);
  EXPECT_FALSE(last_end_thread_);
  EXPECT_FALSE(process_->ended());
}

// sigqueue can reach only the payload itself: never km's parent or anyone else on the host.
TEST_F(SyscallsTest, SigqueueOnlyToThePayload) {
  siginfo_t info = {};
  info.si_code = SI_QUEUE;
  ASSERT_TRUE(mem().Write(kData, &info, sizeof info).ok());
  EXPECT_EQ(Call(SYS_rt_sigqueueinfo, 1, SIGUSR1, kData), -EPERM);
  EXPECT_EQ(Call(SYS_rt_sigqueueinfo, getppid(), SIGUSR1, kData), -EPERM);
  EXPECT_EQ(Call(SYS_rt_tgsigqueueinfo, 1, 1, SIGUSR1, kData), -ESRCH);
  EXPECT_EQ(Call(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, 0x1000), -EFAULT);
  EXPECT_EQ(Call(SYS_rt_sigqueueinfo, getpid(), 65, kData), -EINVAL);
  EXPECT_EQ(Call(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, kData), 0);
}

TEST_F(SyscallsTest, ExitGroupEndsThePayload) {
  int status = -1;
  process_->set_exit_handler([&status](const ExitInfo& info) { status = info.status; });
  Call(SYS_exit_group, 300);
  EXPECT_TRUE(last_end_thread_);
  EXPECT_EQ(status, 300 & 0xff);
}

TEST_F(SyscallsTest, Futex) {
  const uint32_t word = 5;
  ASSERT_TRUE(mem().Write(kData, &word, sizeof word).ok());
  EXPECT_EQ(Call(SYS_futex, kData, FUTEX_WAKE_PRIVATE, 1), 0);
  EXPECT_EQ(Call(SYS_futex, kData, FUTEX_WAIT_PRIVATE, 6, 0), -EAGAIN);
  const struct timespec timeout = {0, 1000000};
  ASSERT_TRUE(mem().Write(kData + 16, &timeout, sizeof timeout).ok());
  EXPECT_EQ(Call(SYS_futex, kData, FUTEX_WAIT_PRIVATE, 5, kData + 16), -ETIMEDOUT);
  EXPECT_EQ(Call(SYS_futex, kData + 1, FUTEX_WAKE, 1), -EINVAL);
  EXPECT_EQ(Call(SYS_futex, kData, FUTEX_CMP_REQUEUE, 1, 1, kData + 0x5000, 5), 0);
  EXPECT_EQ(Call(SYS_futex, kData, FUTEX_CMP_REQUEUE, 1, 1, 0x1000, 5), -EFAULT);
  EXPECT_EQ(Call(SYS_futex, kData, FUTEX_WAIT_REQUEUE_PI, 5, 0), -ENOSYS);
}

TEST_F(SyscallsTest, TimersRefuseBadInput) {
  char host_buffer[64] = "km's own memory";
  const uint64_t host = reinterpret_cast<uint64_t>(host_buffer);
  // struct sigevent: value, signo, notify, tid.
  struct {
    uint64_t value;
    int32_t signo, notify, tid;
    uint8_t pad[44];
  } event = {7, SIGUSR1, SIGEV_SIGNAL, 0, {}};
  ASSERT_TRUE(mem().Write(kData, &event, sizeof event).ok());
  const uint64_t id_out = kData + 0x100;
  for (uint64_t bad : {uint64_t{0x1000}, host}) {
    EXPECT_EQ(Call(SYS_timer_create, CLOCK_MONOTONIC, bad, id_out), -EFAULT);
    EXPECT_EQ(Call(SYS_timer_create, CLOCK_MONOTONIC, kData, bad), -EFAULT);
    EXPECT_EQ(Call(SYS_setitimer, ITIMER_REAL, bad, 0), -EFAULT);
    EXPECT_EQ(Call(SYS_getitimer, ITIMER_REAL, bad), -EFAULT);
  }
  EXPECT_STREQ(host_buffer, "km's own memory");
  // A refused timer_create left no timer behind: the first that succeeds is id 0.
  ASSERT_EQ(Call(SYS_timer_create, CLOCK_MONOTONIC, kData, id_out), 0);
  int32_t id = -1;
  ASSERT_TRUE(mem().Read(id_out, &id, sizeof id).ok());
  EXPECT_EQ(id, 0);

  event.notify = SIGEV_THREAD;  // libc's, never the kernel's
  ASSERT_TRUE(mem().Write(kData, &event, sizeof event).ok());
  EXPECT_EQ(Call(SYS_timer_create, CLOCK_MONOTONIC, kData, id_out), -EINVAL);
  event.notify = SIGEV_THREAD_ID;
  event.tid = 999999;  // no such thread
  ASSERT_TRUE(mem().Write(kData, &event, sizeof event).ok());
  EXPECT_EQ(Call(SYS_timer_create, CLOCK_MONOTONIC, kData, id_out), -EINVAL);
  event = {7, 65, SIGEV_SIGNAL, 0, {}};
  ASSERT_TRUE(mem().Write(kData, &event, sizeof event).ok());
  EXPECT_EQ(Call(SYS_timer_create, CLOCK_MONOTONIC, kData, id_out), -EINVAL);
  EXPECT_EQ(Call(SYS_timer_create, CLOCK_PROCESS_CPUTIME_ID, 0, id_out), -EINVAL);

  const struct itimerspec bad_nsec = {{0, 0}, {0, 1000000000}};
  ASSERT_TRUE(mem().Write(kData + 0x200, &bad_nsec, sizeof bad_nsec).ok());
  EXPECT_EQ(Call(SYS_timer_settime, id, 0, kData + 0x200, 0), -EINVAL);
  const struct itimerspec fine = {{0, 0}, {100, 0}};
  ASSERT_TRUE(mem().Write(kData + 0x200, &fine, sizeof fine).ok());
  EXPECT_EQ(Call(SYS_timer_settime, id, 2, kData + 0x200, 0), -EINVAL);  // unknown flag
  EXPECT_EQ(Call(SYS_timer_settime, id + 1, 0, kData + 0x200, 0), -EINVAL);
  EXPECT_EQ(Call(SYS_timer_settime, -1, 0, kData + 0x200, 0), -EINVAL);
  EXPECT_EQ(Call(SYS_timer_settime, id, 0, kData + 0x200, 0), 0);
  struct itimerspec left = {};
  EXPECT_EQ(Call(SYS_timer_gettime, id, kData + 0x300), 0);
  ASSERT_TRUE(mem().Read(kData + 0x300, &left, sizeof left).ok());
  EXPECT_GT(left.it_value.tv_sec, 90);
  EXPECT_EQ(Call(SYS_timer_gettime, id, host), -EFAULT);
  EXPECT_EQ(Call(SYS_timer_getoverrun, id), 0);
  EXPECT_EQ(Call(SYS_timer_delete, id), 0);
  EXPECT_EQ(Call(SYS_timer_delete, id), -EINVAL);
  EXPECT_EQ(Call(SYS_timer_gettime, id, kData + 0x300), -EINVAL);

  // ITIMER_VIRTUAL and ITIMER_PROF count CPU time, which km does not keep.
  EXPECT_EQ(Call(SYS_setitimer, ITIMER_VIRTUAL, 0, 0), -EINVAL);
  EXPECT_EQ(Call(SYS_getitimer, ITIMER_PROF, kData), -EINVAL);
  const struct itimerval bad_usec = {{0, 0}, {0, 1000000}};
  ASSERT_TRUE(mem().Write(kData + 0x400, &bad_usec, sizeof bad_usec).ok());
  EXPECT_EQ(Call(SYS_setitimer, ITIMER_REAL, kData + 0x400, 0), -EINVAL);
}

TEST_F(SyscallsTest, SignalfdRefusesBadInputAndLosesNoSignal) {
  const uint64_t usr1 = 1ull << (SIGUSR1 - 1);
  ASSERT_TRUE(mem().Write(kData, &usr1, sizeof usr1).ok());
  EXPECT_EQ(Call(SYS_signalfd4, -1, 0x1000, 8, 0), -EFAULT);
  EXPECT_EQ(Call(SYS_signalfd4, -1, kData, 4, 0), -EINVAL);
  EXPECT_EQ(Call(SYS_signalfd4, -1, kData, 8, O_APPEND), -EINVAL);
  EXPECT_EQ(Call(SYS_signalfd4, 100000, kData, 8, 0), -EBADF);
  EXPECT_EQ(Call(SYS_signalfd4, 0, kData, 8, 0), -EINVAL);  // stdin is no signalfd
  const int64_t sfd = Call(SYS_signalfd4, -1, kData, 8, SFD_NONBLOCK);
  ASSERT_GE(sfd, 0);
  EXPECT_EQ(Call(SYS_read, sfd, kData + 0x100, 128), -EAGAIN);
  EXPECT_EQ(Call(SYS_read, sfd, kData + 0x100, 127), -EINVAL);

  // A pending SIGUSR1 survives a read into a bad buffer, and a good read then takes it.
  char host_buffer[128] = "km's own memory";
  process_->main_thread()->SendSignal({.signo = SIGUSR1, .code = SI_USER});
  EXPECT_EQ(Call(SYS_read, sfd, reinterpret_cast<uint64_t>(host_buffer), 128), -EFAULT);
  EXPECT_STREQ(host_buffer, "km's own memory");
  EXPECT_EQ(Call(SYS_read, sfd, kData + kDataSize - 64, 128), -EFAULT);
  EXPECT_EQ(Call(SYS_read, sfd, kData + 0x100, 256), 128);
  uint32_t signo = 0;
  ASSERT_TRUE(mem().Read(kData + 0x100, &signo, sizeof signo).ok());
  EXPECT_EQ(signo, static_cast<uint32_t>(SIGUSR1));
  EXPECT_EQ(Call(SYS_read, sfd, kData + 0x100, 128), -EAGAIN);
  EXPECT_EQ(Call(SYS_close, sfd), 0);
}

TEST_F(SyscallsTest, AlarmReportsWhatWasLeft) {
  EXPECT_EQ(Call(SYS_alarm, 100), 0);
  EXPECT_EQ(Call(SYS_alarm, 5), 100);
  EXPECT_EQ(Call(SYS_alarm, 0), 5);
  EXPECT_EQ(Call(SYS_alarm, 0), 0);
}

TEST_F(SyscallsTest, ForkIsNotSupported) {
  EXPECT_EQ(Call(SYS_clone, SIGCHLD, 0, 0, 0, 0), -ENOSYS);
  EXPECT_EQ(Call(SYS_clone, CLONE_VM | CLONE_VFORK | SIGCHLD, 0, 0, 0, 0), -ENOSYS);
}

TEST_F(SyscallsTest, Identity) {
  EXPECT_EQ(Call(SYS_getpid), getpid());
  EXPECT_EQ(Call(SYS_getuid), getuid());
  EXPECT_EQ(Call(SYS_uname, kData), 0);
  char sysname[6] = {};
  ASSERT_TRUE(mem().Read(kData, sysname, 6).ok());
  EXPECT_STREQ(sysname, "Linux");
  EXPECT_EQ(Call(SYS_getcwd, kData, 1), -ERANGE);
  const int64_t n = Call(SYS_getcwd, kData, 4096);
  ASSERT_GT(n, 1);
  char cwd[4096];
  ASSERT_TRUE(mem().Read(kData, cwd, n).ok());
  char host_cwd[4096];
  ASSERT_NE(getcwd(host_cwd, sizeof host_cwd), nullptr);
  EXPECT_STREQ(cwd, host_cwd);
  EXPECT_EQ(Call(SYS_getrandom, kData, 32, 0), 32);
  EXPECT_GT(Call(SYS_sched_getaffinity, 0, 128, kData), 0);
  EXPECT_EQ(Call(SYS_ioctl, 1, 0x12345678, kData), -ENOTTY);
}

}  // namespace
}  // namespace km
