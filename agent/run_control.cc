#include "agent/run_control.h"

#include <csignal>

#include "absl/strings/str_format.h"

namespace agent {
namespace {

// A stop worth telling gdb about even if it happened while another thread's stop was reported.
bool StoppedOnItsOwn(const StopReason& reason) { return reason.kind != StopKind::kInterrupted; }

// km runs no guest signal handlers: a thread resumed with a signal whose default action is not
// to ignore it ends the payload. Returns that signal, or 0.
int FatalSignal(const std::vector<ThreadAction>& actions) {
  for (const ThreadAction& a : actions) {
    const int s = a.linux_signal;
    if (s != 0 && s != SIGCHLD && s != SIGURG && s != SIGWINCH && s != SIGCONT) return s;
  }
  return 0;
}

}  // namespace

absl::StatusOr<StopReport> RunControl::Begin(int pid) {
  absl::Status s = StopAll(/*first_contact=*/true);
  if (!s.ok()) return s;
  if (threads_.empty()) return absl::FailedPreconditionError("the payload has no threads left");
  const int first = threads_.count(pid) != 0 ? pid : threads_.begin()->first;
  for (auto& [tid, t] : threads_) t.pending = false;
  return ReportThread(*threads_[first].stop, /*interrupted=*/false);
}

std::vector<int> RunControl::Threads() const {
  std::vector<int> out;
  for (const auto& [tid, t] : threads_) out.push_back(tid);
  return out;
}

absl::StatusOr<amd64::Registers> RunControl::Registers(int tid, bool fpu) {
  auto it = threads_.find(tid);
  if (it == threads_.end()) return absl::NotFoundError(absl::StrFormat("no thread %d", tid));
  ThreadData& t = it->second;
  if (t.running || !t.stop) {
    return absl::FailedPreconditionError(absl::StrFormat("thread %d is running", tid));
  }
  if (fpu && !t.fpu) {
    absl::StatusOr<amd64::Registers> full = target_.ReadRegisters(tid, /*fpu=*/true);
    if (!full.ok()) return full.status();
    t.fpu = full->fpu;
  }
  return amd64::Registers{t.stop->regs, t.fpu};
}

absl::Status RunControl::SetRegisters(int tid, const amd64::Registers& regs) {
  auto it = threads_.find(tid);
  if (it == threads_.end()) return absl::NotFoundError(absl::StrFormat("no thread %d", tid));
  ThreadData& t = it->second;
  if (t.running || !t.stop) {
    return absl::FailedPreconditionError(absl::StrFormat("thread %d is running", tid));
  }
  absl::Status s = target_.WriteRegisters(tid, regs);
  if (!s.ok()) return s;
  t.stop->regs = regs.general;
  if (regs.fpu) t.fpu = regs.fpu;
  return absl::OkStatus();
}

absl::StatusOr<std::optional<StopReport>> RunControl::Resume(
    const std::vector<ThreadAction>& actions) {
  if (exit_) return ReportExit();
  std::vector<int> to_run;
  const ThreadAction* rest = nullptr;
  for (const ThreadAction& a : actions) {
    if (a.tid == 0) rest = &a;
  }
  for (const auto& [tid, t] : threads_) {
    if (t.running) continue;
    bool named = false;
    for (const ThreadAction& a : actions) named = named || a.tid == tid;
    if (named || rest != nullptr) to_run.push_back(tid);
  }
  for (int tid : to_run) {
    ThreadData& t = threads_[tid];
    if (!t.pending) continue;
    t.pending = false;
    if (StillReportable(*t.stop)) return std::optional<StopReport>(ReportThread(*t.stop, false));
  }
  absl::Status s = target_.Resume(actions);
  // A fatal signal ends the payload, often inside the call: km exits before it answers. Its
  // ProcessExited event (or the stream's end) tells the rest; stops seen meanwhile are the
  // dying threads', not news for gdb.
  ending_signal_ = FatalSignal(actions);
  if (!s.ok() && !(absl::IsUnavailable(s) && ending_signal_ != 0)) return s;
  for (int tid : to_run) {
    ThreadData& t = threads_[tid];
    t.running = true;
    t.stop.reset();
    t.fpu.reset();
    t.event_seen = false;
  }
  running_ = !to_run.empty();
  return std::optional<StopReport>();
}

absl::StatusOr<std::optional<StopReport>> RunControl::HandleEvent(const Event& event) {
  if (const auto* stop = std::get_if<ThreadStop>(&event)) {
    if (ending_signal_ != 0 || exit_) return std::optional<StopReport>();
    ThreadData& t = threads_[stop->tid];
    if (t.stale && *t.stale == *stop) {
      t.stale.reset();
      return std::optional<StopReport>();
    }
    t.stale.reset();
    t.event_seen = true;
    t.running = false;
    t.stop = *stop;
    t.fpu.reset();
    // Nothing was meant to run: keep it for the next resume.
    t.pending = !running_ && StoppedOnItsOwn(stop->reason);
    if (!running_) return std::optional<StopReport>();
    bool others_running = false;
    for (const auto& [tid, other] : threads_) others_running = others_running || other.running;
    if (others_running) {
      absl::Status s = StopAll(/*first_contact=*/false);
      if (!s.ok()) return s;
    }
    running_ = false;
    return std::optional<StopReport>(ReportThread(*stop, false));
  }
  if (const auto* created = std::get_if<ThreadCreated>(&event)) {
    if (threads_.count(created->tid) != 0) return std::optional<StopReport>();
    threads_[created->tid].running = true;
    if (!running_) {
      // Born while gdb thinks everything is stopped: stop it too.
      absl::StatusOr<std::vector<ThreadStop>> stops = target_.Stop({created->tid});
      if (!stops.ok()) return stops.status();
      for (const ThreadStop& s : *stops) Absorb(s, /*first_contact=*/false);
    }
    return std::optional<StopReport>();
  }
  if (const auto* exited = std::get_if<ThreadExited>(&event)) {
    threads_.erase(exited->tid);
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
  for (auto& [tid, t] : threads_) {
    if (t.pending && StillReportable(*t.stop)) {
      t.pending = false;
      return ReportThread(*t.stop, false);
    }
  }
  if (threads_.empty()) return absl::FailedPreconditionError("the payload has no threads left");
  const int tid = threads_.count(last_report_.tid) != 0 ? last_report_.tid : threads_.begin()->first;
  return ReportThread(*threads_[tid].stop, /*interrupted=*/true);
}

absl::Status RunControl::Kill() {
  // A thread resumed with a fatal signal ends the payload: km runs no guest signal handlers.
  const std::vector<ThreadAction> kill = {ThreadAction{0, ResumeMode::kContinue, SIGKILL}};
  absl::Status s = target_.Resume(kill);
  if (!s.ok() && !absl::IsUnavailable(s)) return s;
  running_ = false;
  threads_.clear();
  exit_ = StopReport{.kind = StopReport::Kind::kTerminated, .linux_signal = SIGKILL};
  last_report_ = *exit_;
  return absl::OkStatus();
}

absl::Status RunControl::StopAll(bool first_contact) {
  absl::StatusOr<std::vector<ThreadStop>> stops = target_.Stop({});
  if (!stops.ok()) return stops.status();
  std::map<int, ThreadData> previous;
  previous.swap(threads_);
  for (const ThreadStop& s : *stops) {
    auto it = previous.find(s.tid);
    if (it != previous.end()) threads_[s.tid] = std::move(it->second);
    Absorb(s, first_contact);
  }
  return absl::OkStatus();
}

void RunControl::Absorb(const ThreadStop& stop, bool first_contact) {
  auto [it, is_new] = threads_.try_emplace(stop.tid);
  ThreadData& t = it->second;
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
      return true;
    case StopKind::kBreakpoint:
      return breakpoints_.Has(BreakpointKind::kSoftware, stop.regs.rip);
    case StopKind::kHwBreakpoint:
      return breakpoints_.Has(BreakpointKind::kHardware, stop.regs.rip);
    case StopKind::kWatchpoint:
      return breakpoints_.WatchCovers(stop.reason.watch_addr);
    case StopKind::kStep:
    case StopKind::kInterrupted:
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
  threads_.clear();
  last_report_ = *exit_;
  return exit_;
}

}  // namespace agent
