// Moves register state between km's engine-neutral structs and a Unicorn x86-64 CPU.
#pragma once

#include <unicorn/unicorn.h>

#include "absl/status/status.h"
#include "km/regs.h"

namespace km::tcg {

// Linux user-mode selectors, reported whatever Unicorn holds: the guest runs at CPL0 in flat
// segments there, which only privileged code could observe.
inline constexpr uint16_t kUserCs = 0x33;
inline constexpr uint16_t kUserSs = 0x2b;

absl::Status ReadRegs(uc_engine* uc, Regs* regs);
// Segment selectors in regs are ignored (see kUserCs); rflags bit 1 is always set.
absl::Status WriteRegs(uc_engine* uc, const Regs& regs);
absl::Status ReadFpu(uc_engine* uc, FpuRegs* fpu);
absl::Status WriteFpu(uc_engine* uc, const FpuRegs& fpu);

// The CPU state Linux gives a new process that Unicorn does not: x87 control word 0x37f, an
// empty x87 stack, MXCSR 0x1f80 and rflags with IF set.
absl::Status WriteInitialState(uc_engine* uc);

}  // namespace km::tcg
