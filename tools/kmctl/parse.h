// Turning command-line words into numbers, addresses and bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tools/kmctl/elf_symbols.h"

namespace kmctl {

// Decimal, or hex with 0x.
absl::StatusOr<uint64_t> ParseNumber(absl::string_view what, absl::string_view word);

// Resolves "0x401020", "main" or "main+0x10"; symbols need --elf.
class AddressResolver {
 public:
  AddressResolver() = default;
  AddressResolver(ElfSymbols symbols, uint64_t load_bias)
      : symbols_(std::move(symbols)), load_bias_(load_bias) {}

  absl::StatusOr<uint64_t> Resolve(absl::string_view word) const;

 private:
  std::optional<ElfSymbols> symbols_;
  uint64_t load_bias_ = 0;
};

// "48 31 ed", "4831ed" or "0x4831ed": the bytes in the order written.
absl::StatusOr<std::string> ParseHexBytes(absl::string_view word);

}  // namespace kmctl
