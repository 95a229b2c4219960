// Shared by km's end-to-end tests: which engines this machine can run (and why not), running a
// subprocess with a deadline, and finding data files in the test's runfiles.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace km_test {

struct EngineInfo {
  std::string name;         // as km's --accel takes it: "kvm" or "tcg"
  bool available = false;
  std::string skip_reason;  // set when !available, e.g. "kvm: skipped: /dev/kvm: No such file..."
};

// Every engine km has, in a fixed order ("kvm", "tcg"), each probed on this machine.
std::vector<EngineInfo> AllEngines();
// The one named; an unknown name comes back unavailable with a reason saying so.
EngineInfo FindEngine(absl::string_view name);

struct RunOptions {
  // The child's whole environment ("NAME=value" each): nothing is inherited, so runs are
  // reproducible and a native run and a km run can be given the same one.
  std::vector<std::string> env;
  absl::Duration timeout = absl::Seconds(60);
  // At the deadline, before the kill: gdb attaches to the child and records every host thread's
  // backtrace in RunResult::hang_dump (a hang seen once in CI is otherwise lost).
  bool dump_on_timeout = true;
};

struct RunResult {
  std::string out;  // everything written to stdout
  std::string err;  // everything written to stderr
  // The exit code, or 128 + signal number if it was killed by a signal (as a shell reports it).
  int status = -1;
  bool timed_out = false;  // killed with SIGKILL at the deadline; status is then 128 + 9
  std::string hang_dump;   // when timed out: the child's host threads, as gdb saw them
};

// Runs argv (argv[0] is a path; no PATH search) with stdin from /dev/null, collecting stdout and
// stderr until it exits or the deadline passes. Fails only if the process could not be started.
absl::StatusOr<RunResult> Run(const std::vector<std::string>& argv,
                              const RunOptions& options = {});

// Every host thread's backtrace in process pid, from gdb attached for the moment: what a test
// records of a child that hangs before it kills it.
std::string HostThreadsOf(pid_t pid);

// A human-readable line for test failure messages: status, timeout and the captured streams.
std::string Describe(const RunResult& result);

// The absolute path of a file in the km_debug workspace's runfiles ($TEST_SRCDIR/km_debug/PATH),
// e.g. Runfile("km/km").
std::string Runfile(absl::string_view path);

}  // namespace km_test
