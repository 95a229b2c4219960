// vCont: resume actions per thread ("vCont;s:p1.2;c"). The legacy c, C, s and S packets are
// expressed as vCont actions too, so one resume path serves both.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/rsp/packets/thread_id.h"

namespace agent::rsp {

struct VContAction {
  enum class Kind { kContinue, kStep, kStop, kRangeStep };
  Kind kind;
  int signal = 0;                   // gdb's signal number, 0 for none
  uint64_t range_start = 0;         // kRangeStep: step while the pc is in [start, end)
  uint64_t range_end = 0;
  std::optional<ThreadId> thread;   // none: every thread not named by an earlier action
};

// The whole packet "vCont;ACTION[:TID];...", ACTION one of c, Csig, s, Ssig, t, rSTART,END.
absl::StatusOr<std::vector<VContAction>> ParseVCont(absl::string_view packet);

// "c[ADDR]", "s[ADDR]", "Csig[;ADDR]", "Ssig[;ADDR]": one action for `thread` (gdb's Hc
// thread). A resume address is refused: gdb has not sent one for decades.
absl::StatusOr<VContAction> ParseLegacyResume(absl::string_view packet);

}  // namespace agent::rsp
