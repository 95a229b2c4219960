#include "km/runtime/flag_types.h"

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace km {

bool AbslParseFlag(absl::string_view text, Accel* accel, std::string* error) {
  if (text == "auto") {
    *accel = Accel::kAuto;
  } else if (text == "kvm") {
    *accel = Accel::kKvm;
  } else if (text == "tcg") {
    *accel = Accel::kTcg;
  } else {
    *error = absl::StrCat("unknown accelerator \"", text, "\" (want auto, kvm or tcg)");
    return false;
  }
  return true;
}

std::string AbslUnparseFlag(Accel accel) {
  switch (accel) {
    case Accel::kKvm: return "kvm";
    case Accel::kTcg: return "tcg";
    default: return "auto";
  }
}

absl::StatusOr<uint64_t> ParseMemorySize(absl::string_view text) {
  absl::string_view digits = text;
  int shift = 0;
  if (!digits.empty() && !absl::ascii_isdigit(static_cast<unsigned char>(digits.back()))) {
    switch (absl::ascii_toupper(static_cast<unsigned char>(digits.back()))) {
      case 'K': shift = 10; break;
      case 'M': shift = 20; break;
      case 'G': shift = 30; break;
      case 'T': shift = 40; break;
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("memory size \"", text, "\": unknown suffix (want K, M, G or T)"));
    }
    digits.remove_suffix(1);
  }
  uint64_t value;
  if (digits.empty() || !absl::SimpleAtoi(digits, &value) ||
      !absl::ascii_isdigit(static_cast<unsigned char>(digits.front()))) {
    return absl::InvalidArgumentError(
        absl::StrCat("memory size \"", text, "\" is not a number with an optional suffix"));
  }
  if (value > (kMaxMemorySize >> shift)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("memory size %s is over the limit of %dG", text, kMaxMemorySize >> 30));
  }
  const uint64_t bytes = value << shift;
  if (bytes < kMinMemorySize) {
    return absl::InvalidArgumentError(
        absl::StrFormat("memory size %s is under the minimum of %dM", text, kMinMemorySize >> 20));
  }
  if (bytes % 4096 != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("memory size %s is not a multiple of the 4K page size", text));
  }
  return bytes;
}

bool AbslParseFlag(absl::string_view text, MemorySize* size, std::string* error) {
  absl::StatusOr<uint64_t> bytes = ParseMemorySize(text);
  if (!bytes.ok()) {
    *error = std::string(bytes.status().message());
    return false;
  }
  size->bytes = *bytes;
  return true;
}

std::string AbslUnparseFlag(MemorySize size) {
  const uint64_t b = size.bytes;
  if (b != 0 && b % (1ull << 30) == 0) return absl::StrCat(b >> 30, "G");
  if (b != 0 && b % (1ull << 20) == 0) return absl::StrCat(b >> 20, "M");
  if (b != 0 && b % (1ull << 10) == 0) return absl::StrCat(b >> 10, "K");
  return absl::StrCat(b);
}

}  // namespace km
