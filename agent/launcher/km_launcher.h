// Starting km for gdb, as gdbserver starts its inferior: km gets a private socket directory and
// --debug-wait (the payload waits for gdb before its first instruction), dies with the agent
// (PR_SET_PDEATHSIG, and a handler that kills it on SIGTERM, SIGINT and SIGHUP), and is reaped.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace agent {

struct KmCommand {
  std::string km;                 // km's path
  std::string accel;              // km's --accel, when not empty
  std::vector<std::string> argv;  // the payload and its arguments
  std::vector<std::string> env;   // the payload's whole environment, "NAME=value" each
  // gdb speaks on the agent's stdin and stdout (--stdio): km reads /dev/null and writes to
  // the agent's stderr instead.
  bool keep_off_stdio = false;
};

class LaunchedKm {
 public:
  // Returns once km serves its debug socket (or fails if km exits first).
  static absl::StatusOr<std::unique_ptr<LaunchedKm>> Start(const KmCommand& command);
  // Kills km if it still runs, reaps it and removes its socket directory.
  ~LaunchedKm();

  pid_t pid() const { return pid_; }
  const std::string& socket_path() const { return socket_; }
  // km's exit status once it has exited (128 + signal if killed); nullopt while it runs.
  std::optional<int> Poll();
  // Waits up to timeout for km to exit, then kills it; its exit status.
  int WaitOrKill(absl::Duration timeout);

 private:
  LaunchedKm(pid_t pid, std::string dir) : pid_(pid), dir_(std::move(dir)), socket_(dir_ + "/km.sock") {}
  void Reaped(int wait_status);

  pid_t pid_;
  std::string dir_;
  std::string socket_;
  std::optional<int> status_;
};

// km's path: the one given (--km), else km next to this program (or in the build tree's
// km/ beside agent/), else the first km on PATH.
absl::StatusOr<std::string> FindKm(const std::string& given);

// From now on SIGTERM, SIGINT and SIGHUP kill and reap every km still launched and remove
// their socket directories before the agent dies of the signal.
void KillLaunchedKmOnTermination();

}  // namespace agent
