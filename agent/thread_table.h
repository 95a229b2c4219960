// What the agent knows of each live thread, shared by the all-stop and non-stop run controls
// (a connection starts in all-stop and may hand its table to non-stop): whether it runs, what it
// last stopped with (registers included, so gdb's register reads after a stop cost no RPC), and
// the bookkeeping that tells km's duplicate stream events apart from new stops.
#pragma once

#include <map>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/arch/amd64/registers.h"
#include "agent/target.h"

namespace agent {

// A stop worth telling gdb about even if it happened while another thread's stop was reported.
inline bool StoppedOnItsOwn(const StopReason& reason) {
  return reason.kind != StopKind::kInterrupted;
}

// A signal among the actions whose default action ends the process (unless the payload handles
// it: km cannot be asked in time, as it may exit inside the call), or 0. What the payload died
// of, should km's event stream end without saying.
int FatalSignal(const std::vector<ThreadAction>& actions);

struct ThreadRecord {
  bool running = false;
  std::optional<ThreadStop> stop;      // while stopped
  std::optional<amd64::FpuRegs> fpu;   // fetched during this stop
  bool event_seen = false;             // its own stop event came since it last resumed
  std::optional<ThreadStop> stale;     // learned through Stop; km's event for it is on its way
  bool pending = false;                // stopped on its own; gdb not told yet

  // Now stopped with this.
  void Stopped(const ThreadStop& s) {
    running = false;
    stop = s;
    stop->all_stopped.clear();  // the others' own records take those
    fpu.reset();
  }
  // km's stream event for a stop the agent already learned through a Stop call: not news.
  bool IsEcho(const ThreadStop& s) {
    const bool echo = stale && *stale == s;
    stale.reset();
    return echo;
  }
  // Resumed: nothing of the last stop holds any more.
  void Resumed() {
    running = true;
    stop.reset();
    fpu.reset();
    event_seen = false;
  }
};

class ThreadTable {
 public:
  explicit ThreadTable(Target& target) : target_(&target) {}

  std::map<int, ThreadRecord>& records() { return records_; }
  const std::map<int, ThreadRecord>& records() const { return records_; }

  // Live threads, lowest tid first.
  std::vector<int> Threads() const;
  bool IsAlive(int tid) const { return records_.count(tid) != 0; }

  // A stopped thread's registers, FPU state included when asked for (fetched once per stop).
  absl::StatusOr<amd64::Registers> Registers(int tid, bool fpu);
  absl::Status SetRegisters(int tid, const amd64::Registers& regs);
  // A stopped thread's record (its stop is set); NotFound or FailedPrecondition otherwise.
  absl::StatusOr<ThreadRecord*> FindStopped(int tid);

 private:

  Target* target_;
  std::map<int, ThreadRecord> records_;
};

}  // namespace agent
