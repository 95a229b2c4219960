// Z and z: insert and remove breakpoints and watchpoints.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace agent::rsp {

enum class BreakpointType {
  kSoftware = 0,
  kHardware = 1,
  kWatchWrite = 2,
  kWatchRead = 3,
  kWatchAccess = 4,
};

struct BreakpointPacket {
  bool insert;
  BreakpointType type;
  uint64_t addr;
  uint64_t kind;  // breakpoints: the instruction length gdb assumed; watchpoints: bytes watched
  // Z0/Z1: agent expressions (bytecode) to evaluate at each hit; stop if any is true.
  std::vector<std::string> conditions;
};

// The whole packet: "Z0,ADDR,KIND[;X LEN,HEX...]" or "z2,ADDR,LEN". gdb appends target-side
// conditions (offered by ConditionalBreakpoints+) as "X" tokens, each LEN bytes of bytecode
// in hex, back to back or ';'-separated. Breakpoint commands (cmds:) are not offered.
absl::StatusOr<BreakpointPacket> ParseBreakpoint(absl::string_view packet);

}  // namespace agent::rsp
