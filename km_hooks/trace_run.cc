#include "km_hooks/trace_run.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "km_hooks/agent_expr.h"
#include "km_hooks/gdb_registers.h"
#include "km_hooks/proto_convert.h"

namespace km_hooks {
namespace {


// gdb's name for the variable it defines for every run; its value is the time of each read.
constexpr char kTimestampVariable[] = "trace_timestamp";

}  // namespace

// The trace bytecodes' view of the run while one tracepoint collects: records into its frame
// (none while its condition runs) and reads and writes the run's variables. A frame counts
// what it takes of km's memory (Frame::bytes), which the buffer's size bounds.
class TraceRun::Collector : public AgentExprTrace {
 public:
  Collector(TraceRun& run, Frame* frame) : run_(run), frame_(frame) {}

  void RecordMemory(uint64_t addr, uint64_t len, bool until_zero) override {
    run_.mu_.AssertHeld();
    if (!frame_) return;
    const uint64_t cost = sizeof(frame_->memory[0]);
    const uint64_t used = frame_->bytes + cost;
    if (len > run_.capacity_ - std::min(run_.capacity_, used)) {
      // More than the whole buffer holds: the frame cannot be kept, and ends the run when
      // stored (rather than emptying a circular buffer for it).
      frame_->bytes = run_.capacity_ + 1;
      return;
    }
    // Past one frame's limit the rest is left out (unavailable to gdb, like unreadable memory).
    len = std::min(len, kMaxTraceFrameBytes - std::min(kMaxTraceFrameBytes, used));
    std::string bytes(len, '\0');
    bytes.resize(run_.read_(addr, bytes.data(), len));
    if (until_zero) {
      const size_t zero = bytes.find('\0');
      if (zero != std::string::npos) bytes.resize(zero + 1);
    }
    if (bytes.empty()) return;
    // What the frame holds is what it counts: not the whole of a read cut short.
    bytes.shrink_to_fit();
    frame_->bytes += cost + bytes.capacity();
    frame_->memory.emplace_back(addr, std::move(bytes));
  }

  absl::StatusOr<int64_t> GetVariable(int number) override {
    run_.mu_.AssertHeld();
    auto it = run_.variables_.find(number);
    if (it == run_.variables_.end()) {
      return absl::NotFoundError(absl::StrFormat("no trace state variable %d", number));
    }
    if (it->second.name == kTimestampVariable) return absl::ToUnixMicros(absl::Now());
    return it->second.value;
  }

  absl::Status SetVariable(int number, int64_t value) override {
    run_.mu_.AssertHeld();
    auto it = run_.variables_.find(number);
    if (it == run_.variables_.end()) {
      return absl::NotFoundError(absl::StrFormat("no trace state variable %d", number));
    }
    it->second.value = value;
    return absl::OkStatus();
  }

  absl::Status RecordVariable(int number) override {
    absl::StatusOr<int64_t> value = GetVariable(number);
    if (!value.ok()) return value.status();
    if (frame_) {
      frame_->bytes += sizeof(frame_->variables[0]);
      frame_->variables.emplace_back(number, *value);
    }
    return absl::OkStatus();
  }

 private:
  TraceRun& run_;
  Frame* const frame_;
};

absl::Status TraceRun::Validate(const v1::StartTraceRequest& request) {
  if (request.tracepoints_size() > static_cast<int>(kMaxTracepoints) ||
      request.variables_size() > static_cast<int>(kMaxTraceVariables)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%d tracepoints and %d trace state variables: at most %d and %d",
                        request.tracepoints_size(), request.variables_size(), kMaxTracepoints,
                        kMaxTraceVariables));
  }
  if (request.buffer_size() > kMaxTraceBufferSize) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "trace buffer of %d bytes: at most %d", request.buffer_size(), kMaxTraceBufferSize));
  }
  const km::Regs any{};
  for (const v1::Tracepoint& tp : request.tracepoints()) {
    auto bad = [&tp](absl::string_view what) {
      return absl::InvalidArgumentError(
          absl::StrFormat("tracepoint %d at 0x%x: %s", tp.number(), tp.address(), what));
    };
    if (!tp.condition().empty()) {
      if (absl::Status s = ValidateAgentExpr(tp.condition()); !s.ok()) return bad(s.message());
    }
    if (tp.step_count() > kMaxTraceSteps) {
      return bad(absl::StrFormat("while-stepping %d: at most %d steps", tp.step_count(),
                                 kMaxTraceSteps));
    }
    for (const auto* list : {&tp.expressions(), &tp.step_expressions()}) {
      for (const std::string& expr : *list) {
        if (absl::Status s = ValidateAgentExpr(expr); !s.ok()) return bad(s.message());
      }
    }
    for (const auto* list : {&tp.memory(), &tp.step_memory()}) {
      for (const v1::MemoryCollection& m : *list) {
        if (m.base_register() != -1 && !RegisterByGdbNumber(any, m.base_register())) {
          return bad(absl::StrFormat(
              "collects memory from register %d, which km does not offer", m.base_register()));
        }
        if (m.length() > kMaxTraceBufferSize) {
          return bad(absl::StrFormat("collects %d bytes at once", m.length()));
        }
      }
    }
  }
  return absl::OkStatus();
}

absl::Status TraceRun::Start(const v1::StartTraceRequest& request) {
  absl::MutexLock lock(&mu_);
  StopLocked(v1::TRACE_STOP_REASON_REQUESTED);
  std::vector<uint64_t> inserted;
  for (const v1::Tracepoint& tp : request.tracepoints()) {
    if (!tp.enabled() || std::count(inserted.begin(), inserted.end(), tp.address())) continue;
    if (absl::Status s = int3s_.insert(tp.address()); !s.ok()) {
      for (uint64_t addr : inserted) int3s_.remove(addr);
      return absl::InvalidArgumentError(absl::StrFormat(
          "cannot trace at 0x%x (tracepoint %d): %s", tp.address(), tp.number(), s.message()));
    }
    inserted.push_back(tp.address());
  }
  tracepoints_.clear();
  variables_.clear();
  frames_.clear();
  used_ = created_ = 0;
  capacity_ = request.buffer_size() ? request.buffer_size() : kDefaultTraceBufferSize;
  circular_ = request.circular();
  for (const v1::Tracepoint& tp : request.tracepoints()) {
    tracepoints_.emplace(tp.address(), Tracepoint{tp});
  }
  for (const v1::TraceVariable& v : request.variables()) {
    variables_[v.number()] = Variable{v.initial_value(), v.name()};
  }
  ever_run_ = true;
  stop_reason_ = v1::TRACE_STOP_REASON_UNSPECIFIED;
  stopping_tracepoint_ = 0;
  error_.clear();
  start_time_ = absl::Now();
  stop_time_ = absl::UnixEpoch();
  running_ = true;
  return absl::OkStatus();
}

void TraceRun::Stop(v1::TraceStopReason reason) {
  absl::MutexLock lock(&mu_);
  StopLocked(reason);
}

void TraceRun::StopLocked(v1::TraceStopReason reason, uint32_t tracepoint, std::string error) {
  if (!running_) return;
  running_ = false;
  stop_reason_ = reason;
  stopping_tracepoint_ = tracepoint;
  error_ = std::move(error);
  stop_time_ = absl::Now();
  steps_.clear();
  for (uint64_t addr : Int3AddressesLocked()) int3s_.remove(addr);
}

std::vector<uint64_t> TraceRun::Int3AddressesLocked() const {
  std::vector<uint64_t> addresses;
  for (const auto& [addr, tp] : tracepoints_) {
    if (tp.definition.enabled() && (addresses.empty() || addresses.back() != addr)) {
      addresses.push_back(addr);
    }
  }
  return addresses;
}

bool TraceRun::OnHit(uint64_t addr, const km::Regs& regs, int tid,
                     absl::FunctionRef<absl::StatusOr<km::FpuRegs>()> fpu) {
  if (!running_) return false;
  absl::MutexLock lock(&mu_);
  steps_.erase(tid);
  auto [first, last] = tracepoints_.equal_range(addr);
  for (auto it = first; it != last && running_; ++it) {
    if (!it->second.definition.enabled()) continue;
    if (!CollectLocked(it->second, regs, tid, fpu)) break;
  }
  return running_ && steps_.contains(tid);
}

bool TraceRun::CollectLocked(Tracepoint& tp, const km::Regs& regs, int tid,
                             absl::FunctionRef<absl::StatusOr<km::FpuRegs>()> fpu) {
  const v1::Tracepoint& def = tp.definition;
  if (!def.condition().empty()) {
    auto reg = [&regs](int regnum) { return RegisterByGdbNumber(regs, regnum); };
    auto read = [this](uint64_t a, void* dst, size_t len) { return read_(a, dst, len) == len; };
    Collector no_frame(*this, nullptr);
    absl::StatusOr<uint64_t> value = EvalAgentExpr(def.condition(), {reg, read, &no_frame});
    if (!value.ok()) {
      StopLocked(v1::TRACE_STOP_REASON_ERROR, def.number(),
                 absl::StrFormat("tracepoint condition at 0x%x: %s", def.address(),
                                 value.status().message()));
      return false;
    }
    if (*value == 0) return true;
  }
  ++tp.hits;
  if (!CollectFrameLocked(tp, def.address(), regs, tid, fpu, def.collect_registers(),
                          def.memory(), def.expressions())) {
    return false;
  }
  if (def.pass_count() != 0 && tp.hits >= def.pass_count()) {
    StopLocked(v1::TRACE_STOP_REASON_PASS_COUNT, def.number());
    return false;
  }
  if (def.step_count() != 0) steps_[tid] = Steps{def.number(), def.address(), def.step_count()};
  return true;
}

bool TraceRun::CollectFrameLocked(
    Tracepoint& tp, uint64_t pc, const km::Regs& regs, int tid,
    absl::FunctionRef<absl::StatusOr<km::FpuRegs>()> fpu, bool collect_registers,
    const google::protobuf::RepeatedPtrField<v1::MemoryCollection>& memory,
    const google::protobuf::RepeatedPtrField<std::string>& expressions) {
  auto reg = [&regs](int regnum) { return RegisterByGdbNumber(regs, regnum); };
  auto read = [this](uint64_t a, void* dst, size_t len) { return read_(a, dst, len) == len; };
  Frame frame{tp.definition.number(), pc, tid};
  frame.bytes = sizeof(Frame);
  Collector collector(*this, &frame);
  if (collect_registers) {
    auto collected = std::make_unique<Registers>();
    collected->regs = regs;
    if (absl::StatusOr<km::FpuRegs> f = fpu(); f.ok()) collected->fpu = *f;
    frame.registers = std::move(collected);
    frame.bytes += sizeof(Registers);
  }
  for (const v1::MemoryCollection& m : memory) {
    const uint64_t base = m.base_register() == -1 ? 0 : *reg(m.base_register());
    collector.RecordMemory(base + static_cast<uint64_t>(m.offset()), m.length(),
                           /*until_zero=*/false);
  }
  for (const std::string& expr : expressions) {
    if (absl::Status s = RunAgentCollect(expr, {reg, read, &collector}); !s.ok()) {
      StopLocked(v1::TRACE_STOP_REASON_ERROR, tp.definition.number(),
                 absl::StrFormat("tracepoint collection at 0x%x: %s", pc, s.message()));
      return false;
    }
  }
  return StoreLocked(std::move(frame), tp);
}

bool TraceRun::OnStep(int tid, const km::Regs& regs,
                      absl::FunctionRef<absl::StatusOr<km::FpuRegs>()> fpu) {
  if (!running_) return false;
  absl::MutexLock lock(&mu_);
  auto it = steps_.find(tid);
  if (it == steps_.end()) return false;
  Steps& steps = it->second;
  Tracepoint* tp = nullptr;
  auto [first, last] = tracepoints_.equal_range(steps.address);
  for (auto t = first; t != last; ++t) {
    if (t->second.definition.number() == steps.tracepoint) tp = &t->second;
  }
  if (tp == nullptr) {
    steps_.erase(it);
    return false;
  }
  const v1::Tracepoint& def = tp->definition;
  if (!CollectFrameLocked(*tp, regs.rip, regs, tid, fpu, def.step_collect_registers(),
                          def.step_memory(), def.step_expressions())) {
    return false;
  }
  if (--steps.left == 0) {
    steps_.erase(it);
    return false;
  }
  return true;
}

bool TraceRun::Stepping(int tid) const {
  if (!running_) return false;
  absl::MutexLock lock(&mu_);
  return steps_.contains(tid);
}

void TraceRun::ForgetSteps(int tid) {
  if (!running_) return;
  absl::MutexLock lock(&mu_);
  steps_.erase(tid);
}

bool TraceRun::StoreLocked(Frame frame, Tracepoint& tp) {
  // Not even an empty buffer would hold it: making room would only lose every frame.
  if (frame.bytes > capacity_) {
    StopLocked(v1::TRACE_STOP_REASON_BUFFER_FULL);
    return false;
  }
  while (circular_ && !frames_.empty() && used_ + frame.bytes > capacity_) {
    used_ -= frames_.front().bytes;
    frames_.pop_front();
  }
  if (used_ + frame.bytes > capacity_) {
    StopLocked(v1::TRACE_STOP_REASON_BUFFER_FULL);
    return false;
  }
  used_ += frame.bytes;
  tp.bytes += frame.bytes;
  ++created_;
  frames_.push_back(std::move(frame));
  return true;
}

v1::TraceStatus TraceRun::Status() const {
  absl::MutexLock lock(&mu_);
  v1::TraceStatus out;
  out.set_running(running_);
  out.set_ever_run(ever_run_);
  out.set_stop_reason(stop_reason_);
  out.set_stopping_tracepoint(stopping_tracepoint_);
  out.set_error(error_);
  out.set_frames(frames_.size());
  out.set_frames_created(created_);
  out.set_buffer_size(capacity_);
  out.set_buffer_free(capacity_ - used_);
  out.set_circular(circular_);
  for (const auto& [addr, tp] : tracepoints_) {
    v1::TracepointStatus* s = out.add_tracepoints();
    s->set_number(tp.definition.number());
    s->set_address(addr);
    s->set_hits(tp.hits);
    s->set_bytes(tp.bytes);
  }
  for (const auto& [number, v] : variables_) {
    v1::TraceVariableValue* value = out.add_variables();
    value->set_number(number);
    value->set_value(v.name == kTimestampVariable ? absl::ToUnixMicros(absl::Now()) : v.value);
  }
  if (ever_run_) {
    out.set_start_time_us(absl::ToUnixMicros(start_time_));
    if (!running_) out.set_stop_time_us(absl::ToUnixMicros(stop_time_));
  }
  return out;
}

v1::TraceFrame TraceRun::Find(const v1::FindTraceFrameRequest& request) const {
  absl::MutexLock lock(&mu_);
  if (request.match_case() == v1::FindTraceFrameRequest::kNumber) {
    if (request.number() >= frames_.size()) return {};
    return ToProto(frames_[request.number()], request.number());
  }
  auto matches = [&request](const Frame& f) {
    switch (request.match_case()) {
      case v1::FindTraceFrameRequest::kPc: return f.pc == request.pc();
      case v1::FindTraceFrameRequest::kTracepoint: return f.tracepoint == request.tracepoint();
      case v1::FindTraceFrameRequest::kInside:
        return f.pc >= request.inside().start() && f.pc <= request.inside().end();
      case v1::FindTraceFrameRequest::kOutside:
        return f.pc < request.outside().start() || f.pc > request.outside().end();
      default: return false;
    }
  };
  const uint64_t from = request.after() < 0 ? 0 : static_cast<uint64_t>(request.after()) + 1;
  for (uint64_t n = from; n < frames_.size(); ++n) {
    if (matches(frames_[n])) return ToProto(frames_[n], n);
  }
  return {};
}

v1::TraceFrame TraceRun::ToProto(const Frame& frame, uint64_t number) const {
  v1::TraceFrame out;
  out.set_found(true);
  out.set_number(number);
  out.set_tracepoint(frame.tracepoint);
  out.set_pc(frame.pc);
  out.set_tid(frame.tid);
  if (frame.registers) {
    km_hooks::ToProto(frame.registers->regs, out.mutable_registers());
    if (frame.registers->fpu) {
      km_hooks::ToProto(*frame.registers->fpu, out.mutable_registers()->mutable_fpu());
    }
  }
  for (const auto& [addr, bytes] : frame.memory) {
    v1::MemoryBlock* block = out.add_memory();
    block->set_address(addr);
    block->set_data(bytes);
  }
  for (const auto& [variable, value] : frame.variables) {
    v1::TraceVariableValue* v = out.add_variables();
    v->set_number(variable);
    v->set_value(value);
  }
  return out;
}

}  // namespace km_hooks
