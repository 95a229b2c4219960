#include "tools/kmctl/errors.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_format.h"

namespace kmctl {
namespace {

// Marks statuses that came from the server, since their codes overlap kmctl's own.
constexpr absl::string_view kRpcPayload = "kmctl/rpc";

const char* GrpcCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
  }
}

}  // namespace

absl::Status UsageError(absl::string_view message) {
  return absl::InvalidArgumentError(message);
}

absl::Status ConnectionError(absl::string_view message) {
  return absl::UnavailableError(message);
}

absl::Status RpcError(absl::string_view method, const grpc::Status& status) {
  const std::string message = absl::StrFormat("%s: %s: %s", method, GrpcCodeName(status.error_code()),
                                              status.error_message());
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) return ConnectionError(message);
  absl::Status out(static_cast<absl::StatusCode>(status.error_code()), message);
  out.SetPayload(kRpcPayload, absl::Cord("1"));
  return out;
}

ExitCode ExitCodeFor(const absl::Status& status) {
  if (status.ok()) return kExitOk;
  // A wait that saw no event is the service not answering as asked, like a failed call.
  if (status.GetPayload(kRpcPayload).has_value() ||
      status.code() == absl::StatusCode::kDeadlineExceeded) {
    return kExitRpc;
  }
  if (status.code() == absl::StatusCode::kUnavailable) return kExitConnection;
  return kExitUsage;
}

}  // namespace kmctl
