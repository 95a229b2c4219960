// The debugger's int3s in guest code, as both the debug service (which plants them) and a
// forked payload's child (which must run without them) take them out again.
#pragma once

#include <cstdint>

#include "km/engine.h"
#include "km/guest_memory.h"

namespace km {

inline constexpr uint8_t kInt3 = 0xcc;

// Puts original back at addr if an int3 is still there. The page may have been unmapped, or
// mapped again with other contents, since the int3 went in (a breakpoint can stay for long):
// only an int3 is ours to undo.
void RestoreInt3(Engine& engine, const GuestMemory& mem, uint64_t addr, uint8_t original);

}  // namespace km
