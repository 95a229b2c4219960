// DebugController's execution recording and reverse execution. km::ExecutionLog keeps what
// each instruction changed; this walks it backwards (reverse step and continue) and forwards
// (a resume while the threads show the past), stopping where a debugger would, and keeps the
// threads' stops of the present aside meanwhile.
#include <signal.h>

#include <algorithm>

#include "absl/strings/str_format.h"
#include "km_hooks/debug_controller.h"

namespace km_hooks {
namespace {

// gdb's default `record full insn-number-max`.
constexpr uint64_t kDefaultMaxInstructions = 200000;

v1::StopReason ReplayReason(v1::StopKind kind) {
  v1::StopReason r;
  r.set_kind(kind);
  r.set_signal(SIGTRAP);
  return r;
}

}  // namespace

// The stopped threads' vCPUs and guest memory, as the log sees them. Memory goes through the
// breakpoint table so that recorded bytes under a breakpoint stay the original code.
class DebugController::ThreadsMachine final : public km::ReplayMachine {
 public:
  ThreadsMachine(km::Process& process, SwBreakpoints& breakpoints) : breakpoints_(breakpoints) {
    for (auto& thread : process.Threads()) {
      if (thread->state() != km::ThreadState::kExited) by_vcpu_[thread->vcpu_id()] = thread;
    }
  }
  std::shared_ptr<km::GuestThread> Thread(int vcpu) {
    auto it = by_vcpu_.find(vcpu);
    return it == by_vcpu_.end() ? nullptr : it->second;
  }
  absl::Status GetCpu(int vcpu, km::Regs* regs, km::FpuRegs* fpu) override {
    auto thread = Thread(vcpu);
    if (thread == nullptr) return NoThread(vcpu);
    if (absl::Status s = thread->GetRegs(regs); !s.ok() || fpu == nullptr) return s;
    return thread->WithVcpu([&](km::Vcpu& v) { return v.GetFpu(fpu); });
  }
  absl::Status SetCpu(int vcpu, const km::Regs& regs, const km::FpuRegs* fpu) override {
    auto thread = Thread(vcpu);
    if (thread == nullptr) return NoThread(vcpu);
    if (fpu != nullptr) {
      if (absl::Status s = thread->WithVcpu([&](km::Vcpu& v) { return v.SetFpu(*fpu); });
          !s.ok()) {
        return s;
      }
    }
    return thread->SetRegs(regs);
  }
  uint64_t ReadMemory(uint64_t gva, void* dst, uint64_t len) override {
    return breakpoints_.Read(gva, dst, len);
  }
  uint64_t WriteMemory(uint64_t gva, const void* src, uint64_t len) override {
    return breakpoints_.Write(gva, src, len);
  }

 private:
  static absl::Status NoThread(int vcpu) {
    return absl::DataLossError(
        absl::StrFormat("the recording names vCPU %d, which no thread has now", vcpu));
  }
  SwBreakpoints& breakpoints_;
  absl::flat_hash_map<int, std::shared_ptr<km::GuestThread>> by_vcpu_;
};

absl::StatusOr<v1::RecordingStatus> DebugController::SetRecording(bool enabled,
                                                                  uint64_t max_instructions) {
  absl::MutexLock control(&control_mu_);
  if (!process_.engine().caps().recording) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "the %s engine cannot record execution (km --accel=tcg can)", process_.engine().name()));
  }
  if (!enabled) {
    if (absl::Status s = StopRecordingLocked(); !s.ok()) return s;
  } else {
    const uint64_t max = max_instructions == 0 ? kDefaultMaxInstructions : max_instructions;
    if (recording_ && log_->max_entries() != max) {
      if (absl::Status s = StopRecordingLocked(); !s.ok()) return s;
    }
    if (!recording_) {
      // A vCPU may still be reporting to the old log: it is replaced, never freed, until km
      // ends (one per change of the limit).
      if (log_ == nullptr || log_->max_entries() != max) {
        if (log_ != nullptr) retired_logs_.push_back(std::move(log_));
        log_ = std::make_unique<km::ExecutionLog>(process_.memory(), max);
      }
      log_->Clear();
      process_.memory().SetWriteObserver(log_.get());
      if (absl::Status s = process_.engine().SetRecorder(log_.get()); !s.ok()) {
        process_.memory().SetWriteObserver(nullptr);
        return s;
      }
      recording_ = true;
      active_log_ = log_.get();
    }
  }
  return GetRecordingLocked();
}

v1::RecordingStatus DebugController::GetRecording() {
  absl::MutexLock control(&control_mu_);
  return GetRecordingLocked();
}

v1::RecordingStatus DebugController::GetRecordingLocked() {
  v1::RecordingStatus out;
  out.set_enabled(recording_);
  if (log_ != nullptr) {
    out.set_max_instructions(log_->max_entries());
    if (recording_) {
      out.set_instructions(log_->entries());
      out.set_replay_position(log_->undone());
    }
  }
  return out;
}

absl::Status DebugController::StopRecordingLocked() {
  if (!recording_) return absl::OkStatus();
  if (absl::Status s = ReplayToPresentLocked(); !s.ok()) return s;
  process_.engine().SetRecorder(nullptr).IgnoreError();
  process_.memory().SetWriteObserver(nullptr);
  active_log_ = nullptr;
  log_->Clear();
  recording_ = false;
  return absl::OkStatus();
}

bool DebugController::ReplayingLocked() { return recording_ && log_->undone() > 0; }

absl::Status DebugController::RefuseWhileReplaying(std::string_view what) {
  absl::MutexLock control(&control_mu_);
  if (!ReplayingLocked()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrFormat(
      "cannot write %s while replaying the recorded past (%d instructions back): go forward "
      "to the present first, or stop recording",
      what, log_->undone()));
}

void DebugController::ReportReplayStop(km::GuestThread& thread, const v1::StopReason& reason,
                                       bool remember) {
  v1::Event ev;
  *ev.mutable_stop() = MakeStopEvent(thread, reason);
  absl::MutexLock lock(&mu_);
  if (remember) threads_[thread.tid()].stopped = reason;
  if (streaming_) events_.Push(std::move(ev));
}

std::optional<v1::StopReason> DebugController::WatchedStore(
    const std::vector<std::pair<uint64_t, uint64_t>>& stores) {
  absl::MutexLock lock(&mu_);
  for (const auto& [gva, len] : stores) {
    for (const km::Watchpoint& w : watchpoints_) {
      if (w.kind == km::WatchKind::kRead) continue;
      const uint64_t lo = std::max(gva, w.addr);
      const uint64_t hi = std::min(gva + len, w.addr + w.len);
      if (lo >= hi) continue;
      v1::StopReason r = ReplayReason(v1::STOP_KIND_WATCHPOINT);
      r.set_watch_addr(lo);
      r.set_watch_kind(w.kind == km::WatchKind::kWrite ? v1::WATCH_KIND_WRITE
                                                       : v1::WATCH_KIND_ACCESS);
      return r;
    }
  }
  return std::nullopt;
}

std::optional<v1::StopReason> DebugController::BreakpointAt(km::GuestThread& thread,
                                                           const km::Regs& regs) {
  const uint64_t rip = regs.rip;
  if (sw_breakpoints_.HeldBy(rip, Holder::kDebugger) &&
      actions_.OnHit(/*hardware=*/false, rip, regs, thread.tid())) {
    return ReplayReason(v1::STOP_KIND_BREAKPOINT);
  }
  if (OnHwBreakpoint(rip) && actions_.OnHit(/*hardware=*/true, rip, regs, thread.tid())) {
    return ReplayReason(v1::STOP_KIND_HW_BREAKPOINT);
  }
  return std::nullopt;
}

absl::Status DebugController::ReverseResume(const v1::ThreadAction& action) {
  std::shared_ptr<km::GuestThread> named;
  auto threads = process_.Threads();
  std::sort(threads.begin(), threads.end(),
            [](const auto& a, const auto& b) { return a->vcpu_id() < b->vcpu_id(); });
  {
    absl::MutexLock lock(&mu_);
    if (absl::Status s = EveryThreadStoppedLocked(threads, "reverse execution"); !s.ok()) return s;
  }
  for (const auto& thread : threads) {
    if (thread->state() == km::ThreadState::kExited) continue;
    if (action.tid() == 0 || action.tid() == thread->tid()) {
      named = thread;
      break;
    }
  }
  if (named == nullptr) return absl::NotFoundError(absl::StrFormat("no thread %d", action.tid()));
  if (!recording_) {
    ReportReplayStop(*named, ReplayReason(v1::STOP_KIND_HISTORY_BEGIN), /*remember=*/false);
    return absl::OkStatus();
  }
  ThreadsMachine machine(process_, sw_breakpoints_);
  if (log_->undone() == 0) {
    // The present: each thread's last instruction ends with its state now.
    for (const auto& thread : threads) {
      if (thread->state() == km::ThreadState::kExited) continue;
      km::Regs regs;
      km::FpuRegs fpu{};
      if (absl::Status s = machine.GetCpu(thread->vcpu_id(), &regs, &fpu); !s.ok()) return s;
      log_->Sync(thread->vcpu_id(), regs, fpu);
    }
    absl::MutexLock lock(&mu_);
    present_ = threads_;
    // A signal held at the present is not the past's: nothing may deliver it there.
    for (auto& [tid, td] : threads_) td.signal.reset();
  }
  const bool step = action.mode() == v1::RESUME_MODE_REVERSE_STEP;
  for (;;) {
    absl::StatusOr<std::optional<km::ExecutionLog::Applied>> undone = log_->Undo(machine);
    if (!undone.ok()) return undone.status();
    if (!undone->has_value()) {
      ReportReplayStop(*named, ReplayReason(v1::STOP_KIND_HISTORY_BEGIN));
      return absl::OkStatus();
    }
    const km::ExecutionLog::Applied& a = **undone;
    std::shared_ptr<km::GuestThread> thread = machine.Thread(a.vcpu);
    if (!a.instruction || thread == nullptr) continue;
    if (step) {
      if (thread != named) continue;
      ReportReplayStop(*thread, ReplayReason(v1::STOP_KIND_STEP));
      return absl::OkStatus();
    }
    // Going backwards, a write watchpoint triggers on the instruction that wrote, before it.
    if (std::optional<v1::StopReason> r = WatchedStore(a.stores)) {
      ReportReplayStop(*thread, *r);
      return absl::OkStatus();
    }
    km::Regs regs;
    if (absl::Status s = thread->GetRegs(&regs); !s.ok()) return s;
    if (std::optional<v1::StopReason> r = BreakpointAt(*thread, regs)) {
      ReportReplayStop(*thread, *r);
      return absl::OkStatus();
    }
  }
}

absl::StatusOr<bool> DebugController::ReplayForward(const std::vector<v1::ThreadAction>& actions) {
  int step_tid = -1;
  uint64_t range_start = 0, range_end = 0;
  for (const v1::ThreadAction& a : actions) {
    if (a.mode() == v1::RESUME_MODE_STEP || a.mode() == v1::RESUME_MODE_RANGE_STEP) {
      step_tid = a.tid();
      if (a.mode() == v1::RESUME_MODE_RANGE_STEP) {
        range_start = a.range_start();
        range_end = a.range_end();
      }
    }
  }
  ThreadsMachine machine(process_, sw_breakpoints_);
  for (;;) {
    absl::StatusOr<std::optional<km::ExecutionLog::Applied>> redone = log_->Redo(machine);
    if (!redone.ok()) return redone.status();
    if (!redone->has_value()) break;
    const km::ExecutionLog::Applied& a = **redone;
    std::shared_ptr<km::GuestThread> thread = machine.Thread(a.vcpu);
    if (!a.instruction || thread == nullptr) continue;
    // Forwards, as live: a watchpoint stops after the write, a breakpoint before its
    // instruction, a step after one instruction of its thread.
    if (std::optional<v1::StopReason> r = WatchedStore(a.stores)) {
      ReportReplayStop(*thread, *r);
      return true;
    }
    km::Regs regs;
    if (absl::Status s = thread->GetRegs(&regs); !s.ok()) return s;
    const bool stepper = thread->tid() == step_tid || (step_tid == 0 && actions.size() == 1);
    if (stepper && regs.rip >= range_start && regs.rip < range_end &&
        !BreakpointAt(*thread, regs)) {
      continue;
    }
    if (stepper) {
      ReportReplayStop(*thread, ReplayReason(v1::STOP_KIND_STEP));
      return true;
    }
    if (std::optional<v1::StopReason> r = BreakpointAt(*thread, regs)) {
      ReportReplayStop(*thread, *r);
      return true;
    }
  }
  RestorePresentStops();
  return false;
}

void DebugController::RestorePresentStops() {
  // The threads stand where they stopped live: they get those stops back.
  absl::MutexLock lock(&mu_);
  if (present_) threads_ = *std::exchange(present_, std::nullopt);
}

absl::Status DebugController::ReplayToPresentLocked() {
  if (!ReplayingLocked()) return absl::OkStatus();
  ThreadsMachine machine(process_, sw_breakpoints_);
  for (;;) {
    absl::StatusOr<std::optional<km::ExecutionLog::Applied>> redone = log_->Redo(machine);
    if (!redone.ok()) return redone.status();
    if (!redone->has_value()) break;
  }
  RestorePresentStops();
  return absl::OkStatus();
}

}  // namespace km_hooks
