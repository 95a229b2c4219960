// Non-stop run control over a Target: each thread runs and stops on its own. A thread that
// stops (breakpoint, step, signal, or gdb's request) is the only one that stops; gdb is told of
// each stop once, and the others go on. A thread whose stop gdb has not acknowledged yet is not
// resumed: gdb still believes it runs, and the stop must reach it first.
#pragma once

#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/run_control.h"
#include "agent/target.h"
#include "agent/thread_table.h"

namespace agent {

class NonStopRunControl {
 public:
  // Takes over what all-stop knew when gdb switched modes.
  NonStopRunControl(Target& target, ThreadTable threads, std::optional<StopReport> exit);

  ThreadTable& threads() { return table_; }
  bool exited() const { return exit_.has_value(); }

  // Resumes the stopped threads the actions name (tid 0: every one not named). Threads that
  // run already, or whose stop gdb has not acknowledged, are left as they are.
  absl::Status Resume(const std::vector<ThreadAction>& actions);

  // Stops the running threads among tids (empty: all of them). A report for each one that
  // stopped: with no signal, or with what it stopped for if that came first.
  absl::StatusOr<std::vector<StopReport>> Stop(const std::vector<int>& tids);

  // ^C (vCtrlC): one running thread stops with SIGINT, the lowest tid (the main thread).
  absl::StatusOr<std::vector<StopReport>> Interrupt();

  // One event from the target: the report gdb is to get, if it is news.
  absl::StatusOr<std::optional<StopReport>> HandleEvent(const Event& event);

  // gdb has seen the stop of this thread.
  void Acknowledged(int tid);

  // '?': every stopped thread's last stop, or the exit. Each is unacknowledged again.
  std::vector<StopReport> StoppedThreads();

  // Ends the payload with SIGKILL.
  absl::Status Kill();

 private:
  std::map<int, ThreadRecord>& records() { return table_.records(); }
  // The thread is stopped and gdb is to be told.
  StopReport Report(int tid, const ThreadStop& stop);

  Target& target_;
  ThreadTable table_;
  int ending_signal_ = 0;           // resumed with this signal, fatal unless handled
  std::optional<StopReport> exit_;  // the process is gone: how
};

}  // namespace agent
