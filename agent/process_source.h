// Where extended mode gets processes to debug: km processes it launches or attaches to. The
// launcher (agent/launcher/km_source.h) implements it over km; the handlers see only this.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/target.h"

namespace agent {

struct AttachableProcess {
  int pid = 0;
  std::string user;
  std::string command;
};

class ProcessSource {
 public:
  virtual ~ProcessSource() = default;

  // Starts km running argv (the payload and its arguments) with this environment, held
  // before its first instruction, and connects to it.
  virtual absl::StatusOr<std::unique_ptr<Target>> Launch(const std::vector<std::string>& argv,
                                                         const std::vector<std::string>& env) = 0;
  // Connects to the running km with this pid, without restarting its payload.
  virtual absl::StatusOr<std::unique_ptr<Target>> Attach(int pid) = 0;
  // Whether this agent started km `pid` (gdb kills such a process when it leaves).
  virtual bool Launched(int pid) const = 0;
  // km processes this user may attach to.
  virtual std::vector<AttachableProcess> List() = 0;
  // The payload of km `pid` is gone: reap km if this agent started it.
  virtual void Ended(int pid) = 0;
};

}  // namespace agent
