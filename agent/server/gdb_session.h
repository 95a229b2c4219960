// Serves one gdb connection: moves packets and the target's events until gdb leaves. All-stop:
// gdb's packets are answered one at a time; while the payload runs, only ^C and km's events
// matter. Non-stop: gdb's packets are answered while threads run, and stops go out as
// notifications between replies.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "agent/handlers/extended_mode.h"
#include "agent/target.h"
#include "agent/transport/connection.h"

namespace agent {

// Serves whatever process `processes` has (or gets through run and attach) until gdb leaves.
absl::StatusOr<SessionEnd> ServeGdb(Connection& gdb, ExtendedMode& processes);

// Serves the one process behind target (already attached to) until gdb leaves.
absl::StatusOr<SessionEnd> ServeGdb(Connection& gdb, Target& target);

}  // namespace agent
