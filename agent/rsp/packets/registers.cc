#include "agent/rsp/packets/registers.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "agent/rsp/encoding.h"

namespace agent::rsp {
namespace {

absl::StatusOr<int> ParseRegnum(absl::string_view text) {
  absl::StatusOr<uint64_t> n = ParseHex(text);
  if (!n.ok()) return n.status();
  if (*n > 0xffff) return absl::InvalidArgumentError(absl::StrCat("register number ", text, " is too large"));
  return static_cast<int>(*n);
}

}  // namespace

absl::StatusOr<int> ParseRegisterRead(absl::string_view args) { return ParseRegnum(args); }

absl::StatusOr<RegisterWrite> ParseRegisterWrite(absl::string_view args) {
  const size_t eq = args.find('=');
  if (eq == absl::string_view::npos) {
    return absl::InvalidArgumentError("register write without '='");
  }
  absl::StatusOr<int> regnum = ParseRegnum(args.substr(0, eq));
  if (!regnum.ok()) return regnum.status();
  absl::StatusOr<std::string> value = HexDecode(args.substr(eq + 1));
  if (!value.ok()) return value.status();
  return RegisterWrite{*regnum, *std::move(value)};
}

}  // namespace agent::rsp
