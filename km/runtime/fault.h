// What a CPU exception means to a Linux process: the signal it raises, the address the kernel
// would report in si_addr, and the one line km prints when the payload dies of it.
#pragma once

#include <cstdint>
#include <string>

#include "km/runtime/signal_state.h"

namespace km {

struct FatalSignal {
  int signo = 0;
  uint64_t rip = 0;
  uint64_t addr = 0;  // si_addr: the faulting address for #PF, the rip for SIGILL/SIGFPE/...
};

// x86 exception vector (as in VcpuExit::vector) at rip to the signal Linux would send.
// fault_addr is used for #PF only (#GP and its kin report address 0, as Linux does).
FatalSignal SignalForException(int vector, uint64_t rip, uint64_t fault_addr);

// What a handler of that signal is told (siginfo): si_code as Linux sets it for the vector (for
// #PF, SEGV_MAPERR or, where the address is mapped, SEGV_ACCERR) and si_addr. vector -1: a hlt.
SignalInfo SignalInfoForFault(const FatalSignal& sig, int vector, bool addr_mapped);

// A hlt at user level is a #GP on Linux: SIGSEGV, address 0.
FatalSignal SignalForHalt(uint64_t rip);

// "SIGSEGV", or "signal 42" for a number without a name.
std::string SignalName(int signo);
// strsignal's text: "Segmentation fault".
std::string SignalDescription(int signo);

// "km: payload terminated by SIGSEGV (Segmentation fault) at rip 0x401136, fault address 0x0"
std::string FaultMessage(const FatalSignal& sig);
// A signal sent by the payload to itself (kill, tkill, tgkill):
// "km: payload terminated by SIGABRT (Aborted)"
std::string KillMessage(int signo);

// The shell's exit status for a process killed by signo.
inline int ExitStatusForSignal(int signo) { return 128 + signo; }

}  // namespace km
