// Core dumps of the payload, as Linux writes them for a process killed by SIGSEGV, SIGABRT,
// SIGQUIT...: km, not the host kernel, must write them, since the host would dump km itself.
// Whether one is written follows the payload's RLIMIT_CORE (km's own, which the payload's
// setrlimit sets); where, km's --core-pattern. The file's layout is core_file.h's.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "km/runtime/core_file.h"
#include "km/runtime/signal_state.h"

namespace km {

class GuestThread;
class Process;

// Linux's default action for signo dumps core.
bool SignalDumpsCore(int signo);

// The path a core pattern names: %p the payload's pid, %e its name (the basename of its path),
// %t the time in seconds since the epoch, %% a percent sign. Linux drops other %-sequences,
// and so does this.
std::string CorePath(std::string_view pattern, int pid, std::string_view name, int64_t time);

// The payload's state as a core: `first`'s thread first (gdb's current thread), then the
// others by tid (so, mostly, in the order they were made, as gdb numbers a live process's). Every one must be paused (or in a syscall): a thread
// whose registers cannot be read (it exited meanwhile) is left out.
CoreProcess CollectCore(Process& process, GuestThread& first,
                        const std::vector<GuestThread*>& others, const SignalInfo& signal);

// Creates (or truncates) path, 0600, not through a symlink and only as a regular file, and
// writes the core there, at most limit bytes; returns the file's length. The error names the
// path and why.
absl::StatusOr<uint64_t> WriteCoreTo(const std::string& path, const CoreProcess& core,
                                     uint64_t limit);

// The payload is ending on `dying`'s host thread of `signal`, whose default action dumps core;
// `threads` are all of its threads (dying included). Pauses the others (they are about to be
// killed) and writes the core where the process's core pattern says, unless RLIMIT_CORE is
// below a page (no core wanted: as Linux, nothing is written) or the pattern is empty.
// Returns what km's message on the payload's end adds: "core dumped to PATH", "core not
// dumped: WHY", or "" when no core was wanted.
std::string DumpCore(Process& process, GuestThread& dying, const SignalInfo& signal,
                     const std::vector<std::shared_ptr<GuestThread>>& threads);

}  // namespace km
