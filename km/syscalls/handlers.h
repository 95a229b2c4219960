// The syscall handlers, one group per file (sys_*.cc); dispatch.cc maps numbers to them.
#pragma once

#include "km/syscalls/dispatch.h"

namespace km {

// sys_fd.cc: descriptors.
int64_t SysRead(SyscallContext& ctx);
int64_t SysWrite(SyscallContext& ctx);
int64_t SysReadv(SyscallContext& ctx);
int64_t SysWritev(SyscallContext& ctx);
int64_t SysPread64(SyscallContext& ctx);
int64_t SysPwrite64(SyscallContext& ctx);
int64_t SysClose(SyscallContext& ctx);
int64_t SysLseek(SyscallContext& ctx);
int64_t SysFstat(SyscallContext& ctx);
int64_t SysIoctl(SyscallContext& ctx);
int64_t SysFcntl(SyscallContext& ctx);
int64_t SysDup(SyscallContext& ctx);
int64_t SysDup2(SyscallContext& ctx);
int64_t SysDup3(SyscallContext& ctx);
int64_t SysPipe(SyscallContext& ctx);
int64_t SysPipe2(SyscallContext& ctx);
int64_t SysGetdents64(SyscallContext& ctx);
int64_t SysFchdir(SyscallContext& ctx);
int64_t SysFsync(SyscallContext& ctx);
int64_t SysFtruncate(SyscallContext& ctx);

// sys_path.cc: file names.
int64_t SysOpen(SyscallContext& ctx);
int64_t SysOpenat(SyscallContext& ctx);
int64_t SysStat(SyscallContext& ctx);
int64_t SysLstat(SyscallContext& ctx);
int64_t SysNewfstatat(SyscallContext& ctx);
int64_t SysAccess(SyscallContext& ctx);
int64_t SysFaccessat(SyscallContext& ctx);
int64_t SysFaccessat2(SyscallContext& ctx);
int64_t SysUnlink(SyscallContext& ctx);
int64_t SysUnlinkat(SyscallContext& ctx);
int64_t SysMkdir(SyscallContext& ctx);
int64_t SysMkdirat(SyscallContext& ctx);
int64_t SysRmdir(SyscallContext& ctx);
int64_t SysRename(SyscallContext& ctx);
int64_t SysRenameat(SyscallContext& ctx);
int64_t SysRenameat2(SyscallContext& ctx);
int64_t SysReadlink(SyscallContext& ctx);
int64_t SysReadlinkat(SyscallContext& ctx);
int64_t SysGetcwd(SyscallContext& ctx);
int64_t SysChdir(SyscallContext& ctx);

// sys_file_meta.cc: a file's mode, owner, times, links and size; copies; file systems.
int64_t SysChmod(SyscallContext& ctx);
int64_t SysFchmod(SyscallContext& ctx);
int64_t SysFchmodat(SyscallContext& ctx);
int64_t SysChown(SyscallContext& ctx);
int64_t SysFchown(SyscallContext& ctx);
int64_t SysLchown(SyscallContext& ctx);
int64_t SysFchownat(SyscallContext& ctx);
int64_t SysUtimensat(SyscallContext& ctx);
int64_t SysStatfs(SyscallContext& ctx);
int64_t SysFstatfs(SyscallContext& ctx);
int64_t SysStatx(SyscallContext& ctx);
int64_t SysLink(SyscallContext& ctx);
int64_t SysLinkat(SyscallContext& ctx);
int64_t SysSymlink(SyscallContext& ctx);
int64_t SysSymlinkat(SyscallContext& ctx);
int64_t SysTruncate(SyscallContext& ctx);
int64_t SysFallocate(SyscallContext& ctx);
int64_t SysFlock(SyscallContext& ctx);
int64_t SysSendfile(SyscallContext& ctx);
int64_t SysCopyFileRange(SyscallContext& ctx);
int64_t SysSync(SyscallContext& ctx);
int64_t SysSyncfs(SyscallContext& ctx);
int64_t SysFadvise64(SyscallContext& ctx);

// sys_memory.cc
int64_t SysBrk(SyscallContext& ctx);
int64_t SysMmap(SyscallContext& ctx);
int64_t SysMunmap(SyscallContext& ctx);
int64_t SysMprotect(SyscallContext& ctx);
int64_t SysMadvise(SyscallContext& ctx);
int64_t SysMremap(SyscallContext& ctx);

// sys_time.cc
int64_t SysClockGettime(SyscallContext& ctx);
int64_t SysClockGetres(SyscallContext& ctx);
int64_t SysGettimeofday(SyscallContext& ctx);
int64_t SysTime(SyscallContext& ctx);
int64_t SysNanosleep(SyscallContext& ctx);
int64_t SysClockNanosleep(SyscallContext& ctx);

// sys_identity.cc: who and where the payload is.
int64_t SysGetpid(SyscallContext& ctx);
int64_t SysGettid(SyscallContext& ctx);
int64_t SysGetppid(SyscallContext& ctx);
int64_t SysGetuid(SyscallContext& ctx);
int64_t SysGeteuid(SyscallContext& ctx);
int64_t SysGetgid(SyscallContext& ctx);
int64_t SysGetegid(SyscallContext& ctx);
int64_t SysUname(SyscallContext& ctx);
int64_t SysSchedGetaffinity(SyscallContext& ctx);
int64_t SysSchedYield(SyscallContext& ctx);
int64_t SysGetrandom(SyscallContext& ctx);
int64_t SysPrlimit64(SyscallContext& ctx);
int64_t SysGetrlimit(SyscallContext& ctx);
int64_t SysSetrlimit(SyscallContext& ctx);
int64_t SysSysinfo(SyscallContext& ctx);

// sys_process.cc: the payload as a process (km), its waits, usage, groups and scheduling.
int64_t SysWait4(SyscallContext& ctx);
int64_t SysWaitid(SyscallContext& ctx);
int64_t SysGetrusage(SyscallContext& ctx);
int64_t SysTimes(SyscallContext& ctx);
int64_t SysGetpgrp(SyscallContext& ctx);
int64_t SysGetpgid(SyscallContext& ctx);
int64_t SysGetsid(SyscallContext& ctx);
int64_t SysSetsid(SyscallContext& ctx);
int64_t SysSetpgid(SyscallContext& ctx);
int64_t SysUmask(SyscallContext& ctx);
int64_t SysGetgroups(SyscallContext& ctx);
int64_t SysSetgroups(SyscallContext& ctx);
int64_t SysGetpriority(SyscallContext& ctx);
int64_t SysSetpriority(SyscallContext& ctx);
int64_t SysSchedSetaffinity(SyscallContext& ctx);
int64_t SysSchedGetparam(SyscallContext& ctx);
int64_t SysSchedSetparam(SyscallContext& ctx);
int64_t SysSchedGetscheduler(SyscallContext& ctx);
int64_t SysSchedSetscheduler(SyscallContext& ctx);
int64_t SysSchedGetPriorityMax(SyscallContext& ctx);
int64_t SysSchedGetPriorityMin(SyscallContext& ctx);
int64_t SysGetcpu(SyscallContext& ctx);
int64_t SysMembarrier(SyscallContext& ctx);

// sys_signal.cc
int64_t SysRtSigaction(SyscallContext& ctx);
int64_t SysRtSigprocmask(SyscallContext& ctx);
int64_t SysSigaltstack(SyscallContext& ctx);
int64_t SysKill(SyscallContext& ctx);
int64_t SysTkill(SyscallContext& ctx);
int64_t SysTgkill(SyscallContext& ctx);
int64_t SysRtSigqueueinfo(SyscallContext& ctx);
int64_t SysRtTgsigqueueinfo(SyscallContext& ctx);
int64_t SysRtSigreturn(SyscallContext& ctx);
int64_t SysRtSigpending(SyscallContext& ctx);
int64_t SysRtSigsuspend(SyscallContext& ctx);
int64_t SysPause(SyscallContext& ctx);
int64_t SysRtSigtimedwait(SyscallContext& ctx);

// sys_thread.cc: threads and their CPU state.
int64_t SysClone(SyscallContext& ctx);
int64_t SysFork(SyscallContext& ctx);
int64_t SysVfork(SyscallContext& ctx);
int64_t SysExecve(SyscallContext& ctx);
int64_t SysExecveat(SyscallContext& ctx);
int64_t SysExit(SyscallContext& ctx);
int64_t SysExitGroup(SyscallContext& ctx);
int64_t SysSetTidAddress(SyscallContext& ctx);
int64_t SysSetRobustList(SyscallContext& ctx);
int64_t SysArchPrctl(SyscallContext& ctx);
int64_t SysPrctl(SyscallContext& ctx);

// sys_futex.cc
int64_t SysFutex(SyscallContext& ctx);

// sys_signalfd.cc (its reads: ReadSignalfd in sys_common.h)
int64_t SysSignalfd(SyscallContext& ctx);
int64_t SysSignalfd4(SyscallContext& ctx);

// sys_timer.cc
int64_t SysAlarm(SyscallContext& ctx);
int64_t SysSetitimer(SyscallContext& ctx);
int64_t SysGetitimer(SyscallContext& ctx);
int64_t SysTimerCreate(SyscallContext& ctx);
int64_t SysTimerSettime(SyscallContext& ctx);
int64_t SysTimerGettime(SyscallContext& ctx);
int64_t SysTimerGetoverrun(SyscallContext& ctx);
int64_t SysTimerDelete(SyscallContext& ctx);

// sys_poll.cc: waiting for descriptors.
int64_t SysPoll(SyscallContext& ctx);
int64_t SysPpoll(SyscallContext& ctx);
int64_t SysSelect(SyscallContext& ctx);
int64_t SysPselect6(SyscallContext& ctx);
int64_t SysEpollCreate(SyscallContext& ctx);
int64_t SysEpollCreate1(SyscallContext& ctx);
int64_t SysEpollCtl(SyscallContext& ctx);
int64_t SysEpollWait(SyscallContext& ctx);
int64_t SysEpollPwait(SyscallContext& ctx);
int64_t SysEpollPwait2(SyscallContext& ctx);

// sys_event.cc: event and timer descriptors.
int64_t SysEventfd(SyscallContext& ctx);
int64_t SysEventfd2(SyscallContext& ctx);
int64_t SysTimerfdCreate(SyscallContext& ctx);
int64_t SysTimerfdSettime(SyscallContext& ctx);
int64_t SysTimerfdGettime(SyscallContext& ctx);

// sys_socket.cc
int64_t SysSocket(SyscallContext& ctx);
int64_t SysSocketpair(SyscallContext& ctx);
int64_t SysBind(SyscallContext& ctx);
int64_t SysListen(SyscallContext& ctx);
int64_t SysAccept(SyscallContext& ctx);
int64_t SysAccept4(SyscallContext& ctx);
int64_t SysConnect(SyscallContext& ctx);
int64_t SysGetsockname(SyscallContext& ctx);
int64_t SysGetpeername(SyscallContext& ctx);
int64_t SysSendto(SyscallContext& ctx);
int64_t SysRecvfrom(SyscallContext& ctx);
int64_t SysSendmsg(SyscallContext& ctx);
int64_t SysRecvmsg(SyscallContext& ctx);
int64_t SysShutdown(SyscallContext& ctx);
int64_t SysSetsockopt(SyscallContext& ctx);
int64_t SysGetsockopt(SyscallContext& ctx);

}  // namespace km
