// gdb's remote register numbers for amd64 (the agent's target description), as agent
// expressions and tracepoint collections name registers.
#pragma once

#include <cstdint>
#include <optional>

#include "km/regs.h"

namespace km_hooks {

// nullopt for a number beyond km's general registers.
std::optional<uint64_t> RegisterByGdbNumber(const km::Regs& regs, int regnum);

}  // namespace km_hooks
