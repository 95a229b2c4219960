// Works around Unicorn leaving a CPU exception "in flight" after a UC_HOOK_INTR hook took it.
//
// QEMU remembers the last contributory exception (#DE, #TS, #NP, #SS, #GP) or page fault until it
// has been delivered through the IDT, so that a second one raised during delivery becomes a double
// fault. Unicorn hands exceptions to the hook instead of delivering them and never clears that
// memory: on a vCPU that took a #DE, the next #DE arrives as a double fault (intno 8), and the one
// after that as a triple fault, which silently halts the CPU. Unicorn 2.0.1 offers no call to
// clear it, so we clear the field inside a saved CPU context. Its offset is found once per process
// by experiment on a scratch engine (and verified the same way), not assumed from QEMU's headers.
#pragma once

#include <unicorn/unicorn.h>

#include <cstdint>

namespace km::tcg {

// Whether QEMU counts the exception with this vector as one that can turn the next into a
// double fault.
bool IsContributoryOrPageFault(uint32_t vector);

// Forgets the exception in flight on uc. A no-op if the experiment failed (then a vCPU misreports
// a second contributory exception as vector 8).
void ClearExceptionInFlight(uc_engine* uc);

}  // namespace km::tcg
