// What the agent needs from the thing it debugs, in the agent's own terms. GrpcTarget
// (grpc_target.h) implements it over km's control service; unit tests use a fake. Everything
// above this interface is free of gRPC.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/arch/amd64/registers.h"

namespace agent {

enum class StopKind {
  kBreakpoint,    // software breakpoint; rip is its address
  kHwBreakpoint,  // rip is its address
  kWatchpoint,    // rip is past the accessing instruction
  kStep,
  kInterrupted,   // stopped on request (Stop, or km's --debug-wait hold)
  kSignal,        // a fault or signal the payload would die of
  kSyscallEntry,  // a caught syscall (Target::CatchSyscalls), not yet run
  kSyscallReturn, // a caught syscall, returned
  kHistoryBegin,  // reverse execution reached the oldest recorded state, or nothing is recorded
  // The process became another program (execve): the thread is the new program's only one,
  // before its first instruction; nothing of the old program (breakpoints, threads, memory)
  // is left. exec_path names the program.
  kExec,
};

enum class WatchKind { kWrite, kRead, kAccess };

struct StopReason {
  StopKind kind = StopKind::kInterrupted;
  int linux_signal = 0;
  uint64_t fault_addr = 0;
  uint64_t watch_addr = 0;
  WatchKind watch_kind = WatchKind::kWrite;
  int64_t syscall = 0;  // kSyscallEntry, kSyscallReturn
  // kSignal: the rest of the payload's siginfo.
  int signal_code = 0;
  int sender_pid = 0;
  uint32_t sender_uid = 0;
  std::string exec_path;  // kExec

  bool operator==(const StopReason&) const = default;
};

enum class ThreadState { kRunning, kStopped, kExited };

struct ThreadInfo {
  int tid = 0;
  std::string name;
  ThreadState state = ThreadState::kRunning;
};

struct ThreadStop {
  int tid = 0;
  StopReason reason;
  amd64::GeneralRegs regs;
  // Stack memory around rsp from stack_addr as it was at the stop (may be empty or short): for
  // unwinding without a read. Not part of what the stop is: two reports of one stop are equal
  // whatever these hold.
  uint64_t stack_addr = 0;
  std::string stack;
  // Every thread as ListThreads would list them at the stop, when the resume asked for it
  // (StopWait::list_threads) and the stop came back inside the call; else empty.
  std::vector<ThreadInfo> threads;
  // Every thread as Stop({}) returns them, this one included, when km stopped the others at this
  // stop (StopWait::stop_others) and the stop came back inside the call; else empty. The stack
  // bytes were then read with every thread stopped.
  std::vector<ThreadStop> all_stopped;

  bool operator==(const ThreadStop& o) const {
    return tid == o.tid && reason == o.reason && regs == o.regs;
  }
};

struct ThreadCreated {
  int tid;
};
struct ThreadExited {
  int tid;
  int exit_status;
};
struct ProcessExited {
  int status;  // exit status, or 128 + signal
  int linux_signal;  // nonzero when killed by a signal
};
// The event stream ended without the process's exit: km went away or dropped the session.
struct EventsEnded {
  std::string why;
};
// A thread forked a child, which runs without the debugger.
struct ChildForked {
  int tid = 0;
  int child_pid = 0;
  bool vfork = false;
};

using Event =
    std::variant<ThreadStop, ThreadCreated, ThreadExited, ProcessExited, EventsEnded, ChildForked>;

struct Region {
  uint64_t start = 0;
  uint64_t size = 0;
  bool read = false, write = false, exec = false;
  std::string kind;  // "text", "data", "heap", "stack", "mmap"
  std::string name;
};

struct TargetInfo {
  std::string payload_path;
  std::vector<std::string> argv;
  uint64_t entry = 0;
  uint64_t load_bias = 0;
  bool pie = false;
  std::string auxv;
  std::vector<Region> regions;
  std::string engine;
  bool avx = false;
  bool data_watchpoints = false;
  int hw_breakpoints = 0;
  bool recording = false;  // the engine can record: reverse execution is possible
  int pid = 0;
};

enum class BreakpointKind { kSoftware, kHardware, kWatchWrite, kWatchRead, kWatchAccess };

// Agent expressions gdb attaches to a breakpoint for the target to run at each hit: conditions
// (stop only when one is true) and commands (run them and go on, as a dprintf does), and
// whether the commands outlive gdb's connection.
struct BreakpointActions {
  std::vector<std::string> conditions;
  std::vector<std::string> commands;
  bool persist_commands = false;

  bool operator==(const BreakpointActions&) const = default;
};

// kRangeStep: step while the pc stays in [range_start, range_end) and nothing else stops the
// thread, then stop as after one step (gdb's vCont;r).
// kReverseStep, kReverseContinue: back through the recording (Target::SetRecording), the only
// action of their resume, with every thread stopped. Every thread's state moves back, not only
// the named one's; a reverse continue with tid 0 stops in whichever thread it stops.
enum class ResumeMode { kContinue, kStep, kRangeStep, kReverseStep, kReverseContinue };

inline bool IsReverse(ResumeMode mode) {
  return mode == ResumeMode::kReverseStep || mode == ResumeMode::kReverseContinue;
}

struct ThreadAction {
  int tid = 0;  // 0: every stopped thread not named by another action
  ResumeMode mode = ResumeMode::kContinue;
  int linux_signal = 0;
  uint64_t range_start = 0;
  uint64_t range_end = 0;
};

// The action of a resume that steps (or range-steps) one thread alone; else null.
inline const ThreadAction* LoneStep(const std::vector<ThreadAction>& actions) {
  if (actions.size() != 1 || actions[0].tid == 0) return nullptr;
  const ResumeMode mode = actions[0].mode;
  return mode == ResumeMode::kStep || mode == ResumeMode::kRangeStep ? &actions[0] : nullptr;
}

// What km keeps of the payload's past, for reverse execution.
struct RecordingStatus {
  bool enabled = false;
  uint64_t instructions = 0;      // recorded and still kept
  uint64_t max_instructions = 0;  // the oldest are dropped past it
  // How many of them reverse execution has undone: 0 at the live end. While above 0 the
  // threads replay the past, and km refuses register and memory writes.
  uint64_t replay_position = 0;
};

// Memory a tracepoint collects at each hit: length bytes at the base register's value plus
// offset.
struct TraceMemory {
  int base_register = -1;  // gdb's register number; -1: offset is the address
  int64_t offset = 0;
  uint32_t length = 0;

  bool operator==(const TraceMemory&) const = default;
};

// A tracepoint as gdb defines it (the target has no while-stepping and no fast tracepoints).
// gdb numbers a tracepoint once for all its locations: number and address together name one.
struct Tracepoint {
  uint32_t number = 0;
  uint64_t address = 0;
  bool enabled = true;
  uint64_t pass_count = 0;  // the run stops after this many hits of it; 0: never
  std::string condition;    // agent expression: collect only when nonzero; empty: always
  bool collect_registers = false;  // every register, FPU state included
  std::vector<TraceMemory> memory;
  // Agent expressions run at each hit for what their trace bytecodes record and for their
  // effect on trace state variables (gdb's `teval`).
  std::vector<std::string> expressions;
  // while-stepping: the steps after each hit and what each collects.
  uint64_t step_count = 0;
  bool step_collect_registers = false;
  std::vector<TraceMemory> step_memory;
  std::vector<std::string> step_expressions;

  bool operator==(const Tracepoint&) const = default;
};

// A trace state variable (gdb's `tvariable $NAME = VALUE`), numbered as gdb numbers them.
struct TraceVariable {
  uint32_t number = 0;
  int64_t initial_value = 0;
  std::string name;

  bool operator==(const TraceVariable&) const = default;
};

// What a trace run collects, and into how big a buffer.
struct TraceSetup {
  std::vector<Tracepoint> tracepoints;
  std::vector<TraceVariable> variables;
  uint64_t buffer_size = 0;  // bytes of frames kept; 0: the target's default
  bool circular = false;     // when full, the oldest frames make room
};

enum class TraceStopReason {
  kNone,          // running, or never run
  kRequested,     // StopTrace
  kPassCount,     // stopping_tracepoint reached its pass count
  kBufferFull,
  kDisconnected,  // the session ended
  kError,         // stopping_tracepoint's collection failed: error says why
};

struct TracepointStatus {
  uint32_t number = 0;
  uint64_t address = 0;
  uint64_t hits = 0;   // hits its condition let through
  uint64_t bytes = 0;  // frame bytes it has taken
};

struct TraceVariableValue {
  uint32_t number = 0;
  int64_t value = 0;

  bool operator==(const TraceVariableValue&) const = default;
};

struct TraceStatus {
  bool running = false;
  bool ever_run = false;
  TraceStopReason stop_reason = TraceStopReason::kNone;
  uint32_t stopping_tracepoint = 0;
  std::string error;
  uint64_t frames = 0;          // in the buffer now
  uint64_t frames_created = 0;  // including those a circular buffer dropped
  uint64_t buffer_size = 0;
  uint64_t buffer_free = 0;
  bool circular = false;
  std::vector<TracepointStatus> tracepoints;
  std::vector<TraceVariableValue> variables;  // current values
  int64_t start_time_us = 0;  // since the Unix epoch; 0 if never started
  int64_t stop_time_us = 0;   // 0 while running
};

// Which trace frame to find (gdb's tfind). Every kind but kNumber takes the first match
// numbered above `after`.
struct TraceFrameQuery {
  enum class Kind {
    kNumber,      // exactly frame `number`
    kPc,          // a hit of a tracepoint at `pc`
    kTracepoint,  // a hit of tracepoint `tracepoint`
    kInside,      // a hit whose pc is in [start, end]
    kOutside,     // a hit whose pc is outside [start, end]
  };
  Kind kind = Kind::kNumber;
  int64_t after = -1;  // -1: from the first frame
  uint64_t number = 0;
  uint64_t pc = 0;
  uint32_t tracepoint = 0;
  uint64_t start = 0, end = 0;
};

struct MemoryBlock {
  uint64_t address = 0;
  std::string data;
};

// What one tracepoint hit recorded.
struct TraceFrame {
  uint64_t number = 0;
  uint32_t tracepoint = 0;
  uint64_t pc = 0;
  int tid = 0;
  std::optional<amd64::Registers> registers;  // with fpu, when the tracepoint collects them
  std::vector<MemoryBlock> memory;
  std::vector<TraceVariableValue> variables;  // values its expressions recorded
};

// wait > 0: the target may hold a resume that long for the next stop and deliver it through
// NextEvent as soon as the call returns, in its place among the other events (one round trip
// to km per step instead of a call and a stream event; see km's ResumeRequest.wait_for_stop_ms).
// The caller cannot serve anything else meanwhile.
struct StopWait {
  absl::Duration wait = absl::ZeroDuration();
  bool list_threads = false;  // see ThreadStop::threads
  bool stop_others = false;   // see ThreadStop::all_stopped
};

class Target {
 public:
  virtual ~Target() = default;

  virtual absl::StatusOr<TargetInfo> GetTarget() = 0;
  virtual absl::StatusOr<std::vector<ThreadInfo>> ListThreads() = 0;

  // Stops the threads (all if empty) and returns each one's state.
  virtual absl::StatusOr<std::vector<ThreadStop>> Stop(const std::vector<int>& tids) = 0;
  virtual absl::Status Resume(const std::vector<ThreadAction>& actions, StopWait wait) = 0;

  virtual absl::StatusOr<amd64::Registers> ReadRegisters(int tid, bool fpu) = 0;
  // Writes all general registers, and the FPU state when regs.fpu is set.
  virtual absl::Status WriteRegisters(int tid, const amd64::Registers& regs) = 0;

  // Shorter than asked when the range runs into unmapped memory; an error if nothing is readable.
  virtual absl::StatusOr<std::string> ReadMemory(uint64_t addr, uint64_t len) = 0;
  virtual absl::Status WriteMemory(uint64_t addr, absl::string_view data) = 0;

  // actions (breakpoints only): what the target does at each hit instead of asking gdb.
  // Inserting again at the same place replaces them.
  virtual absl::Status InsertBreakpoint(BreakpointKind kind, uint64_t addr, uint64_t len,
                                        const BreakpointActions& actions) = 0;
  virtual absl::Status RemoveBreakpoint(BreakpointKind kind, uint64_t addr, uint64_t len) = 0;
  // Which syscalls stop a running thread at entry and return (none, when enabled: all).
  virtual absl::Status CatchSyscalls(bool enabled, const std::vector<int64_t>& numbers) = 0;
  // Linux signals that reach the payload without stopping a thread (one not being stepped).
  virtual absl::Status PassSignals(const std::vector<int>& linux_signals) = 0;
  // Linux signals a thread stopped with may get as the session ends, however it ends; until
  // this is called, every one.
  virtual absl::Status ProgramSignals(const std::vector<int>& linux_signals) = 0;

  // Turns execution recording on or off (TargetInfo::recording says whether the engine can).
  // max_instructions 0: km's default. Needs every thread stopped; turning it off while
  // replaying first replays to the end.
  virtual absl::StatusOr<RecordingStatus> SetRecording(bool enabled, uint64_t max_instructions) = 0;
  virtual absl::StatusOr<RecordingStatus> GetRecording() = 0;

  // Tracing: at each hit of one of setup's tracepoints the target records a trace frame and
  // the thread runs on, with no stop and no event. StartTrace replaces the tracepoints,
  // variables and frames of any run before.
  virtual absl::Status StartTrace(const TraceSetup& setup) = 0;
  virtual absl::Status StopTrace() = 0;
  virtual absl::StatusOr<TraceStatus> GetTraceStatus() = 0;
  // The frame the query finds, if one does.
  virtual absl::StatusOr<std::optional<TraceFrame>> FindTraceFrame(
      const TraceFrameQuery& query) = 0;

  // Ends the session: km removes every breakpoint and lets every thread run (replaying to the
  // end of the recording first, so the payload goes on from its real present). A signal a
  // thread stopped with goes to it then, unless ProgramSignals left it out.
  virtual absl::Status Detach() = 0;

  // Events arrive on their own; event_fd() becomes readable when NextEvent has one.
  virtual int event_fd() const = 0;
  virtual std::optional<Event> NextEvent() = 0;
};

}  // namespace agent
