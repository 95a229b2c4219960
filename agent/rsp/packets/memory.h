// m, M and X: memory reads and writes.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace agent::rsp {

struct MemoryRead {
  uint64_t addr;
  uint64_t length;
};
// "mADDR,LENGTH" (the packet without its leading 'm').
absl::StatusOr<MemoryRead> ParseMemoryRead(absl::string_view args);

struct MemoryWrite {
  uint64_t addr;
  std::string data;
};
// "MADDR,LENGTH:HEX" (hex data) and "XADDR,LENGTH:BINARY" (escaped binary data); both without
// the leading letter. The data's size must equal LENGTH.
absl::StatusOr<MemoryWrite> ParseMemoryWriteHex(absl::string_view args);
absl::StatusOr<MemoryWrite> ParseMemoryWriteBinary(absl::string_view args);

}  // namespace agent::rsp
