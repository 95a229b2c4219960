// The debugger's side of km's runtime: it sees threads stop (km::DebugObserver), keeps what
// each stopped thread stopped for, runs stop/resume/step per thread, owns breakpoints and
// watchpoints, and turns all of it into events for the controlling session. It knows nothing
// of gRPC transport; the service calls it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "km/execution_log.h"
#include "km/runtime/debug_observer.h"
#include "km/runtime/guest_thread.h"
#include "km/runtime/process.h"
#include "km_hooks/breakpoint_actions.h"
#include "km_hooks/event_queue.h"
#include "km_hooks/sw_breakpoints.h"
#include "km_hooks/trace_run.h"
#include "proto/km_debug.pb.h"

namespace km_hooks {

namespace v1 = ::km::debug::v1;

class DebugController : public km::DebugObserver {
 public:
  // socket_path: where this km serves its debugger (the next km of an execve serves there too).
  explicit DebugController(km::Process& process, std::string socket_path = "");

  // --debug-wait: the main thread stops before its first instruction.
  void HoldMainThread();

  // The controlling session started or ended. Ending removes every breakpoint and watchpoint
  // and resumes every thread the debugger stopped: the payload runs on as if never debugged.
  void SessionStarted();
  // deliverable: bit signo-1 set for each signal a thread stopped with may get as it is resumed
  // (the debugger's QProgramSignals); nullopt: all of them.
  void SessionEnded(std::optional<uint64_t> deliverable = std::nullopt);
  EventQueue& events() { return events_; }
  // The session's Events stream opened: from now on events are queued for it. Returns one stop
  // event per thread already stopped, taken atomically with that switch so that no stop is
  // reported twice or not at all.
  std::vector<v1::Event> OpenStream();
  // The stream carried the process's exit and closed: km may go.
  void ExitDelivered();

  v1::Target Target();
  std::vector<v1::Thread> Threads();

  absl::StatusOr<std::vector<v1::StopEvent>> Stop(const std::vector<int>& tids);
  absl::Status Resume(const std::vector<v1::ThreadAction>& actions);

  absl::StatusOr<v1::Registers> ReadRegisters(int tid, bool fpu);
  absl::Status WriteRegisters(int tid, const v1::Registers& regs);

  // Short reads stop at the first unmapped byte; breakpoint bytes read as the original code.
  std::string ReadMemory(uint64_t addr, uint64_t len);
  absl::StatusOr<uint64_t> WriteMemory(uint64_t addr, const std::string& data);

  // Inserting a breakpoint again replaces its conditions and commands (see BreakpointRequest).
  absl::Status InsertBreakpoint(v1::BreakpointKind kind, uint64_t addr, uint64_t len,
                                BreakpointActions actions);
  absl::Status RemoveBreakpoint(v1::BreakpointKind kind, uint64_t addr, uint64_t len);

  // The syscalls that stop a running thread at entry and return (none: every one).
  void CatchSyscalls(bool enabled, const std::vector<int64_t>& numbers);
  // The signals (bit signo - 1) that reach the payload without stopping a thread not stepping.
  void PassSignals(uint64_t mask) { passed_signals_ = mask; }
  // What SessionEnded delivers when not told otherwise (see ProgramSignals in the proto).
  void ProgramSignals(uint64_t mask) {
    absl::MutexLock lock(&mu_);
    program_signals_ = mask;
  }

  // Tracepoints (see StartTrace in the proto). Starting or stopping needs no thread stopped.
  absl::StatusOr<v1::TraceStatus> StartTrace(const v1::StartTraceRequest& request);
  v1::TraceStatus StopTrace();
  v1::TraceStatus TraceStatus() { return trace_.Status(); }
  v1::TraceFrame FindTraceFrame(const v1::FindTraceFrameRequest& request) {
    return trace_.Find(request);
  }

  // Execution recording and reverse execution (debug_controller_replay.cc; see SetRecording
  // in the proto).
  absl::StatusOr<v1::RecordingStatus> SetRecording(bool enabled, uint64_t max_instructions);
  v1::RecordingStatus GetRecording();

  // A core file of the payload as it is (see WriteCore in the proto), every thread stopped;
  // tid's thread first (debug_controller_core.cc).
  absl::StatusOr<v1::WriteCoreResponse> WriteCore(const std::string& path, int tid);

  // km::DebugObserver, called on guest threads' host threads.
  km::DebugAction OnStop(km::GuestThread& thread, const km::StopEvent& event) override;
  km::DebugAction OnSignal(km::GuestThread& thread, const km::SignalInfo& info) override;
  void BeforeSyscall(km::GuestThread& thread, uint64_t number) override;
  void AfterSyscall(km::GuestThread& thread, uint64_t number) override;
  // A controlling session gets an exec stop, and the next km holds its thread for it.
  bool BeforeExec(km::GuestThread& thread, const std::string& program) override;
  void AfterFork(km::GuestThread& thread, int child_pid, bool vfork) override;
  km::ExecDebug ForExec() override;
  void OnThreadStart(km::GuestThread& thread) override;
  void OnThreadExit(km::GuestThread& thread) override;
  void OnProcessExit(const km::ExitInfo& info) override;
  std::vector<std::pair<uint64_t, uint8_t>> PlantedBytes() override {
    return sw_breakpoints_.Originals();
  }

 private:
  // What the debugger knows of a thread it stopped.
  struct ThreadDebug {
    std::optional<v1::StopReason> stopped;  // set while stopped by or for the debugger
    bool stepping = false;                  // a step the debugger asked for
    // The signal it stopped with (a fault's, or one on its way to it): resuming with that
    // number passes this one on, with its siginfo.
    std::optional<km::SignalInfo> signal;
    // A range step: stepping goes on while rip stays in [range_start, range_end).
    uint64_t range_start = 0;
    uint64_t range_end = 0;
  };

  absl::StatusOr<std::shared_ptr<km::GuestThread>> FindThread(int tid);
  v1::StopEvent MakeStopEvent(km::GuestThread& thread, const v1::StopReason& reason);
  // Applies the current hardware breakpoints and watchpoints to one thread's vCPU.
  absl::Status ApplyDebugRegs(km::GuestThread& thread);
  absl::Status ApplyDebugRegsEverywhere();
  // Parks the thread for the debugger with this reason and tells the session.
  km::DebugAction ReportStop(km::GuestThread& thread, const v1::StopReason& reason);
  absl::Status ResumeOne(km::GuestThread& thread, const v1::ThreadAction& action);
  // Single-steps the thread from rip, past the int3 there if original (the byte it replaced)
  // is given: the engine runs the original instruction for this thread alone.
  absl::Status StepFrom(km::GuestThread& thread, uint64_t rip, std::optional<uint8_t> original);
  bool OnHwBreakpoint(uint64_t addr);
  // FAILED_PRECONDITION ("<what> needs every thread stopped; thread N is running") unless every
  // one of threads that has not exited is stopped for the debugger.
  absl::Status EveryThreadStoppedLocked(
      const std::vector<std::shared_ptr<km::GuestThread>>& threads, std::string_view what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether a thread (not single-stepping) stops at this syscall's entry and return.
  bool CatchesLocked(uint64_t number) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After one step of a range step: true if the thread steps on without a stop (rip still in
  // the range, and no breakpoint there that wants a stop). *collected: a tracepoint at rip
  // collected.
  bool ContinueRangeStep(km::GuestThread& thread, bool* collected);
  // A breakpoint hit whose conditions are all false: runs the thread past it with no stop.
  km::DebugAction PassFalseHit(km::GuestThread& thread, uint64_t addr);
  // The thread is at addr, with regs: the trace run collects if a tracepoint is there. A
  // tracepoint's while-stepping starts only where may_step (the thread then steps on past the
  // int3 and ContinueTraceSteps takes it from there).
  void CollectTrace(km::GuestThread& thread, uint64_t addr, const km::Regs& regs, bool may_step);
  // After a step the debugger did not ask for: true if the thread steps on for a tracepoint's
  // while-stepping (one more step's frame collected).
  bool ContinueTraceSteps(km::GuestThread& thread);
  // One step of the thread's while-stepping ended: collects its frame; true while more steps
  // are wanted. regs: where the step ended.
  bool CollectTraceStep(km::GuestThread& thread, km::Regs& regs);

  // Replay (debug_controller_replay.cc), all under control_mu_.
  class ThreadsMachine;
  // Undone instructions: the threads show the recorded past.
  bool ReplayingLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(control_mu_);
  absl::Status RefuseWhileReplaying(std::string_view what);
  absl::Status ReverseResume(const v1::ThreadAction& action)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(control_mu_);
  // A forward resume while replaying: redoes recorded instructions until something stops a
  // thread (true) or the present is reached (false; the threads then run live).
  absl::StatusOr<bool> ReplayForward(const std::vector<v1::ThreadAction>& actions)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(control_mu_);
  // Redoes everything undone and gives the threads back their stops of the present.
  absl::Status ReplayToPresentLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(control_mu_);
  void RestorePresentStops() ABSL_EXCLUSIVE_LOCKS_REQUIRED(control_mu_);
  absl::Status StopRecordingLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(control_mu_);
  v1::RecordingStatus GetRecordingLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(control_mu_);
  // A stop found while replaying: the thread is parked already. Unless remember, the thread
  // keeps the stop it had (nothing moved).
  void ReportReplayStop(km::GuestThread& thread, const v1::StopReason& reason,
                        bool remember = true);
  // The first write watchpoint that one of these stores overlaps: its reason, watch_addr set.
  std::optional<v1::StopReason> WatchedStore(
      const std::vector<std::pair<uint64_t, uint64_t>>& stores);
  // A breakpoint at rip that wants this thread stopped there.
  std::optional<v1::StopReason> BreakpointAt(km::GuestThread& thread, const km::Regs& regs);

  km::Process& process_;
  const std::string socket_path_;
  SwBreakpoints sw_breakpoints_;
  BreakpointActionTable actions_;
  TraceRun trace_;
  EventQueue events_;

  absl::Mutex mu_;
  bool session_ ABSL_GUARDED_BY(mu_) = false;
  bool hold_main_ ABSL_GUARDED_BY(mu_) = false;
  bool streaming_ ABSL_GUARDED_BY(mu_) = false;
  bool exit_delivered_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<int, ThreadDebug> threads_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> hw_breakpoints_ ABSL_GUARDED_BY(mu_);
  std::vector<km::Watchpoint> watchpoints_ ABSL_GUARDED_BY(mu_);
  // Read without mu_ at every syscall: no lock on the syscall path while nothing is caught.
  std::atomic<bool> catching_syscalls_{false};
  absl::flat_hash_set<int64_t> caught_syscalls_ ABSL_GUARDED_BY(mu_);  // empty: every one
  std::atomic<uint64_t> passed_signals_{0};
  std::optional<uint64_t> program_signals_ ABSL_GUARDED_BY(mu_);
  // Serializes run-control requests (Stop, Resume, debug register changes) among themselves.
  absl::Mutex control_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  // A signal the client passes (PassSignals) and this thread, not being stepped, just takes.
  bool PassesLocked(const km::GuestThread& thread, int signo) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Created at the first SetRecording and kept: a vCPU may still be reporting to it when
  // recording stops.
  std::unique_ptr<km::ExecutionLog> log_;
  bool recording_ ABSL_GUARDED_BY(control_mu_) = false;
  std::vector<std::unique_ptr<km::ExecutionLog>> retired_logs_;
  // log_ while recording, for threads starting and exiting (the log begins again then).
  std::atomic<km::ExecutionLog*> active_log_{nullptr};
  // The threads' stops at the present, kept while they show the past.
  std::optional<absl::flat_hash_map<int, ThreadDebug>> present_ ABSL_GUARDED_BY(control_mu_);
};

}  // namespace km_hooks
