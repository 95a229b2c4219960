#include "tools/kmctl/parse.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "tools/kmctl/errors.h"

namespace kmctl {

absl::StatusOr<uint64_t> ParseNumber(absl::string_view what, absl::string_view word) {
  uint64_t value;
  bool ok = absl::StartsWithIgnoreCase(word, "0x")
                ? absl::SimpleHexAtoi(word.substr(2), &value) && word.size() > 2
                : absl::SimpleAtoi(word, &value);
  if (!ok || word.empty() || word[0] == '-' || word[0] == '+') {
    return UsageError(absl::StrFormat("%s: '%s' is not a number (decimal or 0x hex)", what, word));
  }
  return value;
}

absl::StatusOr<uint64_t> AddressResolver::Resolve(absl::string_view word) const {
  if (!word.empty() && absl::ascii_isdigit(static_cast<unsigned char>(word[0]))) {
    return ParseNumber("address", word);
  }
  absl::string_view name = word;
  uint64_t offset = 0;
  if (size_t plus = word.find('+'); plus != absl::string_view::npos) {
    name = word.substr(0, plus);
    absl::StatusOr<uint64_t> off = ParseNumber("address offset", word.substr(plus + 1));
    if (!off.ok()) return off.status();
    offset = *off;
  }
  if (!symbols_) {
    return UsageError(absl::StrFormat(
        "address '%s': symbol names need --elf PAYLOAD (or give a 0x address)", word));
  }
  auto it = symbols_->addrs.find(std::string(name));
  if (it == symbols_->addrs.end()) {
    return UsageError(absl::StrFormat("address '%s': no symbol '%s' in the ELF", word, name));
  }
  return it->second + (symbols_->pie ? load_bias_ : 0) + offset;
}

absl::StatusOr<std::string> ParseHexBytes(absl::string_view word) {
  std::string hex = absl::StrReplaceAll(word, {{" ", ""}, {":", ""}});
  if (absl::StartsWithIgnoreCase(hex, "0x")) hex.erase(0, 2);
  if (hex.empty() || hex.size() % 2 != 0) {
    return UsageError(absl::StrFormat("bytes '%s': need an even number of hex digits", word));
  }
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    uint32_t byte;
    if (!absl::SimpleHexAtoi(hex.substr(i, 2), &byte) || hex[i] == '+' || hex[i] == '-') {
      return UsageError(absl::StrFormat("bytes '%s': '%s' is not a hex byte", word, hex.substr(i, 2)));
    }
    out.push_back(static_cast<char>(byte));
  }
  return out;
}

}  // namespace kmctl
