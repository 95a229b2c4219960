// Symbol names of a payload ELF, read from its .symtab in-process so that kmctl needs no binutils.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace kmctl {

struct ElfSymbols {
  // Link-time addresses; a PIE's are relative to its load bias.
  std::map<std::string, uint64_t> addrs;
  bool pie = false;
};

// Functions, objects and untyped symbols with a name and a nonzero value. An ELF without a
// .symtab (stripped) is an error naming the path.
absl::StatusOr<ElfSymbols> ReadElfSymbols(const std::string& path);

}  // namespace kmctl
