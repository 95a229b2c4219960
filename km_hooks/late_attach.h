// Late attach, as in the seed notes: a km started without --debug-socket opens one at
// DefaultSocketPath(pid) when it receives SIGUSR1, and says where on stderr.
#pragma once

#include "km/runtime/process.h"

namespace km_hooks {

// Call before any guest thread exists: it blocks SIGUSR1 in the calling thread (the threads km
// creates later inherit that) and waits for it on a thread of its own.
void EnableLateAttach(km::Process& process);

}  // namespace km_hooks
