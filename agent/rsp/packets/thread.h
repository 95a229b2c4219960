// H (select a thread for later packets) and T (is this thread alive?).
#pragma once

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/rsp/packets/thread_id.h"

namespace agent::rsp {

struct SetThread {
  char op;  // 'g': registers and memory; 'c': legacy continue/step
  ThreadId thread;
};
// "HgTID" / "HcTID" (the whole packet).
absl::StatusOr<SetThread> ParseSetThread(absl::string_view packet);

// "TTID" (the whole packet).
absl::StatusOr<ThreadId> ParseThreadAlive(absl::string_view packet);

}  // namespace agent::rsp
