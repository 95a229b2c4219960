// Loads a static x86-64 Linux ELF (ET_EXEC, or ET_DYN without PT_INTERP: static-pie) into the
// guest address space.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "km/guest_memory.h"

namespace km {

struct LoadedImage {
  std::string path;
  bool pie = false;
  uint64_t load_bias = 0;  // 0 for ET_EXEC
  uint64_t entry = 0;      // with the bias applied
  uint64_t phdr_gva = 0;   // where the program headers are in guest memory (AT_PHDR)
  uint16_t phent = 0;
  uint16_t phnum = 0;
  uint64_t brk_start = 0;  // first page past the highest PT_LOAD: where the heap begins
};

// Checks the file (class, machine, type, no interpreter, sane segments) with an error that names
// the path and what is wrong, maps each PT_LOAD with its protection (RegionKind kText for
// executable segments, kData otherwise) and copies the file bytes in; bss is zero.
absl::StatusOr<LoadedImage> LoadElf(const std::string& path, GuestMemory& mem);
// LoadElf's checks alone: whether km could run the file (execve asks before replacing km).
absl::Status CheckElf(const std::string& path);

}  // namespace km
