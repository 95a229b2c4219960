// The siginfo gdb reads with qXfer:siginfo:read ($_siginfo): Linux x86-64's 128-byte
// siginfo_t.
#pragma once

#include <cstdint>
#include <string>

namespace agent::arch {

// si_code values for SIGTRAP (asm-generic/siginfo.h).
inline constexpr int kTrapBrkpt = 1;
inline constexpr int kTrapTrace = 2;
inline constexpr int kTrapHwbkpt = 4;

// A signal the kernel raised for a fault or trap (si_code > 0): it carries an address.
std::string FaultSiginfo(int signo, int code, uint64_t addr);
// A signal a process sent (kill, tkill: si_code <= 0): it carries the sender.
std::string SentSiginfo(int signo, int code, int pid, uint32_t uid);

}  // namespace agent::arch
