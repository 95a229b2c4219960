// All-stop run control over a Target: gdb sees every thread stopped or every thread running.
// It keeps what each thread last stopped with (in a ThreadTable), stops the rest of the process when one thread stops, holds back
// stops that lost the race to be reported (reported at the next resume, as gdbserver does),
// and drops the duplicate stream events km sends for stops the agent already learned through
// a Stop call.
#pragma once

#include <map>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/arch/amd64/registers.h"
#include "agent/breakpoint_table.h"
#include "agent/target.h"
#include "agent/thread_table.h"

namespace agent {

// What gdb is to be told.
struct StopReport {
  enum class Kind { kThread, kExited, kTerminated };
  Kind kind = Kind::kThread;
  int tid = 0;                 // kThread
  StopReason reason;           // kThread
  bool interrupted = false;    // kThread: the stop gdb asked for with ^C
  bool requested = false;      // kThread: stopped because gdb asked (non-stop): no signal
  amd64::GeneralRegs regs;     // kThread
  int exit_status = 0;         // kExited
  int linux_signal = 0;        // kTerminated
};

class RunControl {
 public:
  RunControl(Target& target, const BreakpointTable& breakpoints)
      : target_(target), breakpoints_(breakpoints), table_(target) {}

  // Stops the whole process for a new gdb connection and says which thread gdb sees first
  // (the main thread, whose tid is the process id, when it is alive).
  absl::StatusOr<StopReport> Begin(int pid);

  bool running() const { return running_; }
  bool exited() const { return exit_.has_value(); }
  const StopReport& last_report() const { return last_report_; }

  ThreadTable& threads() { return table_; }
  // The thread table and the exit, for non-stop mode to take over; all-stop is done with them.
  ThreadTable TakeThreads() { return std::move(table_); }
  const std::optional<StopReport>& exit() const { return exit_; }

  // Resumes what the actions name. When a thread that would run has a stop gdb has not been
  // told of yet, nothing runs and that stop comes back instead (unless the resume is a reverse
  // one, which leaves that stop's present behind and moves every thread).
  absl::StatusOr<std::optional<StopReport>> Resume(const std::vector<ThreadAction>& actions);

  // One event from the target. Returns the stop to report when it ends a run.
  absl::StatusOr<std::optional<StopReport>> HandleEvent(const Event& event);

  // gdb's ^C while running: stops everything.
  absl::StatusOr<StopReport> Interrupt();

  // Ends the payload with SIGKILL.
  absl::Status Kill();

 private:
  // Stops every thread and records what each one stopped with.
  absl::Status StopAll(bool first_contact);
  // Takes every thread's state from a complete list of them all stopped (threads not in it are
  // gone).
  void AbsorbAll(const std::vector<ThreadStop>& stops, bool first_contact);
  void Absorb(const ThreadStop& stop, bool first_contact);
  bool StillReportable(const ThreadStop& stop) const;
  StopReport ReportThread(const ThreadStop& stop, bool interrupted);
  std::optional<StopReport> ReportExit();

  Target& target_;
  const BreakpointTable& breakpoints_;
  std::map<int, ThreadRecord>& records() { return table_.records(); }
  const std::map<int, ThreadRecord>& records() const { return table_.records(); }

  ThreadTable table_;
  bool running_ = false;
  int ending_signal_ = 0;           // resumed with this signal, fatal unless handled
  std::optional<StopReport> exit_;  // the process is gone: how
  StopReport last_report_;
};

}  // namespace agent
