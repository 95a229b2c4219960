// Who controls run state. One session at a time may stop, resume, step, write and set
// breakpoints; everyone may read. A second client gets an error naming the holder.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace km_hooks {

// How long a new session has to open its Events stream before the next Attach may take over.
inline constexpr absl::Duration kDefaultSessionGrace = absl::Seconds(30);

class Sessions {
 public:
  // A session's Events stream is its lifeline. One that has not opened its stream within grace
  // of Attach (its client died in between, or never meant to) is stale: the next Attach takes
  // over from it instead of being refused.
  explicit Sessions(absl::Duration grace = kDefaultSessionGrace,
                    std::function<absl::Time()> now = [] { return absl::Now(); })
      : grace_(grace), now_(std::move(now)) {}

  // *took_over_stale (if given) says whether a stale session was ended to make room: the caller
  // lets its payload go as a Detach would.
  absl::StatusOr<std::string> Attach(const std::string& client_name,
                                     bool* took_over_stale = nullptr);
  // The session's Events stream opened: it is no longer at risk of being taken over.
  void StreamOpened(const std::string& session);
  // OK if session is the controlling one.
  absl::Status Check(const std::string& session) const;
  // Ends session if it is the controlling one; returns whether it was.
  bool End(const std::string& session);

 private:
  const absl::Duration grace_;
  const std::function<absl::Time()> now_;
  mutable absl::Mutex mu_;
  std::string current_ ABSL_GUARDED_BY(mu_);
  std::string holder_ ABSL_GUARDED_BY(mu_);
  absl::Time attached_at_ ABSL_GUARDED_BY(mu_);
  bool streamed_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t counter_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace km_hooks
