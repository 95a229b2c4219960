// Where a program dies natively: run under ptrace, stopped at its first signal, without core
// dumps or a debugger's output to parse. The reference for the rip km reports on a CPU fault.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace km_test {

struct NativeFault {
  int signo = 0;
  uint64_t rip = 0;      // the faulting instruction for SIGSEGV, SIGFPE, SIGILL
  uint64_t address = 0;  // siginfo's si_addr: the bad data address for SIGSEGV
};

// Runs argv (argv[0] a path) with an empty environment until it gets a signal other than the
// exec stop, reports it and kills the process. Fails if it exits first or the deadline passes.
absl::StatusOr<NativeFault> TraceFirstSignal(const std::vector<std::string>& argv,
                                             absl::Duration timeout = absl::Seconds(30));

}  // namespace km_test
