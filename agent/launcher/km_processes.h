// Finding km processes to attach to: km processes of this user (told by /proc/PID/exe), and
// the debug socket of one of them, opened through km's SIGUSR1 late-attach path when it has
// none yet.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace agent {

struct KmProcess {
  int pid = 0;
  std::string user;
  std::vector<std::string> cmdline;
};

// Every km process this user owns, lowest pid first. km_path (may be empty) is the km this
// agent launches; any other program named km counts too.
std::vector<KmProcess> ListKmProcesses(const std::string& km_path);

// pid, if it is a km process of this user; an error saying why not otherwise.
absl::StatusOr<KmProcess> FindKmProcess(int pid, const std::string& km_path);

// km's debug socket: the one its --debug-socket flag names, else the one SIGUSR1 opens
// (/tmp/km-PID.sock), sending SIGUSR1 and waiting up to timeout for it when it is not there.
absl::StatusOr<std::string> DebugSocketOf(const KmProcess& km, absl::Duration timeout);

}  // namespace agent
