// km reports Linux signal numbers; the RSP carries gdb's own numbering (GDB_SIGNAL_*), which
// agrees with Linux only for some signals (SIGBUS is 7 on Linux, 10 for gdb).
#pragma once

namespace agent::arch {

// gdb's number for a Linux x86-64 signal; 143 (GDB_SIGNAL_UNKNOWN) for one gdb has no name for.
int LinuxToGdbSignal(int linux_signal);
// The Linux signal for gdb's number, or -1 when Linux has none (SIGEMT, SIGLOST...).
int GdbToLinuxSignal(int gdb_signal);

}  // namespace agent::arch
