// Types of km's command-line flags, parsed the absl way (AbslParseFlag next to the type, so the
// flag library finds it).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "km/engine.h"

namespace km {

// --accel=auto|kvm|tcg
bool AbslParseFlag(absl::string_view text, Accel* accel, std::string* error);
std::string AbslUnparseFlag(Accel accel);

// --memory=SIZE: bytes with an optional K, M, G or T suffix (powers of 1024; "512M", "2G").
struct MemorySize {
  uint64_t bytes = 0;
};
inline constexpr uint64_t kMinMemorySize = 32ull << 20;
inline constexpr uint64_t kMaxMemorySize = 1ull << 40;
absl::StatusOr<uint64_t> ParseMemorySize(absl::string_view text);
bool AbslParseFlag(absl::string_view text, MemorySize* size, std::string* error);
std::string AbslUnparseFlag(MemorySize size);

}  // namespace km
