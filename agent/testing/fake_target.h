// A Target for unit tests: threads whose stops the test scripts, a flat memory, and a log of
// every call, so tests can assert how many round trips to km an operation costs. Its event fd
// is readable while events are queued, so a real server loop (gdb_session) can serve it too.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "agent/target.h"

namespace agent::testing {

class FakeTarget : public Target {
 public:
  struct FakeThread {
    std::string name;
    bool running = false;
    ThreadStop stop;
  };

  static constexpr int kPid = 100;
  static constexpr uint64_t kMemoryBase = 0x400000;

  FakeTarget() : memory_(0x1000, '\0'), event_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    AddThread(kPid, "main", /*running=*/false);
    threads_[kPid].stop.regs.rip = 0x401000;
  }
  ~FakeTarget() override { close(event_fd_); }
  FakeTarget(const FakeTarget&) = delete;
  FakeTarget& operator=(const FakeTarget&) = delete;

  void AddThread(int tid, std::string name, bool running) {
    FakeThread& t = threads_[tid];
    t.name = std::move(name);
    t.running = running;
    t.stop.tid = tid;
    t.stop.regs.gpr[7] = 0x7ffff000 + static_cast<uint64_t>(tid);
  }

  // A running thread stops on its own, as km would report it.
  void StopsOnItsOwn(int tid, StopReason reason, uint64_t rip, bool push_event = true) {
    FakeThread& t = threads_[tid];
    t.running = false;
    t.stop.reason = reason;
    t.stop.regs.rip = rip;
    if (push_event) PushEvent(t.stop);
  }
  // The stop km answers inside the Resume call: when that resume asked for stop_others, every
  // other thread is stopped first and all of them come with it.
  void StopsInTheCall(int tid, StopReason reason, uint64_t rip) {
    StopsOnItsOwn(tid, reason, rip, /*push_event=*/false);
    ThreadStop stop = threads_[tid].stop;
    if (last_wait_.stop_others) {
      for (auto& [other, t] : threads_) {
        if (t.running) t.stop.reason = StopReason{StopKind::kInterrupted, 0};
        t.running = false;
        stop.all_stopped.push_back(t.stop);
      }
    }
    PushEvent(stop);
  }
  void PushEvent(Event e) {
    events_.push_back(std::move(e));
    const uint64_t one = 1;
    (void)!write(event_fd_, &one, sizeof one);
  }
  // The payload has a handler for this signal: resuming with it runs on.
  void HandlesSignal(int linux_signal) { handled_signals_.insert(linux_signal); }
  // The engine can record (TargetInfo::recording); SetRecording fails without it.
  void set_can_record(bool can) { can_record_ = can; }
  // While recording: the pcs the main thread ran through, oldest first, for reverse execution
  // to walk back (see ReverseStop).
  void Recorded(std::vector<uint64_t> rips) {
    history_ = std::move(rips);
    recording_.instructions = history_.size();
    recording_.replay_position = 0;
  }

  std::map<int, FakeThread>& threads() { return threads_; }
  std::vector<std::string>& calls() { return calls_; }
  std::string& memory() { return memory_; }
  TargetInfo info() const {
    TargetInfo i;
    i.payload_path = "/payloads/hello";
    i.pid = kPid;
    i.auxv = std::string("\x06\0\0\0\0\0\0\0\0\x10\0\0\0\0\0\0", 16);
    i.engine = "fake";
    i.recording = can_record_;
    i.regions = {Region{kMemoryBase, memory_.size(), true, true, false, "data", "test"}};
    return i;
  }

  absl::StatusOr<TargetInfo> GetTarget() override {
    calls_.push_back("GetTarget");
    return info();
  }

  absl::StatusOr<std::vector<ThreadInfo>> ListThreads() override {
    calls_.push_back("ListThreads");
    std::vector<ThreadInfo> out;
    for (const auto& [tid, t] : threads_) {
      out.push_back({tid, t.name, t.running ? ThreadState::kRunning : ThreadState::kStopped});
    }
    return out;
  }

  absl::StatusOr<std::vector<ThreadStop>> Stop(const std::vector<int>& tids) override {
    calls_.push_back(absl::StrCat("Stop(", absl::StrJoin(tids, ","), ")"));
    std::vector<ThreadStop> out;
    for (auto& [tid, t] : threads_) {
      if (!tids.empty() && std::find(tids.begin(), tids.end(), tid) == tids.end()) continue;
      if (t.running) {
        t.running = false;
        t.stop.reason = StopReason{StopKind::kInterrupted, 0};
      }
      out.push_back(t.stop);
    }
    return out;
  }

  absl::Status Resume(const std::vector<ThreadAction>& actions, StopWait wait) override {
    last_wait_ = wait;
    std::vector<std::string> parts;
    for (const ThreadAction& a : actions) {
      std::string mode = a.mode == ResumeMode::kStep ? "s" : "c";
      if (a.mode == ResumeMode::kRangeStep) mode = absl::StrFormat("r%x-%x", a.range_start, a.range_end);
      if (a.mode == ResumeMode::kReverseStep) mode = "bs";
      if (a.mode == ResumeMode::kReverseContinue) mode = "bc";
      parts.push_back(absl::StrFormat("%d:%s:%d", a.tid, mode, a.linux_signal));
    }
    calls_.push_back(absl::StrCat("Resume(", absl::StrJoin(parts, ";"), ")"));
    if (actions.size() == 1 && IsReverse(actions[0].mode)) {
      ReverseStop(actions[0]);
      return absl::OkStatus();
    }
    for (const ThreadAction& a : actions) {
      // What km does with a signal the payload does not handle: the payload ends inside the
      // call, the event goes out, the call dies.
      if (a.linux_signal != 0 && !handled_signals_.contains(a.linux_signal)) {
        PushEvent(ProcessExited{128 + a.linux_signal, a.linux_signal});
        return absl::UnavailableError("Socket closed");
      }
    }
    for (const ThreadAction& a : actions) {
      for (auto& [tid, t] : threads_) {
        if (a.tid == tid || (a.tid == 0 && !t.running)) t.running = true;
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<amd64::Registers> ReadRegisters(int tid, bool fpu) override {
    calls_.push_back(absl::StrFormat("ReadRegisters(%d,%d)", tid, fpu));
    amd64::Registers r{threads_[tid].stop.regs, std::nullopt};
    if (fpu) {
      r.fpu.emplace();
      r.fpu->mxcsr = 0x1f80;
      r.fpu->x87_control[0] = 0x37f;
      r.fpu->xmm[1][0] = 0x42;
    }
    return r;
  }

  absl::Status WriteRegisters(int tid, const amd64::Registers& regs) override {
    calls_.push_back(absl::StrFormat("WriteRegisters(%d,%d)", tid, regs.fpu.has_value()));
    if (absl::Status s = RefuseWhileReplaying(); !s.ok()) return s;
    threads_[tid].stop.regs = regs.general;
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> ReadMemory(uint64_t addr, uint64_t len) override {
    calls_.push_back(absl::StrFormat("ReadMemory(%x,%d)", addr, len));
    if (addr < kMemoryBase || addr >= kMemoryBase + memory_.size()) {
      return absl::InvalidArgumentError(absl::StrFormat("guest address 0x%x is not mapped", addr));
    }
    return memory_.substr(addr - kMemoryBase, len);
  }

  absl::Status WriteMemory(uint64_t addr, absl::string_view data) override {
    calls_.push_back(absl::StrFormat("WriteMemory(%x,%d)", addr, data.size()));
    if (absl::Status s = RefuseWhileReplaying(); !s.ok()) return s;
    if (addr < kMemoryBase || addr + data.size() > kMemoryBase + memory_.size()) {
      return absl::InvalidArgumentError(absl::StrFormat("guest address 0x%x is not mapped", addr));
    }
    memory_.replace(addr - kMemoryBase, data.size(), data.data(), data.size());
    return absl::OkStatus();
  }

  absl::Status CatchSyscalls(bool enabled, const std::vector<int64_t>& numbers) override {
    calls_.push_back(absl::StrCat("CatchSyscalls(", enabled ? 1 : 0, ":", absl::StrJoin(numbers, ","), ")"));
    return absl::OkStatus();
  }

  absl::Status PassSignals(const std::vector<int>& linux_signals) override {
    calls_.push_back(absl::StrCat("PassSignals(", absl::StrJoin(linux_signals, ","), ")"));
    return absl::OkStatus();
  }

  absl::Status ProgramSignals(const std::vector<int>& linux_signals) override {
    calls_.push_back(absl::StrCat("ProgramSignals(", absl::StrJoin(linux_signals, ","), ")"));
    return absl::OkStatus();
  }

  absl::Status InsertBreakpoint(BreakpointKind kind, uint64_t addr, uint64_t len,
                                const BreakpointActions& actions) override {
    std::string call = absl::StrFormat("Insert(%d,%x,%d", static_cast<int>(kind), addr, len);
    for (const std::string& c : actions.conditions) absl::StrAppend(&call, ",", c.size(), "B");
    if (!actions.commands.empty()) {
      absl::StrAppend(&call, ",cmds", actions.persist_commands ? "!" : "", ":");
      for (const std::string& c : actions.commands) absl::StrAppend(&call, c.size(), "B");
    }
    calls_.push_back(call + ")");
    if (refuse_watchpoints_ && kind != BreakpointKind::kSoftware && kind != BreakpointKind::kHardware) {
      return absl::UnimplementedError("no data watchpoints");
    }
    return absl::OkStatus();
  }
  absl::Status RemoveBreakpoint(BreakpointKind kind, uint64_t addr, uint64_t len) override {
    calls_.push_back(absl::StrFormat("Remove(%d,%x,%d)", static_cast<int>(kind), addr, len));
    return absl::OkStatus();
  }

  absl::StatusOr<RecordingStatus> SetRecording(bool enabled, uint64_t max_instructions) override {
    calls_.push_back(absl::StrFormat("SetRecording(%d,%d)", enabled, max_instructions));
    if (!can_record_) return absl::FailedPreconditionError("the fake engine cannot record");
    recording_ = RecordingStatus{enabled, 0, max_instructions != 0 ? max_instructions : 200000, 0};
    history_.clear();
    return recording_;
  }
  absl::StatusOr<RecordingStatus> GetRecording() override {
    calls_.push_back("GetRecording");
    return recording_;
  }

  // Tracing as km does it, with no hits of its own: StartTrace keeps the setup (trace_setup())
  // and replaces the frames with those RecordsAtStart gave; FindTraceFrame searches the frames
  // (trace_frames()), in order.
  absl::Status StartTrace(const TraceSetup& setup) override {
    calls_.push_back(absl::StrFormat("StartTrace(%d,%d)", setup.tracepoints.size(),
                                     setup.variables.size()));
    if (!can_trace_) return absl::UnimplementedError("StartTrace: unknown method");
    trace_setup_ = setup;
    trace_frames_ = frames_at_start_;
    trace_status_ = TraceStatus{};
    trace_status_.running = true;
    trace_status_.ever_run = true;
    trace_status_.frames = trace_status_.frames_created = trace_frames_.size();
    trace_status_.buffer_size = setup.buffer_size != 0 ? setup.buffer_size : 5 << 20;
    trace_status_.buffer_free = trace_status_.buffer_size;
    trace_status_.circular = setup.circular;
    trace_status_.start_time_us = 1;
    for (const Tracepoint& t : setup.tracepoints) {
      trace_status_.tracepoints.push_back({t.number, t.address, 0, 0});
    }
    for (const TraceVariable& v : setup.variables) {
      trace_status_.variables.push_back({v.number, v.initial_value});
    }
    return absl::OkStatus();
  }
  absl::Status StopTrace() override {
    calls_.push_back("StopTrace");
    if (!can_trace_) return absl::UnimplementedError("StopTrace: unknown method");
    trace_status_.running = false;
    trace_status_.stop_reason = TraceStopReason::kRequested;
    trace_status_.stop_time_us = 2;
    return absl::OkStatus();
  }
  absl::StatusOr<TraceStatus> GetTraceStatus() override {
    calls_.push_back("GetTraceStatus");
    if (!can_trace_) return absl::UnimplementedError("GetTraceStatus: unknown method");
    return trace_status_;
  }
  absl::StatusOr<std::optional<TraceFrame>> FindTraceFrame(const TraceFrameQuery& q) override {
    calls_.push_back(absl::StrFormat("FindTraceFrame(%d,%d)", static_cast<int>(q.kind), q.after));
    if (!can_trace_) return absl::UnimplementedError("FindTraceFrame: unknown method");
    for (const TraceFrame& f : trace_frames_) {
      const bool inside = f.pc >= q.start && f.pc <= q.end;
      const bool later = static_cast<int64_t>(f.number) > q.after;
      switch (q.kind) {
        case TraceFrameQuery::Kind::kNumber:
          if (f.number == q.number) return f;
          break;
        case TraceFrameQuery::Kind::kPc:
          if (later && f.pc == q.pc) return f;
          break;
        case TraceFrameQuery::Kind::kTracepoint:
          if (later && f.tracepoint == q.tracepoint) return f;
          break;
        case TraceFrameQuery::Kind::kInside:
          if (later && inside) return f;
          break;
        case TraceFrameQuery::Kind::kOutside:
          if (later && !inside) return f;
          break;
      }
    }
    return std::nullopt;
  }

  absl::Status Detach() override {
    calls_.push_back("Detach");
    for (auto& [tid, t] : threads_) t.running = true;
    return absl::OkStatus();
  }

  int event_fd() const override { return event_fd_; }
  std::optional<Event> NextEvent() override {
    if (events_.empty()) {
      uint64_t count;
      (void)!read(event_fd_, &count, sizeof count);
      return std::nullopt;
    }
    Event e = std::move(events_.front());
    events_.pop_front();
    return e;
  }

  void set_refuse_watchpoints(bool refuse) { refuse_watchpoints_ = refuse; }
  // A km that predates tracing: every trace call is an unknown method.
  void set_can_trace(bool can) { can_trace_ = can; }
  const TraceSetup& trace_setup() const { return trace_setup_; }
  TraceStatus& trace_status() { return trace_status_; }
  std::vector<TraceFrame>& trace_frames() { return trace_frames_; }
  // What the next run records, for a gdb that starts it itself.
  void RecordsAtStart(std::vector<TraceFrame> frames) { frames_at_start_ = std::move(frames); }
  const StopWait& last_wait() const { return last_wait_; }

 private:
  // km keeps the past as recorded: nothing changes it while the threads replay.
  absl::Status RefuseWhileReplaying() const {
    if (recording_.replay_position == 0) return absl::OkStatus();
    return absl::FailedPreconditionError("replaying the recording: registers and memory are read-only");
  }

  // km's answer to a reverse resume, at once, over the pcs Recorded gave: a step goes back to
  // the previous one, a continue to the oldest (the history's beginning); with none left or
  // nothing recorded the thread stays where it is, at the beginning.
  void ReverseStop(const ThreadAction& a) {
    FakeThread& t = threads_[a.tid != 0 ? a.tid : kPid];
    t.stop.reason = StopReason{StopKind::kHistoryBegin, 5};
    if (recording_.enabled && !history_.empty()) {
      if (a.mode == ResumeMode::kReverseStep) {
        t.stop.reason.kind = StopKind::kStep;
        t.stop.regs.rip = history_.back();
        history_.pop_back();
      } else {
        t.stop.regs.rip = history_.front();
        history_.clear();
      }
      recording_.replay_position = recording_.instructions - history_.size();
    }
    PushEvent(t.stop);
  }

  std::map<int, FakeThread> threads_;
  std::deque<Event> events_;
  std::vector<std::string> calls_;
  std::set<int> handled_signals_;
  std::string memory_;
  bool refuse_watchpoints_ = false;
  StopWait last_wait_;
  bool can_record_ = false;
  RecordingStatus recording_;
  std::vector<uint64_t> history_;
  bool can_trace_ = true;
  TraceSetup trace_setup_;
  TraceStatus trace_status_;
  std::vector<TraceFrame> trace_frames_;
  std::vector<TraceFrame> frames_at_start_;
  int event_fd_;
};

}  // namespace agent::testing
