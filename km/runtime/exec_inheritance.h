// The start of a km that a payload's execve made (km/syscalls/sys_exec.cc): what Linux keeps
// across execve, handed over on km's command line.
#pragma once

#include <cstdint>
#include <string>

#include "km/runtime/process.h"

namespace km {

// fds: comma-separated descriptors to adopt as the payload's (those still open); sigmask: the
// main thread's blocked signals; sigign: signals whose disposition starts as SIG_IGN.
void InheritAcrossExec(Process& process, const std::string& fds, uint64_t sigmask,
                       uint64_t sigign);

}  // namespace km
