#include "agent/run_control.h"

#include <csignal>

#include "absl/strings/str_format.h"

namespace agent {
namespace {

// How long a resume waits in km for its stop (see Target::Resume): longer than a step or a
// nearby breakpoint takes on tcg, short enough that a ^C sent meanwhile is not noticeably late.
constexpr absl::Duration kStopWait = absl::Milliseconds(20);

}  // namespace

absl::StatusOr<StopReport> RunControl::Begin(int pid) {
  absl::Status s = StopAll(/*first_contact=*/true);
  if (!s.ok()) return s;
  if (records().empty()) return absl::FailedPreconditionError("the payload has no threads left");
  const int first = records().count(pid) != 0 ? pid : records().begin()->first;
  for (auto& [tid, t] : records()) t.pending = false;
  return ReportThread(*records()[first].stop, /*interrupted=*/false);
}

absl::StatusOr<std::optional<StopReport>> RunControl::Resume(
    const std::vector<ThreadAction>& actions) {
  if (exit_) return ReportExit();
  std::vector<int> to_run;
  const ThreadAction* rest = nullptr;
  bool reverse = false;
  for (const ThreadAction& a : actions) {
    if (a.tid == 0) rest = &a;
    reverse = reverse || IsReverse(a.mode);
  }
  for (const auto& [tid, t] : records()) {
    if (t.running) continue;
    bool named = false;
    for (const ThreadAction& a : actions) named = named || a.tid == tid;
    // Reverse execution undoes every thread's instructions: none keeps the state it stopped
    // with, so all are asked again when the stop comes.
    if (named || rest != nullptr || reverse) to_run.push_back(tid);
  }
  for (int tid : to_run) {
    ThreadRecord& t = records()[tid];
    if (!t.pending) continue;
    t.pending = false;
    // A stop held back happened in the present that reverse execution leaves.
    if (!reverse && StillReportable(*t.stop)) {
      return std::optional<StopReport>(ReportThread(*t.stop, false));
    }
  }
  // All-stop: when more than one thread may run (a default action also covers threads born
  // meanwhile), km stops the rest at the first stop before it answers, so the threads it lists
  // then are what gdb asks for next, as when one ran alone.
  bool alone = to_run.size() == 1 && rest == nullptr;
  for (const auto& [tid, t] : records()) alone = alone && !t.running;
  absl::Status s = target_.Resume(
      actions, StopWait{.wait = kStopWait, .list_threads = true, .stop_others = !alone});
  // A signal the payload does not handle ends it, often inside the call: km exits before it
  // answers. Its ProcessExited event (or the stream's end) tells the rest. A handled one runs
  // its handler, and the stops that follow are news like any other.
  ending_signal_ = FatalSignal(actions);
  if (!s.ok() && !(absl::IsUnavailable(s) && ending_signal_ != 0)) return s;
  for (int tid : to_run) {
    records()[tid].Resumed();
  }
  running_ = !to_run.empty();
  return std::optional<StopReport>();
}

absl::StatusOr<std::optional<StopReport>> RunControl::HandleEvent(const Event& event) {
  if (const auto* stop = std::get_if<ThreadStop>(&event)) {
    if (exit_) return std::optional<StopReport>();
    if (stop->reason.kind == StopKind::kExec) {
      // The old program's threads went with it; the new one has this one thread, stopped.
      records().clear();
      ThreadRecord& t = records()[stop->tid];
      t.event_seen = true;
      t.Stopped(*stop);
      t.pending = !running_;
      if (!running_) return std::optional<StopReport>();
      running_ = false;
      return std::optional<StopReport>(ReportThread(*stop, false));
    }
    ThreadRecord& t = records()[stop->tid];
    if (t.IsEcho(*stop)) return std::optional<StopReport>();
    t.event_seen = true;
    t.Stopped(*stop);
    // Nothing was meant to run: keep it for the next resume.
    t.pending = !running_ && StoppedOnItsOwn(stop->reason);
    if (!running_) return std::optional<StopReport>();
    bool others_running = false;
    for (const auto& [tid, other] : records()) others_running = others_running || other.running;
    if (others_running && !stop->all_stopped.empty()) {
      AbsorbAll(stop->all_stopped, /*first_contact=*/false);
    } else if (others_running) {
      absl::Status s = StopAll(/*first_contact=*/false);
      if (!s.ok()) return s;
    }
    running_ = false;
    return std::optional<StopReport>(ReportThread(*stop, false));
  }
  if (const auto* created = std::get_if<ThreadCreated>(&event)) {
    if (records().count(created->tid) != 0) return std::optional<StopReport>();
    records()[created->tid].running = true;
    if (!running_) {
      // Born while gdb thinks everything is stopped: stop it too.
      absl::StatusOr<std::vector<ThreadStop>> stops = target_.Stop({created->tid});
      if (!stops.ok()) return stops.status();
      for (const ThreadStop& s : *stops) Absorb(s, /*first_contact=*/false);
    }
    return std::optional<StopReport>();
  }
  if (const auto* exited = std::get_if<ThreadExited>(&event)) {
    records().erase(exited->tid);
    return std::optional<StopReport>();
  }
  if (const auto* process = std::get_if<ProcessExited>(&event)) {
    StopReport r;
    if (process->linux_signal != 0) {
      r.kind = StopReport::Kind::kTerminated;
      r.linux_signal = process->linux_signal;
    } else {
      r.kind = StopReport::Kind::kExited;
      r.exit_status = process->status;
    }
    exit_ = r;
  } else if (std::holds_alternative<EventsEnded>(event) && !exit_) {
    // km left without saying how the payload ended: by the signal it was resumed with, if
    // any (km may exit before the news gets out); otherwise it died under the payload.
    exit_ = StopReport{.kind = StopReport::Kind::kTerminated,
                       .linux_signal = ending_signal_ != 0 ? ending_signal_ : SIGKILL};
  }
  if (!running_) return std::optional<StopReport>();
  return ReportExit();
}

absl::StatusOr<StopReport> RunControl::Interrupt() {
  if (!running_) return last_report_;
  absl::Status s = StopAll(/*first_contact=*/false);
  if (!s.ok()) return s;
  running_ = false;
  for (auto& [tid, t] : records()) {
    if (t.pending && StillReportable(*t.stop)) {
      t.pending = false;
      return ReportThread(*t.stop, false);
    }
  }
  if (records().empty()) return absl::FailedPreconditionError("the payload has no threads left");
  const int tid = records().count(last_report_.tid) != 0 ? last_report_.tid : records().begin()->first;
  return ReportThread(*records()[tid].stop, /*interrupted=*/true);
}

absl::Status RunControl::Kill() {
  // SIGKILL: no handler can catch it.
  const std::vector<ThreadAction> kill = {ThreadAction{0, ResumeMode::kContinue, SIGKILL}};
  absl::Status s = target_.Resume(kill, StopWait{});
  if (!s.ok() && !absl::IsUnavailable(s)) return s;
  running_ = false;
  records().clear();
  exit_ = StopReport{.kind = StopReport::Kind::kTerminated, .linux_signal = SIGKILL};
  last_report_ = *exit_;
  return absl::OkStatus();
}

absl::Status RunControl::StopAll(bool first_contact) {
  absl::StatusOr<std::vector<ThreadStop>> stops = target_.Stop({});
  if (!stops.ok()) return stops.status();
  AbsorbAll(*stops, first_contact);
  return absl::OkStatus();
}

void RunControl::AbsorbAll(const std::vector<ThreadStop>& stops, bool first_contact) {
  std::map<int, ThreadRecord> previous;
  previous.swap(records());
  for (const ThreadStop& s : stops) {
    auto it = previous.find(s.tid);
    if (it != previous.end()) records()[s.tid] = std::move(it->second);
    Absorb(s, first_contact);
  }
}

void RunControl::Absorb(const ThreadStop& stop, bool first_contact) {
  auto [it, is_new] = records().try_emplace(stop.tid);
  ThreadRecord& t = it->second;
  if (!is_new && !t.running) return;  // already stopped: what the agent knows stands
  // At first contact km also sends an event for every thread already stopped, the one held
  // by --debug-wait included; later only threads that stopped on their own have one coming.
  if ((first_contact || StoppedOnItsOwn(stop.reason)) && !t.event_seen) t.stale = stop;
  t.pending = StoppedOnItsOwn(stop.reason);
  t.running = false;
  t.stop = stop;
  t.fpu.reset();
}

bool RunControl::StillReportable(const ThreadStop& stop) const {
  switch (stop.reason.kind) {
    case StopKind::kSignal:
    case StopKind::kSyscallEntry:
    case StopKind::kSyscallReturn:
    case StopKind::kExec:
      return true;
    case StopKind::kBreakpoint:
      return breakpoints_.Has(BreakpointKind::kSoftware, stop.regs.rip);
    case StopKind::kHwBreakpoint:
      return breakpoints_.Has(BreakpointKind::kHardware, stop.regs.rip);
    case StopKind::kWatchpoint:
      return breakpoints_.WatchCovers(stop.reason.watch_addr);
    case StopKind::kStep:
    case StopKind::kInterrupted:
    case StopKind::kHistoryBegin:
      return false;
  }
  return false;
}

StopReport RunControl::ReportThread(const ThreadStop& stop, bool interrupted) {
  StopReport r;
  r.kind = StopReport::Kind::kThread;
  r.tid = stop.tid;
  r.reason = stop.reason;
  r.interrupted = interrupted;
  r.regs = stop.regs;
  last_report_ = r;
  return r;
}

std::optional<StopReport> RunControl::ReportExit() {
  running_ = false;
  records().clear();
  last_report_ = *exit_;
  return exit_;
}

}  // namespace agent
