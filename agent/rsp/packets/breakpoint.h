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
  // Z0/Z1: agent expressions to run at a hit instead of stopping (a dprintf's printf), and
  // whether they go on running after gdb disconnects.
  std::vector<std::string> commands;
  bool persist_commands = false;
};

// The whole packet: "Z0,ADDR,KIND[;X LEN,HEX...][;cmds:PERSIST,X LEN,HEX...]" or
// "z2,ADDR,LEN". gdb appends target-side conditions (offered by ConditionalBreakpoints+) as "X"
// tokens, each LEN bytes of bytecode in hex, back to back or ';'-separated, and target-side
// commands (offered by BreakpointCommands+) the same way after "cmds:" and a 0 or 1.
absl::StatusOr<BreakpointPacket> ParseBreakpoint(absl::string_view packet);

}  // namespace agent::rsp
