#include "agent/rsp/packets/thread_id.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/rsp/encoding.h"

namespace agent::rsp {

absl::StatusOr<ThreadId> ParseThreadId(absl::string_view text) {
  ThreadId id;
  if (!text.empty() && text[0] == 'p') {
    text.remove_prefix(1);
    const size_t dot = text.find('.');
    absl::StatusOr<int64_t> pid = ParseSignedHex(text.substr(0, dot));
    if (!pid.ok()) return absl::InvalidArgumentError(absl::StrCat("bad thread id: ", pid.status().message()));
    id.pid = *pid;
    if (dot == absl::string_view::npos) {
      id.tid = ThreadId::kAll;  // "pPID" alone names every thread of the process
      return id;
    }
    text.remove_prefix(dot + 1);
  }
  absl::StatusOr<int64_t> tid = ParseSignedHex(text);
  if (!tid.ok()) return absl::InvalidArgumentError(absl::StrCat("bad thread id: ", tid.status().message()));
  id.tid = *tid;
  return id;
}

std::string FormatThreadId(int pid, int tid, bool multiprocess) {
  if (multiprocess) return absl::StrFormat("p%x.%x", pid, tid);
  return absl::StrFormat("%x", tid);
}

}  // namespace agent::rsp
