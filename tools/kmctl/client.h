// The connection to km's debug service, and the controlling session `kmctl session` holds.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/km_debug.grpc.pb.h"

namespace kmctl {

namespace v1 = ::km::debug::v1;

// Every unary call gets this long: km answers at once, except Stop which waits for the vCPUs.
inline constexpr absl::Duration kCallTimeout = absl::Seconds(30);

// A channel to km's socket. Connect fails (as a connection error) when there is no socket at
// the path, so a typo is reported before any call.
absl::StatusOr<std::unique_ptr<v1::Debug::Stub>> Connect(const std::string& socket_path);

std::unique_ptr<grpc::ClientContext> CallContext();

// Attach plus the Events stream that keeps the session alive. Events arrive on a thread of our
// own and queue up until Wait takes them.
class Session {
 public:
  // Attaches, opens the stream and takes the events for threads already stopped, which only
  // describe the state at attach: a later Wait sees only what happens after.
  static absl::StatusOr<std::unique_ptr<Session>> Start(v1::Debug::Stub* stub);
  ~Session();

  const std::string& id() const { return id_; }

  // The next stop or process exit (thread notices are returned too, in order); a deadline
  // error if none came within timeout, a connection error if the stream ended.
  absl::StatusOr<v1::Event> Wait(absl::Duration timeout);

  // Ends the session: km removes breakpoints and resumes every thread.
  absl::Status Detach();

 private:
  Session(v1::Debug::Stub* stub, std::string id) : stub_(stub), id_(std::move(id)) {}
  void ReadEvents();

  v1::Debug::Stub* stub_;
  std::string id_;
  bool detached_ = false;
  grpc::ClientContext events_ctx_;
  std::unique_ptr<grpc::ClientReader<v1::Event>> events_;
  std::thread reader_;
  absl::Mutex mu_;
  std::deque<v1::Event> queue_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace kmctl
