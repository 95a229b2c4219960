// The executable segments of an ELF file, to check that an address km reports lies in the
// payload's code.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace km_test {

struct AddressRange {
  uint64_t start = 0;
  uint64_t end = 0;  // exclusive
  bool Contains(uint64_t address) const { return address >= start && address < end; }
};

// The [p_vaddr, p_vaddr + p_memsz) of each PT_LOAD with PF_X, as linked (no load bias).
absl::StatusOr<std::vector<AddressRange>> ExecutableSegments(const std::string& path);

}  // namespace km_test
