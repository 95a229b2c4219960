// LLDB's extensions to the protocol (lldb/docs/lldb-gdb-remote.txt) that km-gdb-agent answers.
// gdb never sends them.
//
// qHostInfo and qProcessInfo stay unanswered on purpose: told the OS is Linux, lldb takes km's
// pid for a process of its own host, loads /proc/PID/exe (km itself) as the executable and runs
// its dynamic-loader plugin, which resumes the payload from its entry point. Unanswered, lldb
// keeps the payload's ELF and its static loader, which is what a km payload is.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace agent::rsp {

// qOffsets' answer for an executable loaded `bias` bytes above its file addresses.
std::string OffsetsReply(uint64_t bias);

// "qMemoryRegionInfo:ADDR": the address.
absl::StatusOr<uint64_t> ParseMemoryRegionInfo(absl::string_view packet);

// "qThreadStopInfoTID" (hex, no "p" prefix): the thread.
absl::StatusOr<int> ParseThreadStopInfo(absl::string_view packet);

// The range that holds an address: a mapping, or the unmapped gap around it (no permissions,
// which lldb reads as "not mapped").
struct MemoryRange {
  uint64_t start = 0;
  uint64_t size = 0;
  bool mapped = false;
  bool read = false, write = false, exec = false;
  bool stack = false;
  std::string name;  // what lldb shows for the region; empty: none
};
std::string MemoryRegionInfoReply(const MemoryRange& range);

}  // namespace agent::rsp
