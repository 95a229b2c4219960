// Serves one gdb connection over an attached target: moves packets and the target's events
// until gdb leaves. All-stop: gdb's packets are answered one at a time; while the payload runs, only ^C
// and km's events matter. Non-stop: gdb's packets are answered while threads run, and stops go
// out as notifications between replies.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "agent/target.h"
#include "agent/transport/connection.h"

namespace agent {

enum class SessionEnd {
  kGdbLeft,      // detached or disconnected; the payload runs on
  kPayloadGone,  // exited or killed: nothing left to debug
};

absl::StatusOr<SessionEnd> ServeGdb(Connection& gdb, Target& target);

}  // namespace agent
