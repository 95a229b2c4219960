// Z and z: insert and remove breakpoints and watchpoints.
#pragma once

#include <cstdint>

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
};

// The whole packet: "Z0,ADDR,KIND" or "z2,ADDR,LEN". Target-side conditions and commands
// (";X..." after KIND) are not offered in qSupported, so gdb does not send them.
absl::StatusOr<BreakpointPacket> ParseBreakpoint(absl::string_view packet);

}  // namespace agent::rsp
