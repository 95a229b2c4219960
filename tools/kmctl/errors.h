// kmctl's failure classes and the exit status each maps to: scripts tell a typo from a dead km
// from a refused call by the exit status alone.
#pragma once

#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace kmctl {

enum ExitCode { kExitOk = 0, kExitUsage = 2, kExitConnection = 3, kExitRpc = 4 };

absl::Status UsageError(absl::string_view message);
absl::Status ConnectionError(absl::string_view message);
// A failed call to METHOD; an unreachable server counts as a connection error.
absl::Status RpcError(absl::string_view method, const grpc::Status& status);

ExitCode ExitCodeFor(const absl::Status& status);

}  // namespace kmctl
