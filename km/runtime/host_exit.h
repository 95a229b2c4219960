// How km itself ends once its payload has.
#pragma once

#include "km/runtime/debug_observer.h"

namespace km {

// Ends km with the payload's exit status. A payload killed by a signal ends km with exit status
// 128 + signo (what a shell reports for such a death, and km's contract with whoever started
// it), or, with die_by_signal, by that same signal: a payload that started this km (fork,
// posix_spawn, system()) waits for it and must see the signal, as a native parent would.
[[noreturn]] void LeaveHost(const ExitInfo& info, bool die_by_signal);

}  // namespace km
