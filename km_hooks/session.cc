#include "km_hooks/session.h"

#include <sys/random.h>

#include "absl/strings/str_format.h"

namespace km_hooks {

absl::StatusOr<std::string> Sessions::Attach(const std::string& client_name,
                                             bool* took_over_stale) {
  absl::MutexLock lock(&mu_);
  const bool stale = !current_.empty() && !streamed_ && now_() - attached_at_ >= grace_;
  if (took_over_stale != nullptr) *took_over_stale = stale;
  if (!current_.empty() && !stale) {
    return absl::FailedPreconditionError(
        absl::StrFormat("km is already being debugged by '%s'; detach it first", holder_));
  }
  // Unguessable, so that a client cannot act in another's session by counting.
  uint64_t nonce = 0;
  if (getrandom(&nonce, sizeof(nonce), 0) != sizeof(nonce)) nonce = 0;
  current_ = absl::StrFormat("s%d-%016x", ++counter_, nonce);
  holder_ = client_name.empty() ? "an unnamed client" : client_name;
  attached_at_ = now_();
  streamed_ = false;
  return current_;
}

void Sessions::StreamOpened(const std::string& session) {
  absl::MutexLock lock(&mu_);
  if (!session.empty() && session == current_) streamed_ = true;
}

absl::Status Sessions::Check(const std::string& session) const {
  absl::MutexLock lock(&mu_);
  if (current_.empty()) {
    return absl::FailedPreconditionError("no debug session: call Attach first");
  }
  if (session != current_) {
    return absl::PermissionDeniedError(absl::StrFormat(
        "km is being debugged by '%s'; this client may only read", holder_));
  }
  return absl::OkStatus();
}

bool Sessions::End(const std::string& session) {
  absl::MutexLock lock(&mu_);
  if (session.empty() || session != current_) return false;
  current_.clear();
  holder_.clear();
  return true;
}

}  // namespace km_hooks
