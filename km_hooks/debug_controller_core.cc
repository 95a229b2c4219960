// WriteCore: a core file of a stopped payload, in the layout km writes when a signal that
// dumps core ends it (km/runtime/core_dump.h), for scripts that want one without gdb's gcore.
#include <sys/stat.h>

#include <cstdint>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "km/runtime/core_dump.h"
#include "km_hooks/debug_controller.h"

namespace km_hooks {

absl::StatusOr<v1::WriteCoreResponse> DebugController::WriteCore(const std::string& path,
                                                                 int tid) {
  if (!absl::StartsWith(path, "/")) {
    return absl::InvalidArgumentError(
        absl::StrFormat("the core's path '%s' must be absolute (it is a path on km's host)", path));
  }
  absl::MutexLock control(&control_mu_);
  std::vector<std::shared_ptr<km::GuestThread>> threads;
  for (auto& thread : process_.Threads()) {
    if (thread->state() != km::ThreadState::kExited) threads.push_back(std::move(thread));
  }
  if (threads.empty()) return absl::FailedPreconditionError("the payload has no thread left");
  std::shared_ptr<km::GuestThread> first;
  km::SignalInfo signal;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& thread : threads) {
      auto it = threads_.find(thread->tid());
      if (it == threads_.end() || !it->second.stopped) {
        return absl::FailedPreconditionError(absl::StrFormat(
            "a core needs every thread stopped; thread %d is running", thread->tid()));
      }
    }
    const int main_tid = process_.main_thread() != nullptr ? process_.main_thread()->tid() : 0;
    for (const auto& thread : threads) {
      const bool wanted = tid != 0 ? thread->tid() == tid : thread->tid() == main_tid;
      if (wanted) first = thread;
    }
    if (first == nullptr && tid != 0) {
      return absl::NotFoundError(absl::StrFormat("no thread %d", tid));
    }
    if (first == nullptr) {
      first = *std::min_element(threads.begin(), threads.end(), [](const auto& a, const auto& b) {
        return a->tid() < b->tid();
      });
    }
    // The signal the first thread stopped with, if any, is the one the core names.
    if (const auto& stopped_with = threads_[first->tid()].signal) signal = *stopped_with;
  }
  std::vector<km::GuestThread*> others;
  for (const auto& thread : threads) {
    if (thread != first) others.push_back(thread.get());
  }
  const km::CoreProcess core = km::CollectCore(process_, *first, others, signal);
  if (absl::Status s = km::WriteCoreTo(path, core, UINT64_MAX); !s.ok()) return s;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return absl::ErrnoToStatus(errno, path);
  v1::WriteCoreResponse response;
  response.set_path(path);
  response.set_size(static_cast<uint64_t>(st.st_size));
  response.set_threads(static_cast<uint32_t>(core.threads.size()));
  return response;
}

}  // namespace km_hooks
