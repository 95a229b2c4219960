#include "agent/arch/signals.h"

namespace agent::arch {
namespace {

constexpr int kGdbUnknown = 143;

// Index: Linux signal 0..31; value: gdb's number.
constexpr int kLinuxToGdb[32] = {
    0,   // 0
    1,   // SIGHUP
    2,   // SIGINT
    3,   // SIGQUIT
    4,   // SIGILL
    5,   // SIGTRAP
    6,   // SIGABRT
    10,  // SIGBUS
    8,   // SIGFPE
    9,   // SIGKILL
    30,  // SIGUSR1
    11,  // SIGSEGV
    31,  // SIGUSR2
    13,  // SIGPIPE
    14,  // SIGALRM
    15,  // SIGTERM
    kGdbUnknown,  // SIGSTKFLT: gdb has no such signal
    20,  // SIGCHLD
    19,  // SIGCONT
    17,  // SIGSTOP
    18,  // SIGTSTP
    21,  // SIGTTIN
    22,  // SIGTTOU
    16,  // SIGURG
    24,  // SIGXCPU
    25,  // SIGXFSZ
    26,  // SIGVTALRM
    27,  // SIGPROF
    28,  // SIGWINCH
    23,  // SIGIO
    32,  // SIGPWR
    12,  // SIGSYS
};

// gdb numbers its real-time signals SIG33..SIG63 as 45..75, with SIG32 at 77 and SIG64 at 78.
constexpr int kGdbRealtime33 = 45;
constexpr int kGdbRealtime32 = 77;
constexpr int kGdbRealtime64 = 78;

}  // namespace

int LinuxToGdbSignal(int linux_signal) {
  if (linux_signal >= 0 && linux_signal < 32) return kLinuxToGdb[linux_signal];
  if (linux_signal == 32) return kGdbRealtime32;
  if (linux_signal >= 33 && linux_signal <= 63) return kGdbRealtime33 + (linux_signal - 33);
  if (linux_signal == 64) return kGdbRealtime64;
  return kGdbUnknown;
}

int GdbToLinuxSignal(int gdb_signal) {
  if (gdb_signal == 0) return 0;
  if (gdb_signal == kGdbUnknown) return -1;
  for (int linux_signal = 1; linux_signal < 32; ++linux_signal) {
    if (kLinuxToGdb[linux_signal] == gdb_signal) return linux_signal;
  }
  if (gdb_signal == 33) return 29;  // SIGPOLL is SIGIO on Linux
  if (gdb_signal == kGdbRealtime32) return 32;
  if (gdb_signal >= kGdbRealtime33 && gdb_signal <= kGdbRealtime33 + 30) {
    return 33 + (gdb_signal - kGdbRealtime33);
  }
  if (gdb_signal == kGdbRealtime64) return 64;
  return -1;
}

}  // namespace agent::arch
