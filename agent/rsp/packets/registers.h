// p and P: one register by gdb's number.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace agent::rsp {

// "pN" without the 'p'.
absl::StatusOr<int> ParseRegisterRead(absl::string_view args);

struct RegisterWrite {
  int regnum;
  std::string value;  // raw target-order bytes
};
// "PN=HEX" without the 'P'.
absl::StatusOr<RegisterWrite> ParseRegisterWrite(absl::string_view args);

}  // namespace agent::rsp
