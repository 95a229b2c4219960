// A trace run: gdb's tracepoints between `tstart` and `tstop`, its trace state variables and
// the frames collected at the hits. A hit collects on the hitting thread's own host thread,
// which then runs on: nobody stops, no event is sent, gdb reads the frames afterwards.
// The run puts its int3s in and takes them out itself (through Int3s), under its own lock, so
// that a run's end and the next run's start never undo each other's.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "km/regs.h"
#include "proto/km_debug.pb.h"

namespace km_hooks {

namespace v1 = ::km::debug::v1;

// gdbserver's default, which gdb's `tstatus` users know.
inline constexpr uint64_t kDefaultTraceBufferSize = 5 * 1024 * 1024;
inline constexpr uint64_t kMaxTraceBufferSize = 256 * 1024 * 1024;
// One frame's data at most: a frame travels in one gRPC message (km's limit is 64 MiB).
inline constexpr uint64_t kMaxTraceFrameBytes = 16 * 1024 * 1024;
inline constexpr size_t kMaxTracepoints = 10000;
inline constexpr size_t kMaxTraceVariables = 10000;
inline constexpr uint64_t kMaxTraceSteps = 100000;

class TraceRun {
 public:
  // Copies guest memory as the debugger sees it (breakpoint bytes as the original code) and
  // returns how many bytes it copied: fewer at the first unmapped one.
  using MemoryReader = std::function<uint64_t(uint64_t addr, void* dst, uint64_t len)>;
  // The run's int3s beside the debugger's (SwBreakpoints, Holder::kTrace).
  struct Int3s {
    std::function<absl::Status(uint64_t addr)> insert;
    std::function<void(uint64_t addr)> remove;
  };
  TraceRun(MemoryReader read, Int3s int3s) : read_(std::move(read)), int3s_(std::move(int3s)) {}

  // InvalidArgument naming what is wrong: a malformed expression, an unknown register, a size
  // past km's limits.
  static absl::Status Validate(const v1::StartTraceRequest& request);
  // Ends any run before it, then begins this one with an int3 at each enabled tracepoint. If
  // one cannot go in (InvalidArgument naming the address), none stays and the frames of the
  // run before are kept.
  absl::Status Start(const v1::StartTraceRequest& request);
  void Stop(v1::TraceStopReason reason);

  bool running() const { return running_; }
  v1::TraceStatus Status() const;
  v1::TraceFrame Find(const v1::FindTraceFrameRequest& request) const;

  // At a hit of the int3 at addr by thread tid (regs: its registers, rip at addr): collects a
  // frame for each enabled tracepoint there whose condition holds. fpu reads the thread's FPU
  // state, asked only by a tracepoint that collects registers. A hit may end the run (a pass
  // count reached, the buffer full, an expression that fails), which takes its int3s out.
  // True when the thread is to step on for a tracepoint's while-stepping: the caller steps it
  // one instruction at a time, calling OnStep after each.
  bool OnHit(uint64_t addr, const km::Regs& regs, int tid,
             absl::FunctionRef<absl::StatusOr<km::FpuRegs>()> fpu);
  // After one of those steps (regs: where it ended): collects the step's frame. True while
  // more steps are wanted.
  bool OnStep(int tid, const km::Regs& regs,
              absl::FunctionRef<absl::StatusOr<km::FpuRegs>()> fpu);
  // The thread's steps end early (it stops for the debugger, meets an int3, exits).
  void ForgetSteps(int tid);
  // Whether the thread is amid a tracepoint's while-stepping.
  bool Stepping(int tid) const;

 private:
  // Kept as km's own structures, a third of their message's size, and apart from the frame:
  // most frames collect none.
  struct Registers {
    km::Regs regs;
    std::optional<km::FpuRegs> fpu;
  };
  struct Frame {
    uint32_t tracepoint = 0;
    uint64_t pc = 0;
    int tid = 0;
    std::unique_ptr<const Registers> registers;  // when collected
    std::vector<std::pair<uint64_t, std::string>> memory;
    std::vector<std::pair<uint32_t, int64_t>> variables;
    uint64_t bytes = 0;
  };
  struct Tracepoint {
    v1::Tracepoint definition;
    uint64_t hits = 0;
    uint64_t bytes = 0;
  };
  // A thread's while-stepping in progress.
  struct Steps {
    uint32_t tracepoint = 0;
    uint64_t address = 0;
    uint64_t left = 0;
  };
  struct Variable {
    int64_t value = 0;
    std::string name;
  };
  class Collector;

  // Collects one tracepoint's frame; false if the run ended.
  bool CollectLocked(Tracepoint& tp, const km::Regs& regs, int tid,
                     absl::FunctionRef<absl::StatusOr<km::FpuRegs>()> fpu)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Collects one frame at pc: a hit's (the tracepoint's actions) or a step's (its while-
  // stepping actions). False if the run ended.
  bool CollectFrameLocked(Tracepoint& tp, uint64_t pc, const km::Regs& regs, int tid,
                          absl::FunctionRef<absl::StatusOr<km::FpuRegs>()> fpu,
                          bool collect_registers,
                          const google::protobuf::RepeatedPtrField<v1::MemoryCollection>& memory,
                          const google::protobuf::RepeatedPtrField<std::string>& expressions)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Keeps the frame if the buffer has room for it (making room in a circular one).
  bool StoreLocked(Frame frame, Tracepoint& tp) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StopLocked(v1::TraceStopReason reason, uint32_t tracepoint = 0, std::string error = "")
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The distinct addresses of the enabled tracepoints: where the run's int3s are.
  std::vector<uint64_t> Int3AddressesLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::TraceFrame ToProto(const Frame& frame, uint64_t number) const;

  const MemoryReader read_;
  const Int3s int3s_;
  // Read without mu_ at every int3 hit: no lock on a hit while nothing is traced.
  std::atomic<bool> running_{false};
  mutable absl::Mutex mu_;
  bool ever_run_ ABSL_GUARDED_BY(mu_) = false;
  v1::TraceStopReason stop_reason_ ABSL_GUARDED_BY(mu_) = v1::TRACE_STOP_REASON_UNSPECIFIED;
  uint32_t stopping_tracepoint_ ABSL_GUARDED_BY(mu_) = 0;
  std::string error_ ABSL_GUARDED_BY(mu_);
  absl::Time start_time_ ABSL_GUARDED_BY(mu_) = absl::UnixEpoch();
  absl::Time stop_time_ ABSL_GUARDED_BY(mu_) = absl::UnixEpoch();
  uint64_t capacity_ ABSL_GUARDED_BY(mu_) = kDefaultTraceBufferSize;
  bool circular_ ABSL_GUARDED_BY(mu_) = false;
  // By address, in gdb's order (a tracepoint with several locations has one entry at each).
  std::multimap<uint64_t, Tracepoint> tracepoints_ ABSL_GUARDED_BY(mu_);
  std::map<uint32_t, Variable> variables_ ABSL_GUARDED_BY(mu_);
  std::deque<Frame> frames_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<int, Steps> steps_ ABSL_GUARDED_BY(mu_);  // by tid
  uint64_t used_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t created_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace km_hooks
