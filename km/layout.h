// Where things go in a payload's address space. Linux-like, fixed (no randomization) so that
// debugging sessions are reproducible.
#pragma once

#include <cstdint>

namespace km {

inline constexpr uint64_t kStackTop = 0x7ffffffff000;  // one page below the canonical limit
inline constexpr uint64_t kStackSize = 8ull << 20;
// mmap(NULL) hands out ranges top-down below this.
inline constexpr uint64_t kMmapCeiling = 0x7fff00000000;
inline constexpr uint64_t kMmapFloor = 0x100000000;
// Where a static-pie payload is loaded (Linux's ELF_ET_DYN_BASE on x86-64).
inline constexpr uint64_t kPieLoadBias = 0x555555554000;
inline constexpr uint64_t kDefaultMemorySize = 1ull << 30;
// The top of guest-physical memory that the engine keeps for itself (KVM page tables).
inline constexpr uint64_t kEngineReservedSize = 16ull << 20;

}  // namespace km
