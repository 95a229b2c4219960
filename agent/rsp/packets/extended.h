// The extended-remote packets: vRun and R (start a program), vAttach, the environment gdb sets
// for the next run (QEnvironment*), and the process list gdb shows for `info os processes`.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace agent::rsp {

// "vRun;HEXPROGRAM[;HEXARG]...": the program (empty: the one run last) and its arguments.
struct RunRequest {
  std::string program;
  std::vector<std::string> args;
};
absl::StatusOr<RunRequest> ParseVRun(absl::string_view packet);

// "vAttach;PID".
absl::StatusOr<int> ParseVAttach(absl::string_view packet);

// "QEnvironmentHexEncoded:HEX(NAME=VALUE)" -> {NAME, VALUE}.
struct EnvironmentSetting {
  std::string name;
  std::string value;
};
absl::StatusOr<EnvironmentSetting> ParseEnvironmentSet(absl::string_view packet);
// "QEnvironmentUnset:HEX(NAME)" -> NAME.
absl::StatusOr<std::string> ParseEnvironmentUnset(absl::string_view packet);

// One row of qXfer:osdata:read:processes.
struct OsProcess {
  int pid = 0;
  std::string user;
  std::string command;
};
// The osdata document gdb's `info os processes` reads.
std::string ProcessesOsdata(const std::vector<OsProcess>& processes);
// The list of osdata types (`info os`): processes only.
std::string OsdataTypes();

}  // namespace agent::rsp
