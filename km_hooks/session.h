// Who controls run state. One session at a time may stop, resume, step, write and set
// breakpoints; everyone may read. A second client gets an error naming the holder.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace km_hooks {

class Sessions {
 public:
  absl::StatusOr<std::string> Attach(const std::string& client_name);
  // OK if session is the controlling one.
  absl::Status Check(const std::string& session) const;
  // Ends session if it is the controlling one; returns whether it was.
  bool End(const std::string& session);

 private:
  mutable absl::Mutex mu_;
  std::string current_ ABSL_GUARDED_BY(mu_);
  std::string holder_ ABSL_GUARDED_BY(mu_);
  uint64_t counter_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace km_hooks
