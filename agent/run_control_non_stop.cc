#include "agent/run_control_non_stop.h"

#include <algorithm>
#include <csignal>

#include "absl/strings/str_format.h"

namespace agent {

NonStopRunControl::NonStopRunControl(Target& target, ThreadTable threads,
                                     std::optional<StopReport> exit)
    : target_(target), table_(std::move(threads)), exit_(std::move(exit)) {
  // What all-stop held back for its next resume, '?' now reports.
  for (auto& [tid, t] : records()) t.pending = false;
}

absl::Status NonStopRunControl::Resume(const std::vector<ThreadAction>& actions) {
  if (exit_) return absl::FailedPreconditionError("the payload has exited");
  const ThreadAction* rest = nullptr;
  for (const ThreadAction& a : actions) {
    if (a.tid == 0 && rest == nullptr) rest = &a;
  }
  // Every thread by name: km's "tid 0" would also take threads held for gdb's acknowledgement.
  std::vector<ThreadAction> to_run;
  for (const auto& [tid, t] : records()) {
    if (t.running || t.pending) continue;
    auto named = std::find_if(actions.begin(), actions.end(),
                              [tid = tid](const ThreadAction& a) { return a.tid == tid; });
    const ThreadAction* action = named != actions.end() ? &*named : rest;
    if (action == nullptr) continue;
    ThreadAction a = *action;
    a.tid = tid;
    to_run.push_back(a);
  }
  if (to_run.empty()) return absl::OkStatus();
  // No wait for the stop: gdb expects its OK at once, and other threads may need serving.
  absl::Status s = target_.Resume(to_run, StopWait{});
  // A signal the payload does not handle ends it, often inside the call (see
  // RunControl::Resume).
  ending_signal_ = FatalSignal(to_run);
  if (!s.ok() && !(absl::IsUnavailable(s) && ending_signal_ != 0)) return s;
  for (const ThreadAction& a : to_run) records()[a.tid].Resumed();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<StopReport>> NonStopRunControl::Stop(const std::vector<int>& tids) {
  std::vector<int> running;
  for (const auto& [tid, t] : records()) {
    const bool asked = tids.empty() || std::find(tids.begin(), tids.end(), tid) != tids.end();
    if (asked && t.running) running.push_back(tid);
  }
  if (running.empty() || exit_) return std::vector<StopReport>();
  // One call for all when all are asked for; by name otherwise, one at a time, so that a thread
  // that exited meanwhile (km: NOT_FOUND; its exit event is on its way) fails only itself.
  std::vector<ThreadStop> stops;
  for (size_t i = 0; i < (tids.empty() ? 1 : running.size()); ++i) {
    absl::StatusOr<std::vector<ThreadStop>> some =
        target_.Stop(tids.empty() ? std::vector<int>() : std::vector<int>{running[i]});
    if (absl::IsNotFound(some.status())) continue;
    if (!some.ok()) return some.status();
    stops.insert(stops.end(), some->begin(), some->end());
  }
  std::vector<StopReport> reports;
  for (const ThreadStop& stop : stops) {
    auto it = records().find(stop.tid);
    // Stopped already (its event came first), or born after the event stream last spoke.
    if (it == records().end() || !it->second.running) continue;
    ThreadRecord& t = it->second;
    // A thread that stopped on its own just before the request: km's event is on its way.
    if (StoppedOnItsOwn(stop.reason) && !t.event_seen) t.stale = stop;
    reports.push_back(Report(stop.tid, stop));
  }
  return reports;
}

absl::StatusOr<std::vector<StopReport>> NonStopRunControl::Interrupt() {
  for (const auto& [tid, t] : records()) {
    if (!t.running) continue;
    absl::StatusOr<std::vector<StopReport>> reports = Stop({tid});
    if (!reports.ok()) return reports.status();
    for (StopReport& r : *reports) {
      if (r.reason.kind == StopKind::kInterrupted) {
        r.requested = false;
        r.interrupted = true;
      }
    }
    return reports;
  }
  return std::vector<StopReport>();
}

absl::StatusOr<std::optional<StopReport>> NonStopRunControl::HandleEvent(const Event& event) {
  if (exit_) return std::optional<StopReport>();
  if (const auto* stop = std::get_if<ThreadStop>(&event)) {
    // The old program's threads went with it.
    if (stop->reason.kind == StopKind::kExec) records().clear();
    ThreadRecord& t = records()[stop->tid];
    if (t.IsEcho(*stop)) return std::optional<StopReport>();
    t.event_seen = true;
    return std::optional<StopReport>(Report(stop->tid, *stop));
  }
  if (const auto* created = std::get_if<ThreadCreated>(&event)) {
    records().try_emplace(created->tid).first->second.running = true;
    return std::optional<StopReport>();
  }
  if (const auto* exited = std::get_if<ThreadExited>(&event)) {
    records().erase(exited->tid);
    return std::optional<StopReport>();
  }
  StopReport r;
  if (const auto* process = std::get_if<ProcessExited>(&event)) {
    if (process->linux_signal != 0) {
      r.kind = StopReport::Kind::kTerminated;
      r.linux_signal = process->linux_signal;
    } else {
      r.kind = StopReport::Kind::kExited;
      r.exit_status = process->status;
    }
  } else {
    // The stream ended without the exit (see RunControl::HandleEvent).
    r.kind = StopReport::Kind::kTerminated;
    r.linux_signal = ending_signal_ != 0 ? ending_signal_ : SIGKILL;
  }
  exit_ = r;
  records().clear();
  return std::optional<StopReport>(r);
}

void NonStopRunControl::Acknowledged(int tid) {
  auto it = records().find(tid);
  if (it != records().end()) it->second.pending = false;
}

std::vector<StopReport> NonStopRunControl::StoppedThreads() {
  if (exit_) return {*exit_};
  std::vector<StopReport> out;
  for (const auto& [tid, t] : records()) {
    if (!t.running && t.stop) out.push_back(Report(tid, *t.stop));
  }
  return out;
}

absl::Status NonStopRunControl::Kill() {
  // A thread resumed with a fatal signal ends the payload: km runs no guest signal handlers.
  // It takes a stopped thread; all of them may be running.
  if (absl::StatusOr<std::vector<ThreadStop>> stopped = target_.Stop({}); !stopped.ok()) {
    return stopped.status();
  }
  absl::Status s = target_.Resume({ThreadAction{0, ResumeMode::kContinue, SIGKILL}},
                                   StopWait{});
  if (!s.ok() && !absl::IsUnavailable(s)) return s;
  records().clear();
  exit_ = StopReport{.kind = StopReport::Kind::kTerminated, .linux_signal = SIGKILL};
  return absl::OkStatus();
}

StopReport NonStopRunControl::Report(int tid, const ThreadStop& stop) {
  ThreadRecord& t = records()[tid];
  t.Stopped(stop);
  t.pending = true;
  StopReport r;
  r.kind = StopReport::Kind::kThread;
  r.tid = tid;
  r.reason = stop.reason;
  r.requested = stop.reason.kind == StopKind::kInterrupted;
  r.regs = stop.regs;
  return r;
}

}  // namespace agent
