#include "km/syscalls/dispatch.h"

#include <errno.h>
#include <sys/syscall.h>

#include <array>
#include <cstdio>
#include <string>

#include "absl/base/const_init.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"

#include "km/runtime/process.h"
#include "km/syscalls/handlers.h"
#include "km/syscalls/syscall_names.h"

namespace km {
namespace {

constexpr int kTableSize = 512;

struct Table {
  std::array<SyscallHandler, kTableSize> handlers{};

  Table() {
    auto& h = handlers;
    h[SYS_read] = SysRead;
    h[SYS_write] = SysWrite;
    h[SYS_readv] = SysReadv;
    h[SYS_writev] = SysWritev;
    h[SYS_pread64] = SysPread64;
    h[SYS_pwrite64] = SysPwrite64;
    h[SYS_close] = SysClose;
    h[SYS_lseek] = SysLseek;
    h[SYS_fstat] = SysFstat;
    h[SYS_ioctl] = SysIoctl;
    h[SYS_fcntl] = SysFcntl;
    h[SYS_dup] = SysDup;
    h[SYS_dup2] = SysDup2;
    h[SYS_dup3] = SysDup3;
    h[SYS_pipe] = SysPipe;
    h[SYS_pipe2] = SysPipe2;
    h[SYS_getdents64] = SysGetdents64;
    h[SYS_fchdir] = SysFchdir;
    h[SYS_fsync] = SysFsync;
    h[SYS_fdatasync] = SysFsync;
    h[SYS_ftruncate] = SysFtruncate;

    h[SYS_open] = SysOpen;
    h[SYS_openat] = SysOpenat;
    h[SYS_stat] = SysStat;
    h[SYS_lstat] = SysLstat;
    h[SYS_newfstatat] = SysNewfstatat;
    h[SYS_access] = SysAccess;
    h[SYS_faccessat] = SysFaccessat;
    h[SYS_faccessat2] = SysFaccessat2;
    h[SYS_unlink] = SysUnlink;
    h[SYS_unlinkat] = SysUnlinkat;
    h[SYS_mkdir] = SysMkdir;
    h[SYS_mkdirat] = SysMkdirat;
    h[SYS_rmdir] = SysRmdir;
    h[SYS_rename] = SysRename;
    h[SYS_renameat] = SysRenameat;
    h[SYS_renameat2] = SysRenameat2;
    h[SYS_readlink] = SysReadlink;
    h[SYS_readlinkat] = SysReadlinkat;
    h[SYS_getcwd] = SysGetcwd;
    h[SYS_chdir] = SysChdir;

    h[SYS_chmod] = SysChmod;
    h[SYS_fchmod] = SysFchmod;
    h[SYS_fchmodat] = SysFchmodat;
    h[SYS_chown] = SysChown;
    h[SYS_fchown] = SysFchown;
    h[SYS_lchown] = SysLchown;
    h[SYS_fchownat] = SysFchownat;
    h[SYS_utimensat] = SysUtimensat;
    h[SYS_statfs] = SysStatfs;
    h[SYS_fstatfs] = SysFstatfs;
    h[SYS_statx] = SysStatx;
    h[SYS_link] = SysLink;
    h[SYS_linkat] = SysLinkat;
    h[SYS_symlink] = SysSymlink;
    h[SYS_symlinkat] = SysSymlinkat;
    h[SYS_truncate] = SysTruncate;
    h[SYS_fallocate] = SysFallocate;
    h[SYS_flock] = SysFlock;
    h[SYS_sendfile] = SysSendfile;
    h[SYS_copy_file_range] = SysCopyFileRange;
    h[SYS_sync] = SysSync;
    h[SYS_syncfs] = SysSyncfs;
    h[SYS_fadvise64] = SysFadvise64;

    h[SYS_brk] = SysBrk;
    h[SYS_mmap] = SysMmap;
    h[SYS_munmap] = SysMunmap;
    h[SYS_mprotect] = SysMprotect;
    h[SYS_madvise] = SysMadvise;
    h[SYS_mremap] = SysMremap;

    h[SYS_clock_gettime] = SysClockGettime;
    h[SYS_clock_getres] = SysClockGetres;
    h[SYS_gettimeofday] = SysGettimeofday;
    h[SYS_time] = SysTime;
    h[SYS_nanosleep] = SysNanosleep;
    h[SYS_clock_nanosleep] = SysClockNanosleep;

    h[SYS_getpid] = SysGetpid;
    h[SYS_gettid] = SysGettid;
    h[SYS_getppid] = SysGetppid;
    h[SYS_getuid] = SysGetuid;
    h[SYS_geteuid] = SysGeteuid;
    h[SYS_getgid] = SysGetgid;
    h[SYS_getegid] = SysGetegid;
    h[SYS_uname] = SysUname;
    h[SYS_sched_getaffinity] = SysSchedGetaffinity;
    h[SYS_sched_yield] = SysSchedYield;
    h[SYS_getrandom] = SysGetrandom;
    h[SYS_prlimit64] = SysPrlimit64;
    h[SYS_getrlimit] = SysGetrlimit;
    h[SYS_setrlimit] = SysSetrlimit;
    h[SYS_sysinfo] = SysSysinfo;

    h[SYS_wait4] = SysWait4;
    h[SYS_waitid] = SysWaitid;
    h[SYS_getrusage] = SysGetrusage;
    h[SYS_times] = SysTimes;
    h[SYS_getpgrp] = SysGetpgrp;
    h[SYS_getpgid] = SysGetpgid;
    h[SYS_getsid] = SysGetsid;
    h[SYS_setsid] = SysSetsid;
    h[SYS_setpgid] = SysSetpgid;
    h[SYS_umask] = SysUmask;
    h[SYS_getgroups] = SysGetgroups;
    h[SYS_setgroups] = SysSetgroups;
    h[SYS_getpriority] = SysGetpriority;
    h[SYS_setpriority] = SysSetpriority;
    h[SYS_sched_setaffinity] = SysSchedSetaffinity;
    h[SYS_sched_getparam] = SysSchedGetparam;
    h[SYS_sched_setparam] = SysSchedSetparam;
    h[SYS_sched_getscheduler] = SysSchedGetscheduler;
    h[SYS_sched_setscheduler] = SysSchedSetscheduler;
    h[SYS_sched_get_priority_max] = SysSchedGetPriorityMax;
    h[SYS_sched_get_priority_min] = SysSchedGetPriorityMin;
    h[SYS_getcpu] = SysGetcpu;
    h[SYS_membarrier] = SysMembarrier;

    h[SYS_rt_sigaction] = SysRtSigaction;
    h[SYS_rt_sigprocmask] = SysRtSigprocmask;
    h[SYS_sigaltstack] = SysSigaltstack;
    h[SYS_kill] = SysKill;
    h[SYS_tkill] = SysTkill;
    h[SYS_tgkill] = SysTgkill;
    h[SYS_rt_sigqueueinfo] = SysRtSigqueueinfo;
    h[SYS_rt_tgsigqueueinfo] = SysRtTgsigqueueinfo;
    h[SYS_rt_sigreturn] = SysRtSigreturn;
    h[SYS_rt_sigpending] = SysRtSigpending;
    h[SYS_rt_sigsuspend] = SysRtSigsuspend;
    h[SYS_pause] = SysPause;
    h[SYS_rt_sigtimedwait] = SysRtSigtimedwait;

    h[SYS_clone] = SysClone;
    h[SYS_fork] = SysFork;
    h[SYS_vfork] = SysVfork;
    h[SYS_execve] = SysExecve;
    h[SYS_execveat] = SysExecveat;
    h[SYS_exit] = SysExit;
    h[SYS_exit_group] = SysExitGroup;
    h[SYS_set_tid_address] = SysSetTidAddress;
    h[SYS_set_robust_list] = SysSetRobustList;
    h[SYS_arch_prctl] = SysArchPrctl;
    h[SYS_prctl] = SysPrctl;
    h[SYS_futex] = SysFutex;

    h[SYS_signalfd] = SysSignalfd;
    h[SYS_signalfd4] = SysSignalfd4;

    h[SYS_alarm] = SysAlarm;
    h[SYS_setitimer] = SysSetitimer;
    h[SYS_getitimer] = SysGetitimer;
    h[SYS_timer_create] = SysTimerCreate;
    h[SYS_timer_settime] = SysTimerSettime;
    h[SYS_timer_gettime] = SysTimerGettime;
    h[SYS_timer_getoverrun] = SysTimerGetoverrun;
    h[SYS_timer_delete] = SysTimerDelete;

    h[SYS_poll] = SysPoll;
    h[SYS_ppoll] = SysPpoll;
    h[SYS_select] = SysSelect;
    h[SYS_pselect6] = SysPselect6;
    h[SYS_epoll_create] = SysEpollCreate;
    h[SYS_epoll_create1] = SysEpollCreate1;
    h[SYS_epoll_ctl] = SysEpollCtl;
    h[SYS_epoll_wait] = SysEpollWait;
    h[SYS_epoll_pwait] = SysEpollPwait;
    h[SYS_epoll_pwait2] = SysEpollPwait2;

    h[SYS_eventfd] = SysEventfd;
    h[SYS_eventfd2] = SysEventfd2;
    h[SYS_timerfd_create] = SysTimerfdCreate;
    h[SYS_timerfd_settime] = SysTimerfdSettime;
    h[SYS_timerfd_gettime] = SysTimerfdGettime;

    h[SYS_socket] = SysSocket;
    h[SYS_socketpair] = SysSocketpair;
    h[SYS_bind] = SysBind;
    h[SYS_listen] = SysListen;
    h[SYS_accept] = SysAccept;
    h[SYS_accept4] = SysAccept4;
    h[SYS_connect] = SysConnect;
    h[SYS_getsockname] = SysGetsockname;
    h[SYS_getpeername] = SysGetpeername;
    h[SYS_sendto] = SysSendto;
    h[SYS_recvfrom] = SysRecvfrom;
    h[SYS_sendmsg] = SysSendmsg;
    h[SYS_recvmsg] = SysRecvmsg;
    h[SYS_shutdown] = SysShutdown;
    h[SYS_setsockopt] = SysSetsockopt;
    h[SYS_getsockopt] = SysGetsockopt;
  }
};

const Table& GetTable() {
  static const Table* table = new Table();
  return *table;
}

void ReportUnsupported(int64_t nr) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* reported ABSL_GUARDED_BY(mu) = new absl::flat_hash_set<int64_t>();
  {
    absl::MutexLock lock(&mu);
    if (!reported->insert(nr).second) return;
  }
  std::string name(SyscallName(nr));
  std::fprintf(stderr, "km: unsupported syscall %lld (%s), returning ENOSYS\n",
               static_cast<long long>(nr), name.c_str());
}

}  // namespace

uint64_t SyscallContext::arg(int i) const {
  switch (i) {
    case 0: return regs.rdi;
    case 1: return regs.rsi;
    case 2: return regs.rdx;
    case 3: return regs.r10;
    case 4: return regs.r8;
    default: return regs.r9;
  }
}

GuestMemory& SyscallContext::mem() const { return process.memory(); }

SyscallHandler FindSyscallHandler(int64_t nr) {
  if (nr < 0 || nr >= kTableSize) return nullptr;
  return GetTable().handlers[nr];
}

int64_t DispatchSyscall(SyscallContext& ctx) {
  const int64_t nr = static_cast<int64_t>(ctx.nr());
  SyscallHandler handler = FindSyscallHandler(nr);
  if (handler == nullptr) {
    ReportUnsupported(nr);
    return -ENOSYS;
  }
  return handler(ctx);
}

}  // namespace km
