// Host syscalls that a guest signal can cut short, as Linux cuts a blocked syscall short when a
// signal arrives for the thread (read on an empty pipe, futex wait, nanosleep...).
//
// A guest thread blocked in the host kernel on the guest's behalf is woken by a host signal
// (InterruptSignal()) sent to its host thread. Sending it alone would race: the signal might
// land just before the thread enters the kernel and be lost. So the call checks an interrupt
// word first, and the host signal's handler, if it finds the thread between that check and the
// `syscall` instruction, moves it to the path that returns kNotStarted (the way QEMU's
// linux-user safe_syscall does). The handler is installed without SA_RESTART, so a thread
// inside the kernel comes back with EINTR.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>

namespace km {

// The host signal used to interrupt a guest thread's host syscall.
int InterruptSignal();

// Installs the handler of InterruptSignal() for the whole of km (idempotent).
void InstallSyscallInterruptHandler();

// What InterruptibleSyscall returns when it never entered the kernel: Linux's -ERESTARTSYS,
// which the kernel never hands to user space, so no syscall result can be mistaken for it.
inline constexpr int64_t kNotStarted = -512;

// Runs host syscall nr with its six arguments, unless *interrupt is non-zero when it is about to
// enter the kernel (then kNotStarted). Returns the raw result: a value, or -errno (-EINTR when
// a signal cut it short in the kernel).
int64_t InterruptibleSyscall(const std::atomic<int>* interrupt, int64_t nr, uint64_t a1 = 0,
                             uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0, uint64_t a5 = 0,
                             uint64_t a6 = 0);

// Sends InterruptSignal() to host thread tid of km.
void InterruptHostThread(pid_t tid);

}  // namespace km
