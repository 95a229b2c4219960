// A trace run: gdb's tracepoints between `tstart` and `tstop`, its trace state variables and
// the frames collected at the hits. A hit collects on the hitting thread's own host thread,
// which then runs on: nobody stops, no event is sent, gdb reads the frames afterwards.
// Knows nothing of int3s: the controller puts them in and takes them out at the addresses this
// class gives it.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

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
inline constexpr size_t kMaxTracepoints = 10000;
inline constexpr size_t kMaxTraceVariables = 10000;

class TraceRun {
 public:
  // Copies guest memory as the debugger sees it (breakpoint bytes as the original code) and
  // returns how many bytes it copied: fewer at the first unmapped one.
  using MemoryReader = std::function<uint64_t(uint64_t addr, void* dst, uint64_t len)>;
  explicit TraceRun(MemoryReader read) : read_(std::move(read)) {}

  // InvalidArgument naming what is wrong: a malformed expression, an unknown register, a size
  // past km's limits.
  static absl::Status Validate(const v1::StartTraceRequest& request);
  // Begins a run (ending any before it and dropping its frames). Returns the addresses of the
  // enabled tracepoints, where the caller puts its int3s.
  std::vector<uint64_t> Start(const v1::StartTraceRequest& request);
  // Ends the run if it is running; returns the addresses its int3s were at (empty if it was
  // not running).
  std::vector<uint64_t> Stop(v1::TraceStopReason reason);

  bool running() const { return running_; }
  v1::TraceStatus Status() const;
  v1::TraceFrame Find(const v1::FindTraceFrameRequest& request) const;

  // At a hit of the int3 at addr by thread tid (regs: its registers, rip at addr): collects a
  // frame for each enabled tracepoint there whose condition holds. fpu reads the thread's FPU
  // state, asked only by a tracepoint that collects registers. When the hit ends the run (a
  // pass count reached, the buffer full, an expression that fails), returns the addresses
  // whose int3s the run no longer needs.
  std::vector<uint64_t> OnHit(uint64_t addr, const km::Regs& regs, int tid,
                              absl::FunctionRef<absl::StatusOr<v1::FpuRegisters>()> fpu);

 private:
  struct Frame {
    uint32_t tracepoint = 0;
    uint64_t pc = 0;
    int tid = 0;
    std::optional<v1::Registers> registers;
    std::vector<std::pair<uint64_t, std::string>> memory;
    std::vector<std::pair<uint32_t, int64_t>> variables;
    uint64_t bytes = 0;
  };
  struct Tracepoint {
    v1::Tracepoint definition;
    uint64_t hits = 0;
    uint64_t bytes = 0;
  };
  struct Variable {
    int64_t value = 0;
    std::string name;
  };
  class Collector;

  // Collects one tracepoint's frame; false if the run ended.
  bool CollectLocked(Tracepoint& tp, const km::Regs& regs, int tid,
                     absl::FunctionRef<absl::StatusOr<v1::FpuRegisters>()> fpu)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Keeps the frame if the buffer has room for it (making room in a circular one).
  bool StoreLocked(Frame frame, Tracepoint& tp) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<uint64_t> StopLocked(v1::TraceStopReason reason, uint32_t tracepoint = 0,
                                   std::string error = "") ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::TraceFrame ToProto(const Frame& frame, uint64_t number) const;

  const MemoryReader read_;
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
  uint64_t used_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t created_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace km_hooks
