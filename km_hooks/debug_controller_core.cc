// WriteCore: a core file of a stopped payload, in the layout km writes when a signal that
// dumps core ends it (km/runtime/core_dump.h), for scripts that want one without gdb's gcore.
#include <algorithm>
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
  std::sort(threads.begin(), threads.end(),
            [](const auto& a, const auto& b) { return a->tid() < b->tid(); });
  // tid's thread, else the main thread, else the lowest tid (threads.front()).
  const int wanted = tid != 0                            ? tid
                     : process_.main_thread() != nullptr ? process_.main_thread()->tid()
                                                         : threads.front()->tid();
  auto first = std::find_if(threads.begin(), threads.end(),
                            [wanted](const auto& t) { return t->tid() == wanted; });
  if (first == threads.end() && tid == 0) first = threads.begin();
  km::SignalInfo signal;
  {
    absl::MutexLock lock(&mu_);
    if (absl::Status s = EveryThreadStoppedLocked(threads, "a core"); !s.ok()) return s;
    if (first == threads.end()) return absl::NotFoundError(absl::StrFormat("no thread %d", tid));
    // The signal the first thread stopped with, if any, is the one the core names.
    if (const auto& stopped_with = threads_.find((*first)->tid())->second.signal) {
      signal = *stopped_with;
    }
  }
  std::vector<km::GuestThread*> others;
  for (auto it = threads.begin(); it != threads.end(); ++it) {
    if (it != first) others.push_back(it->get());
  }
  const km::CoreProcess core = km::CollectCore(process_, **first, others, signal);
  absl::StatusOr<uint64_t> size = km::WriteCoreTo(path, core, UINT64_MAX);
  if (!size.ok()) return size.status();
  v1::WriteCoreResponse response;
  response.set_path(path);
  response.set_size(*size);
  response.set_threads(static_cast<uint32_t>(core.threads.size()));
  return response;
}

}  // namespace km_hooks
