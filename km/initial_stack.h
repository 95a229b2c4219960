// The initial stack of a Linux process: argc, argv, envp, auxv and the strings they point to.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "km/elf_loader.h"
#include "km/guest_memory.h"

namespace km {

struct InitialStack {
  uint64_t rsp = 0;        // points at argc, 16-byte aligned
  std::string auxv_bytes;  // the auxv as laid out on the stack, AT_NULL included
};

// Maps the stack region [kStackTop - kStackSize, kStackTop) and lays out, as Linux does:
// argc, argv[], NULL, envp[], NULL, auxv (AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_ENTRY,
// AT_BASE (0: no interpreter), AT_RANDOM (16 random bytes), AT_UID/EUID/GID/EGID, AT_SECURE,
// AT_HWCAP, AT_CLKTCK, AT_EXECFN, AT_PLATFORM, AT_NULL), then the strings near the top.
absl::StatusOr<InitialStack> BuildInitialStack(GuestMemory& mem, const LoadedImage& image,
                                               const std::vector<std::string>& argv,
                                               const std::vector<std::string>& envp);

}  // namespace km
