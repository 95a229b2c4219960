// Late attach, as in the seed notes: a km started without --debug-socket opens one at
// DefaultSocketPath(pid) when it receives SIGUSR1, and says where on stderr.
#pragma once

#include "km/runtime/process.h"

namespace km_hooks {

// First thing in main, before km makes any thread (they all inherit the mask): blocks SIGUSR1,
// so that one arriving while km starts up waits for EnableLateAttach instead of killing km.
void BlockLateAttachSignal();

// Waits for SIGUSR1 on a thread of its own and opens the socket when it comes.
void EnableLateAttach(km::Process& process);

}  // namespace km_hooks
