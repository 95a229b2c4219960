// Thread ids as gdb writes them: "TID" or, with the multiprocess extension, "pPID.TID", where
// -1 means all and 0 means any.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace agent::rsp {

struct ThreadId {
  static constexpr int64_t kAll = -1;
  static constexpr int64_t kAny = 0;

  int64_t pid = kAny;  // kAny when the id had no "p" part
  int64_t tid = kAny;

  bool all() const { return tid == kAll || (tid == kAny && pid == kAll); }
  bool any() const { return tid == kAny && pid != kAll; }
};

absl::StatusOr<ThreadId> ParseThreadId(absl::string_view text);

// The id of one thread, in the form gdb was told to expect.
std::string FormatThreadId(int pid, int tid, bool multiprocess);

}  // namespace agent::rsp
