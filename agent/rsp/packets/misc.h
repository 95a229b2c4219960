// Small packets that need a parser: qSupported's feature list, D (detach), vKill and qRcmd.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace agent::rsp {

struct Feature {
  std::string name;
  std::string value;  // "+", "-", "?" or what followed '='
};
// "qSupported[:F1;F2=V...]" (the whole packet): the features gdb says it supports.
std::vector<Feature> ParseQSupported(absl::string_view packet);
// Whether gdb said name+.
bool GdbSupports(const std::vector<Feature>& features, absl::string_view name);

// "D" or "D;PID": the pid, when given.
absl::StatusOr<std::optional<int>> ParseDetach(absl::string_view packet);
// "vKill;PID".
absl::StatusOr<int> ParseVKill(absl::string_view packet);
// "QCatchSyscalls:0" or "QCatchSyscalls:1[;SYSNO...]" (hex): whether gdb catches syscalls, and
// which (none listed: every one).
struct CatchSyscalls {
  bool enabled = false;
  std::vector<int64_t> numbers;
};
absl::StatusOr<CatchSyscalls> ParseCatchSyscalls(absl::string_view packet);
// "QPassSignals:" or "QPassSignals:SIG;[SIG;...]" (hex, gdb's numbering; gdb ends each with ';',
// the last one's may be missing): the signals to pass to the program without stopping.
absl::StatusOr<std::vector<int>> ParsePassSignals(absl::string_view packet);
// "QProgramSignals:..." in the same form: the signals the program may have at all (gdb's
// `handle SIG pass`); a thread's signal not listed is dropped when the stub resumes it on its
// own, as at a detach.
absl::StatusOr<std::vector<int>> ParseProgramSignals(absl::string_view packet);

// "qRcmd,HEX": the monitor command line.
absl::StatusOr<std::string> ParseMonitorCommand(absl::string_view packet);

}  // namespace agent::rsp
