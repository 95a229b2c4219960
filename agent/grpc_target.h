// The Target that talks to km's control service (km.debug.v1.Debug) over its unix socket.
// The only code in the agent that knows gRPC is behind this header.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "agent/target.h"

namespace agent {

// Attaches to km as the controlling client named client_name and opens the session's event
// stream; fails if km is not there or another client controls it (the message names it).
absl::StatusOr<std::unique_ptr<Target>> ConnectToKm(const std::string& socket_path,
                                                     const std::string& client_name);

}  // namespace agent
