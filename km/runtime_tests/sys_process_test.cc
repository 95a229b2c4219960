// sys_process.cc's handlers: the payload is km's process alone. Other processes are refused,
// waits find no child, bad pointers are EFAULT, and what is answered is the host's view of km.
#include <errno.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "km/runtime_tests/syscalls_fixture.h"

namespace km {
namespace {

using ProcessSyscallsTest = SyscallsTest;

TEST_F(ProcessSyscallsTest, WaitsFindNoChild) {
  EXPECT_EQ(Call(SYS_wait4, -1, kData, 0, kData + 0x100), -ECHILD);
  EXPECT_EQ(Call(SYS_wait4, getppid(), kData, WNOHANG, 0), -ECHILD);
  // Linux writes the status only for a child it reaps.
  EXPECT_EQ(Call(SYS_wait4, -1, 0x1000, 0, 0x1000), -ECHILD);
  EXPECT_EQ(Call(SYS_wait4, -1, kData, 0x100000, 0), -EINVAL);

  // waitid clears the fields it reports whatever the result, not the hole at 12..15.
  const std::vector<uint8_t> ones(sizeof(siginfo_t), 0xff);
  ASSERT_TRUE(mem().Write(kData, ones.data(), ones.size()).ok());
  EXPECT_EQ(Call(SYS_waitid, P_ALL, 0, kData, WEXITED, 0), -ECHILD);
  uint8_t info[32];
  ASSERT_TRUE(mem().Read(kData, info, sizeof info).ok());
  for (int i = 0; i < 28; i++) EXPECT_EQ(info[i], i >= 12 && i < 16 ? 0xff : 0) << i;
  EXPECT_EQ(info[28], 0xff);
  EXPECT_EQ(Call(SYS_waitid, P_ALL, 0, kData, 0, 0), -EINVAL);
  EXPECT_EQ(Call(SYS_waitid, P_PID, 0, kData, WEXITED, 0), -EINVAL);
  EXPECT_EQ(Call(SYS_waitid, 9, 0, kData, WEXITED, 0), -EINVAL);
  EXPECT_EQ(Call(SYS_waitid, P_ALL, 0, 0x1000, WEXITED, 0), -EFAULT);
  // No guest fd is a pidfd; one of km's is not the guest's at all.
  EXPECT_EQ(Call(SYS_waitid, P_PIDFD, 1, kData, WEXITED, 0), -EINVAL);
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  EXPECT_EQ(Call(SYS_waitid, P_PIDFD, p[0], kData, WEXITED, 0), -EBADF);
  close(p[0]);
  close(p[1]);
}

TEST_F(ProcessSyscallsTest, OtherProcessesAreRefused) {
  const int mask = 1;  // CPU 0: a mask that would be valid
  ASSERT_TRUE(mem().Write(kData, &mask, sizeof mask).ok());
  const int parent = getppid();
  errno = 0;
  const int parent_nice = getpriority(PRIO_PROCESS, parent);
  ASSERT_EQ(errno, 0);
  const int parent_policy = sched_getscheduler(parent);
  for (int other : {1, parent, 0x3fffffff}) {
    if (other == getpid()) continue;
    SCOPED_TRACE(other);
    EXPECT_EQ(Call(SYS_getpgid, other), -ESRCH);
    EXPECT_EQ(Call(SYS_getsid, other), -ESRCH);
    EXPECT_EQ(Call(SYS_setpgid, other, 0), -ESRCH);
    EXPECT_EQ(Call(SYS_getpriority, PRIO_PROCESS, other), -ESRCH);
    EXPECT_EQ(Call(SYS_setpriority, PRIO_PROCESS, other, 19), -ESRCH);
    EXPECT_EQ(Call(SYS_sched_setaffinity, other, sizeof mask, kData), -ESRCH);
    EXPECT_EQ(Call(SYS_sched_getaffinity, other, 8, kData + 0x100), -ESRCH);
    EXPECT_EQ(Call(SYS_sched_getparam, other, kData + 0x100), -ESRCH);
    EXPECT_EQ(Call(SYS_sched_setparam, other, kData + 0x100), -ESRCH);
    EXPECT_EQ(Call(SYS_sched_getscheduler, other), -ESRCH);
    EXPECT_EQ(Call(SYS_sched_setscheduler, other, SCHED_IDLE, kData + 0x100), -ESRCH);
  }
  // A group or a user may take in other processes: refused even for km's own.
  EXPECT_EQ(Call(SYS_setpriority, PRIO_PGRP, 0, 19), -EPERM);
  EXPECT_EQ(Call(SYS_setpriority, PRIO_USER, 0, 19), -EPERM);
  EXPECT_EQ(Call(SYS_getpriority, PRIO_USER, getuid()), -EPERM);
  EXPECT_EQ(Call(SYS_getpriority, 7, 0), -EINVAL);
  EXPECT_EQ(getpriority(PRIO_PROCESS, parent), parent_nice);
  EXPECT_EQ(sched_getscheduler(parent), parent_policy);
}

TEST_F(ProcessSyscallsTest, BadPointersAreEfault) {
  char host_buffer[256] = "km's own memory";
  const uint64_t host = reinterpret_cast<uint64_t>(host_buffer);
  const int ngroups = getgroups(0, nullptr);
  for (uint64_t bad : {uint64_t{0x1000}, host, uint64_t{0xffff800000000000}}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(Call(SYS_getrusage, RUSAGE_SELF, bad), -EFAULT);
    EXPECT_EQ(Call(SYS_getrusage, RUSAGE_CHILDREN, bad), -EFAULT);
    EXPECT_EQ(Call(SYS_times, bad), -EFAULT);
    EXPECT_EQ(Call(SYS_sched_setaffinity, 0, 8, bad), -EFAULT);
    EXPECT_EQ(Call(SYS_sched_getparam, 0, bad), -EFAULT);
    EXPECT_EQ(Call(SYS_sched_setparam, 0, bad), -EFAULT);
    EXPECT_EQ(Call(SYS_sched_setscheduler, 0, SCHED_OTHER, bad), -EFAULT);
    EXPECT_EQ(Call(SYS_getcpu, bad, 0, 0), -EFAULT);
    EXPECT_EQ(Call(SYS_getcpu, 0, bad, 0), -EFAULT);
    EXPECT_EQ(Call(SYS_setgroups, 1, bad), -EFAULT);
    if (ngroups > 0) {
      EXPECT_EQ(Call(SYS_getgroups, ngroups, bad), -EFAULT);
    }
    EXPECT_EQ(Call(SYS_waitid, P_ALL, 0, bad, WEXITED, 0), -EFAULT);
  }
  EXPECT_STREQ(host_buffer, "km's own memory");
  // A null parameter is EINVAL, as on Linux.
  EXPECT_EQ(Call(SYS_sched_getparam, 0, 0), -EINVAL);
  EXPECT_EQ(Call(SYS_sched_setparam, 0, 0), -EINVAL);
  EXPECT_EQ(Call(SYS_sched_setscheduler, 0, SCHED_OTHER, 0), -EINVAL);
  EXPECT_EQ(Call(SYS_sched_setscheduler, 0, -1, kData), -EINVAL);
  EXPECT_EQ(Call(SYS_getrusage, 5, kData), -EINVAL);
}

TEST_F(ProcessSyscallsTest, AnswersAreTheHostsViewOfKm) {
  EXPECT_EQ(Call(SYS_getpgrp), getpgrp());
  EXPECT_EQ(Call(SYS_getpgid, 0), getpgrp());
  EXPECT_EQ(Call(SYS_getpgid, getpid()), getpgrp());
  EXPECT_EQ(Call(SYS_getsid, 0), getsid(0));

  const mode_t old = umask(022);
  EXPECT_EQ(Call(SYS_umask, 077), 022);
  EXPECT_EQ(umask(old), 077u);

  // No child ever ran: its usage is all zero.
  const std::vector<uint8_t> ones(sizeof(struct rusage), 0xff);
  ASSERT_TRUE(mem().Write(kData, ones.data(), ones.size()).ok());
  EXPECT_EQ(Call(SYS_getrusage, RUSAGE_CHILDREN, kData), 0);
  std::vector<uint8_t> usage(sizeof(struct rusage));
  ASSERT_TRUE(mem().Read(kData, usage.data(), usage.size()).ok());
  EXPECT_EQ(usage, std::vector<uint8_t>(sizeof(struct rusage), 0));
  EXPECT_EQ(Call(SYS_getrusage, RUSAGE_SELF, kData), 0);
  struct rusage self;
  ASSERT_TRUE(mem().Read(kData, &self, sizeof self).ok());
  EXPECT_GT(self.ru_maxrss, 0);
  EXPECT_GT(Call(SYS_times, kData), 0);
  EXPECT_GT(Call(SYS_times, 0), 0);

  // The raw syscall's 20 - nice.
  EXPECT_EQ(Call(SYS_getpriority, PRIO_PROCESS, 0), 20 - getpriority(PRIO_PROCESS, 0));
  EXPECT_EQ(Call(SYS_sched_getscheduler, 0), sched_getscheduler(0));
  EXPECT_EQ(Call(SYS_sched_get_priority_max, SCHED_FIFO), 99);
  EXPECT_EQ(Call(SYS_sched_get_priority_min, SCHED_FIFO), 1);
  EXPECT_EQ(Call(SYS_sched_get_priority_max, -1), -EINVAL);
  const int64_t n = Call(SYS_sched_getaffinity, 0, 128, kData);
  ASSERT_GT(n, 0);
  EXPECT_EQ(Call(SYS_sched_setaffinity, 0, n, kData), 0);
  EXPECT_EQ(Call(SYS_getcpu, kData, kData + 4, 0), 0);
  unsigned int cpu = CPU_SETSIZE;
  ASSERT_TRUE(mem().Read(kData, &cpu, sizeof cpu).ok());
  EXPECT_LT(cpu, static_cast<unsigned>(CPU_SETSIZE));
  EXPECT_EQ(Call(SYS_getgroups, 0, 0), getgroups(0, nullptr));

  // membarrier: the host's, without the rseq commands km does not serve.
  constexpr int kRseq =
      MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ;
  const long host = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  const int64_t want = host < 0 ? -errno : host & ~kRseq;
  EXPECT_EQ(Call(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0), want);
  EXPECT_EQ(Call(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, 0, 0), -EINVAL);
  EXPECT_EQ(Call(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, 0, 0), -EINVAL);
}

}  // namespace
}  // namespace km
