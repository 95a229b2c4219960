#include "km_hooks/debug_controller.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <thread>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "km/code_patch.h"
#include "km/runtime/fault.h"
#include "km_hooks/debugger_output.h"
#include "km_hooks/proto_convert.h"

namespace km_hooks {
namespace {

// A signal in a mask of Linux signals (bit signo - 1 each).
bool InSignalMask(uint64_t mask, int signo) {
  return signo >= 1 && signo <= 64 && (mask >> (signo - 1) & 1);
}

using km::kInt3;
// What a stop event carries of the stack: gdb's first unwinding reads (return address, saved
// rbp, the caller's frame) for a typical frame, and the red zone below rsp, where a leaf
// function's frame lives.
constexpr uint64_t kStackBytes = 256;
constexpr uint64_t kRedZone = 128;

v1::StopReason Reason(v1::StopKind kind, int signo) {
  v1::StopReason r;
  r.set_kind(kind);
  r.set_signal(signo);
  return r;
}

v1::StopReason SyscallReason(v1::StopKind kind, uint64_t number) {
  v1::StopReason r = Reason(kind, SIGTRAP);
  r.set_syscall(static_cast<int64_t>(number));
  return r;
}

km::WatchKind WatchKindFor(v1::BreakpointKind kind) {
  switch (kind) {
    case v1::BREAKPOINT_KIND_WATCH_READ: return km::WatchKind::kRead;
    case v1::BREAKPOINT_KIND_WATCH_ACCESS: return km::WatchKind::kAccess;
    default: return km::WatchKind::kWrite;
  }
}

v1::WatchKind WatchKindToProto(km::WatchKind kind) {
  switch (kind) {
    case km::WatchKind::kWrite: return v1::WATCH_KIND_WRITE;
    case km::WatchKind::kRead: return v1::WATCH_KIND_READ;
    case km::WatchKind::kAccess: return v1::WATCH_KIND_ACCESS;
  }
  return v1::WATCH_KIND_UNSPECIFIED;
}

// The payload's thread names are its host threads' names: a guest tid is the host tid of the
// thread running it, so pthread_setname_np's write to /proc/self/task/TID/comm names it.
std::string ThreadName(int tid) {
  std::ifstream comm(absl::StrFormat("/proc/self/task/%d/comm", tid));
  std::string name;
  std::getline(comm, name);
  return name;
}

}  // namespace

DebugController::DebugController(km::Process& process, std::string socket_path)
    : process_(process),
      socket_path_(std::move(socket_path)),
      sw_breakpoints_(process.memory(), process.engine()),
      actions_(sw_breakpoints_, PrintForDebugger),
      trace_([this](uint64_t addr, void* dst,
                    uint64_t len) { return sw_breakpoints_.Read(addr, dst, len); },
             {[this](uint64_t addr) { return sw_breakpoints_.Insert(addr, Holder::kTrace); },
              [this](uint64_t addr) { (void)sw_breakpoints_.Remove(addr, Holder::kTrace); }}) {}

void DebugController::HoldMainThread() {
  auto main = process_.main_thread();
  main->Pause();
  absl::MutexLock lock(&mu_);
  hold_main_ = true;
}

void DebugController::SessionStarted() {
  absl::MutexLock control(&control_mu_);
  // A new debugger starts with none of the breakpoints an earlier one left running.
  trace_.Stop(v1::TRACE_STOP_REASON_DISCONNECTED);
  sw_breakpoints_.RemoveAll();
  actions_.ClearAll();
  bool had_hw;
  {
    absl::MutexLock lock(&mu_);
    session_ = true;
    had_hw = !hw_breakpoints_.empty();
    hw_breakpoints_.clear();
    // A PassSignals of the session before may have landed after its end cleared the list.
    passed_signals_ = 0;
    program_signals_.reset();
  }
  if (had_hw) (void)ApplyDebugRegsEverywhere();
}

void DebugController::SessionEnded(std::optional<uint64_t> deliverable) {
  absl::MutexLock control(&control_mu_);
  // The payload goes on from its present, not from a past a debugger was looking at.
  (void)StopRecordingLocked();
  // The frames stay for a later client; the tracepoints' int3s go with the others below.
  trace_.Stop(v1::TRACE_STOP_REASON_DISCONNECTED);
  // Breakpoints whose commands persist (gdb's disconnected dprintf) stay; nothing else does.
  // The others' actions go last: a hit on one before its int3 or debug register is gone must
  // still find them (or no session), not be reported as a plain stop nobody will resume.
  std::vector<uint64_t> kept_sw, kept_hw;
  for (const auto& [hardware, addr] : actions_.Persistent()) {
    (hardware ? kept_hw : kept_sw).push_back(addr);
  }
  sw_breakpoints_.RemoveAll(kept_sw);
  {
    absl::MutexLock lock(&mu_);
    session_ = false;
    streaming_ = false;
    hw_breakpoints_ = std::move(kept_hw);
    watchpoints_.clear();
    caught_syscalls_.clear();
    catching_syscalls_ = false;
    passed_signals_ = 0;
    if (!deliverable) deliverable = program_signals_;
    program_signals_.reset();
  }
  (void)ApplyDebugRegsEverywhere();
  actions_.KeepPersistent();
  for (const auto& thread : process_.Threads()) {
    bool resume, stepping;
    std::optional<km::SignalInfo> held;
    {
      absl::MutexLock lock(&mu_);
      ThreadDebug& td = threads_[thread->tid()];
      resume = td.stopped.has_value();
      stepping = td.stepping;
      held = td.signal;
      td = ThreadDebug{};
    }
    // Only the debugger's steps end here: a step past a breakpoint km makes itself (a false
    // condition, a dprintf that persists) must complete, or its int3 runs again.
    if (stepping) {
      (void)thread->WithVcpu([](km::Vcpu& vcpu) { return vcpu.SetSingleStep(false); });
    }
    // A signal the debugger held is delivered as if it had not been there, unless the debugger
    // keeps it from the program; a fault's comes back when the faulting instruction runs again.
    if (resume && held && !held->fault &&
        (!deliverable || InSignalMask(*deliverable, held->signo))) {
      thread->InjectSignal(*held);
    }
    if (resume) thread->Resume();
  }
  events_.Clear();
}

std::vector<v1::Event> DebugController::OpenStream() {
  std::vector<v1::Event> out;
  auto threads = process_.Threads();
  absl::MutexLock lock(&mu_);
  streaming_ = true;
  for (const auto& thread : threads) {
    auto it = threads_.find(thread->tid());
    if (it != threads_.end() && it->second.stopped) {
      *out.emplace_back().mutable_stop() = MakeStopEvent(*thread, *it->second.stopped);
    }
  }
  events_.Restart(out.size());
  return out;
}

void DebugController::ExitDelivered() {
  absl::MutexLock lock(&mu_);
  exit_delivered_ = true;
}

v1::Target DebugController::Target() {
  v1::Target t;
  const km::LoadedImage& image = process_.image();
  t.set_payload_path(image.path);
  for (const std::string& arg : process_.argv()) t.add_argv(arg);
  t.set_entry(image.entry);
  t.set_load_bias(image.load_bias);
  t.set_pie(image.pie);
  t.set_auxv(process_.auxv());
  t.set_pid(getpid());
  for (const km::Region& r : process_.memory().Regions()) ToProto(r, t.add_regions());
  for (v1::Thread& th : Threads()) *t.add_threads() = std::move(th);
  const km::EngineCaps caps = process_.engine().caps();
  v1::EngineInfo* engine = t.mutable_engine();
  engine->set_name(std::string(process_.engine().name()));
  engine->set_avx(caps.avx);
  engine->set_data_watchpoints(caps.data_watchpoints);
  engine->set_hw_breakpoints(caps.hw_breakpoints);
  engine->set_recording(caps.recording);
  return t;
}

std::vector<v1::Thread> DebugController::Threads() {
  std::vector<v1::Thread> out;
  auto threads = process_.Threads();
  std::sort(threads.begin(), threads.end(),
            [](const auto& a, const auto& b) { return a->vcpu_id() < b->vcpu_id(); });
  for (const auto& thread : threads) {
    v1::Thread& th = out.emplace_back();
    th.set_tid(thread->tid());
    th.set_name(ThreadName(thread->tid()));
    absl::MutexLock lock(&mu_);
    auto it = threads_.find(thread->tid());
    if (thread->state() == km::ThreadState::kExited) {
      th.set_state(v1::THREAD_STATE_EXITED);
    } else if (it != threads_.end() && it->second.stopped) {
      th.set_state(v1::THREAD_STATE_STOPPED);
      *th.mutable_stop_reason() = *it->second.stopped;
    } else {
      th.set_state(v1::THREAD_STATE_RUNNING);
    }
  }
  return out;
}

absl::Status DebugController::EveryThreadStoppedLocked(
    const std::vector<std::shared_ptr<km::GuestThread>>& threads, std::string_view what) {
  for (const auto& thread : threads) {
    if (thread->state() == km::ThreadState::kExited) continue;
    auto it = threads_.find(thread->tid());
    if (it == threads_.end() || !it->second.stopped) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "%s needs every thread stopped; thread %d is running", what, thread->tid()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<km::GuestThread>> DebugController::FindThread(int tid) {
  auto thread = process_.FindThread(tid);
  if (thread == nullptr || thread->state() == km::ThreadState::kExited) {
    return absl::NotFoundError(absl::StrFormat("no thread %d", tid));
  }
  return thread;
}

v1::StopEvent DebugController::MakeStopEvent(km::GuestThread& thread,
                                             const v1::StopReason& reason) {
  v1::StopEvent ev;
  ev.set_tid(thread.tid());
  *ev.mutable_reason() = reason;
  km::Regs regs;
  if (thread.GetRegs(&regs).ok()) {
    ev.set_rip(regs.rip);
    ev.set_rsp(regs.rsp);
    ev.set_rbp(regs.rbp);
    ToProto(regs, ev.mutable_registers());
    uint64_t from = regs.rsp - kRedZone;
    std::string stack = ReadMemory(from, kRedZone + kStackBytes);
    if (stack.empty()) stack = ReadMemory(from = regs.rsp, kStackBytes);
    ev.set_stack_addr(from);
    ev.set_stack(std::move(stack));
  }
  return ev;
}

absl::StatusOr<std::vector<v1::StopEvent>> DebugController::Stop(const std::vector<int>& tids) {
  absl::MutexLock control(&control_mu_);
  std::vector<std::shared_ptr<km::GuestThread>> targets;
  if (tids.empty()) {
    targets = process_.Threads();
    std::sort(targets.begin(), targets.end(),
              [](const auto& a, const auto& b) { return a->vcpu_id() < b->vcpu_id(); });
  } else {
    for (int tid : tids) {
      auto thread = FindThread(tid);
      if (!thread.ok()) return thread.status();
      targets.push_back(*thread);
    }
  }
  for (const auto& thread : targets) thread->Pause();
  std::vector<v1::StopEvent> out;
  for (const auto& thread : targets) {
    if (thread->state() == km::ThreadState::kExited) continue;
    // A stop for the debugger ends a tracepoint's while-stepping, as a reported stop does.
    trace_.ForgetSteps(thread->tid());
    v1::StopReason reason;
    {
      absl::MutexLock lock(&mu_);
      ThreadDebug& td = threads_[thread->tid()];
      if (!td.stopped) td.stopped = Reason(v1::STOP_KIND_INTERRUPTED, 0);
      reason = *td.stopped;
    }
    out.push_back(MakeStopEvent(*thread, reason));
  }
  return out;
}

absl::Status DebugController::Resume(const std::vector<v1::ThreadAction>& actions) {
  absl::MutexLock control(&control_mu_);
  for (const v1::ThreadAction& a : actions) {
    if (a.mode() != v1::RESUME_MODE_REVERSE_STEP && a.mode() != v1::RESUME_MODE_REVERSE_CONTINUE) {
      continue;
    }
    if (actions.size() != 1) {
      return absl::InvalidArgumentError("a reverse resume has exactly one action");
    }
    return ReverseResume(a);
  }
  std::vector<std::pair<std::shared_ptr<km::GuestThread>, v1::ThreadAction>> plan;
  const v1::ThreadAction* rest = nullptr;
  for (const v1::ThreadAction& a : actions) {
    if (a.tid() == 0) {
      rest = &a;
      continue;
    }
    auto thread = FindThread(a.tid());
    if (!thread.ok()) return thread.status();
    plan.emplace_back(*thread, a);
  }
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [thread, action] : plan) {
      auto it = threads_.find(thread->tid());
      if (it == threads_.end() || !it->second.stopped) {
        return absl::FailedPreconditionError(
            absl::StrFormat("thread %d is not stopped", thread->tid()));
      }
    }
  }
  if (rest != nullptr) {
    for (const auto& thread : process_.Threads()) {
      bool named = std::any_of(plan.begin(), plan.end(),
                               [&](const auto& p) { return p.first == thread; });
      bool stopped;
      {
        absl::MutexLock lock(&mu_);
        auto it = threads_.find(thread->tid());
        stopped = it != threads_.end() && it->second.stopped;
      }
      if (!named && stopped) plan.emplace_back(thread, *rest);
    }
  }
  if (ReplayingLocked()) {
    absl::StatusOr<bool> stopped = ReplayForward(actions);
    if (!stopped.ok() || *stopped) return stopped.status();
  }
  for (const auto& [thread, action] : plan) {
    absl::Status s = ResumeOne(*thread, action);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status DebugController::ResumeOne(km::GuestThread& thread, const v1::ThreadAction& action) {
  std::optional<km::SignalInfo> held;
  bool at_syscall;
  {
    absl::MutexLock lock(&mu_);
    ThreadDebug& td = threads_[thread.tid()];
    held = std::exchange(td.signal, std::nullopt);
    at_syscall = td.stopped && (td.stopped->kind() == v1::STOP_KIND_SYSCALL_ENTRY ||
                                td.stopped->kind() == v1::STOP_KIND_SYSCALL_RETURN);
    td.stopped.reset();
  }
  // The thread takes the signal before anything else (ptrace's PTRACE_CONT with a signal): its
  // handler runs, or its default action is taken, or nothing happens if it is ignored.
  const int signo = action.signal();
  if (signo == SIGKILL) {
    // No handler can catch it: the payload ends now, its threads where they stand. Not on this
    // thread: km exits inside End, and the client must get this call's answer first.
    std::thread([this] {
      process_.End({km::ExitStatusForSignal(SIGKILL), SIGKILL, km::KillMessage(SIGKILL)});
    }).detach();
    return absl::OkStatus();
  }
  bool to_handler = false;
  if (signo != 0) {
    km::SignalInfo info;
    if (held && held->signo == signo) {
      info = *held;
    } else {
      info.signo = signo;
      info.code = SI_USER;
    }
    thread.InjectSignal(info);
    to_handler = process_.signals().Effect(signo) == km::SignalEffect::kRunHandler;
  }
  km::Regs regs;
  absl::Status s = thread.GetRegs(&regs);
  if (!s.ok()) return s;
  const bool range = action.mode() == v1::RESUME_MODE_RANGE_STEP;
  const bool step = action.mode() == v1::RESUME_MODE_STEP || range;
  // Stopped in a syscall, or about to run a handler, the thread has not reached the instruction
  // at rip: a breakpoint there is still ahead of it, not one to step over.
  const bool rip_ahead = at_syscall || to_handler;
  const std::optional<uint8_t> original =
      rip_ahead ? std::nullopt : sw_breakpoints_.Original(regs.rip);
  {
    absl::MutexLock lock(&mu_);
    ThreadDebug& td = threads_[thread.tid()];
    td.stepping = step;
    td.range_start = range ? action.range_start() : 0;
    td.range_end = range ? action.range_end() : 0;
  }
  if (!rip_ahead && OnHwBreakpoint(regs.rip)) {
    // Stopped before this instruction by that breakpoint: run it instead of stopping again.
    s = thread.WithVcpu([](km::Vcpu& vcpu) {
      vcpu.SkipBreakpointOnce();
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
  }
  if (step || original) {
    s = StepFrom(thread, regs.rip, original);
    if (!s.ok()) return s;
  }
  thread.Resume();
  return absl::OkStatus();
}

absl::Status DebugController::StepFrom(km::GuestThread& thread, uint64_t rip,
                                       std::optional<uint8_t> original) {
  return thread.WithVcpu([&](km::Vcpu& vcpu) {
    absl::Status s = vcpu.SetSingleStep(true);
    if (s.ok() && original) s = vcpu.StepOverBreakpoint(rip, *original);
    return s;
  });
}

bool DebugController::OnHwBreakpoint(uint64_t addr) {
  absl::MutexLock lock(&mu_);
  return std::find(hw_breakpoints_.begin(), hw_breakpoints_.end(), addr) != hw_breakpoints_.end();
}

bool DebugController::ContinueRangeStep(km::GuestThread& thread, bool* collected) {
  uint64_t start, end;
  {
    absl::MutexLock lock(&mu_);
    const ThreadDebug& td = threads_[thread.tid()];
    start = td.range_start;
    end = td.range_end;
  }
  km::Regs regs;
  if (start >= end || !thread.GetRegs(&regs).ok()) return false;
  const uint64_t rip = regs.rip;
  if (rip < start || rip >= end) return false;
  // Stepping one instruction at a time, gdb would see its breakpoint here and stop, and a
  // tracepoint here would collect (the stop's own path collects when there is a stop).
  const bool sw = sw_breakpoints_.Contains(rip);
  const bool hw = OnHwBreakpoint(rip);
  if ((sw && sw_breakpoints_.HeldBy(rip, Holder::kDebugger) &&
       actions_.OnHit(/*hardware=*/false, rip, regs, thread.tid())) ||
      (hw && actions_.OnHit(/*hardware=*/true, rip, regs, thread.tid()))) {
    return false;
  }
  if (sw && sw_breakpoints_.HeldBy(rip, Holder::kTrace)) {
    CollectTrace(thread, rip, regs, /*may_step=*/false);
    *collected = true;
  }
  if (sw && !StepFrom(thread, rip, sw_breakpoints_.Original(rip)).ok()) return false;
  if (hw) {
    (void)thread.WithVcpu([](km::Vcpu& vcpu) {
      vcpu.SkipBreakpointOnce();
      return absl::OkStatus();
    });
  }
  return true;
}

km::DebugAction DebugController::PassFalseHit(km::GuestThread& thread, uint64_t addr) {
  // As a resume from this address would: step the original instruction, then run on.
  bool session;
  {
    absl::MutexLock lock(&mu_);
    session = session_;
    ThreadDebug& td = threads_[thread.tid()];
    td.stepping = false;
    td.range_start = td.range_end = 0;
  }
  if (!StepFrom(thread, addr, sw_breakpoints_.Original(addr)).ok()) {
    (void)thread.WithVcpu([](km::Vcpu& vcpu) { return vcpu.SetSingleStep(false); });
    if (session) return ReportStop(thread, Reason(v1::STOP_KIND_BREAKPOINT, SIGTRAP));
    // Nobody would resume a stop: the breakpoint an earlier session left goes instead.
    actions_.Clear(/*hardware=*/false, addr);
    (void)sw_breakpoints_.Remove(addr);
  }
  return km::DebugAction::kContinue;
}

namespace {

// The thread's FPU state, read only when a tracepoint collects registers.
auto FpuOf(km::GuestThread& thread) {
  return [&thread]() -> absl::StatusOr<km::FpuRegs> {
    km::FpuRegs f = {};
    absl::Status s = thread.WithVcpu([&f](km::Vcpu& vcpu) { return vcpu.GetFpu(&f); });
    if (!s.ok()) return s;
    return f;
  };
}

}  // namespace

void DebugController::CollectTrace(km::GuestThread& thread, uint64_t addr, const km::Regs& regs,
                                   bool may_step) {
  if (trace_.OnHit(addr, regs, thread.tid(), FpuOf(thread)) && !may_step) {
    trace_.ForgetSteps(thread.tid());
  }
}

bool DebugController::CollectTraceStep(km::GuestThread& thread, km::Regs& regs) {
  if (!thread.GetRegs(&regs).ok()) {
    trace_.ForgetSteps(thread.tid());
    return false;
  }
  return trace_.OnStep(thread.tid(), regs, FpuOf(thread));
}

bool DebugController::ContinueTraceSteps(km::GuestThread& thread) {
  // Most such steps are km's own over an int3: no register read for those.
  if (!trace_.Stepping(thread.tid())) return false;
  km::Regs regs;
  if (!CollectTraceStep(thread, regs)) return false;
  // An int3 ahead (a breakpoint's, a tracepoint's): the steps end and it is hit as usual.
  if (sw_breakpoints_.Contains(regs.rip)) {
    trace_.ForgetSteps(thread.tid());
    return false;
  }
  return StepFrom(thread, regs.rip, std::nullopt).ok();
}

absl::StatusOr<v1::TraceStatus> DebugController::StartTrace(
    const v1::StartTraceRequest& request) {
  if (absl::Status s = TraceRun::Validate(request); !s.ok()) return s;
  absl::MutexLock control(&control_mu_);
  {
    // The service checked the session before this call; it may have ended since, and a run
    // started now would keep its int3s with nobody to stop it.
    absl::MutexLock lock(&mu_);
    if (!session_) return absl::FailedPreconditionError("the session ended");
  }
  if (absl::Status s = trace_.Start(request); !s.ok()) return s;
  return trace_.Status();
}

v1::TraceStatus DebugController::StopTrace() {
  absl::MutexLock control(&control_mu_);
  trace_.Stop(v1::TRACE_STOP_REASON_REQUESTED);
  return trace_.Status();
}

absl::StatusOr<v1::Registers> DebugController::ReadRegisters(int tid, bool fpu) {
  auto thread = FindThread(tid);
  if (!thread.ok()) return thread.status();
  km::Regs regs;
  absl::Status s = (*thread)->GetRegs(&regs);
  if (!s.ok()) return s;
  v1::Registers out;
  ToProto(regs, &out);
  if (fpu) {
    km::FpuRegs f = {};
    s = (*thread)->WithVcpu([&](km::Vcpu& vcpu) { return vcpu.GetFpu(&f); });
    if (!s.ok()) return s;
    ToProto(f, out.mutable_fpu());
  }
  return out;
}

absl::Status DebugController::WriteRegisters(int tid, const v1::Registers& in) {
  if (absl::Status s = RefuseWhileReplaying("registers"); !s.ok()) return s;
  auto thread = FindThread(tid);
  if (!thread.ok()) return thread.status();
  if (in.has_fpu()) {
    absl::Status s = (*thread)->WithVcpu([&](km::Vcpu& vcpu) {
      km::FpuRegs f = {};
      absl::Status st = vcpu.GetFpu(&f);
      if (!st.ok()) return st;
      st = FromProto(in.fpu(), &f);
      if (!st.ok()) return st;
      return vcpu.SetFpu(f);
    });
    if (!s.ok()) return s;
  }
  return (*thread)->SetRegs(FromProto(in));
}

std::string DebugController::ReadMemory(uint64_t addr, uint64_t len) {
  std::string out(len, '\0');
  out.resize(sw_breakpoints_.Read(addr, out.data(), len));
  return out;
}

absl::StatusOr<uint64_t> DebugController::WriteMemory(uint64_t addr, const std::string& data) {
  if (absl::Status s = RefuseWhileReplaying("memory"); !s.ok()) return s;
  uint64_t n = sw_breakpoints_.Write(addr, data.data(), data.size());
  if (n == 0 && !data.empty()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("guest address 0x%x is not mapped", addr));
  }
  return n;
}

absl::Status DebugController::ApplyDebugRegs(km::GuestThread& thread) {
  std::vector<uint64_t> bps;
  std::vector<km::Watchpoint> wps;
  {
    absl::MutexLock lock(&mu_);
    bps = hw_breakpoints_;
    wps = watchpoints_;
  }
  const bool data_watch = process_.engine().caps().data_watchpoints;
  return thread.WithVcpu([&](km::Vcpu& vcpu) {
    absl::Status s = vcpu.SetHwBreakpoints(bps);
    if (s.ok() && data_watch) s = vcpu.SetWatchpoints(wps);
    return s;
  });
}

absl::Status DebugController::ApplyDebugRegsEverywhere() {
  for (const auto& thread : process_.Threads()) {
    absl::Status s = ApplyDebugRegs(*thread);
    if (absl::IsFailedPrecondition(s) && thread->state() != km::ThreadState::kExited) {
      // Running: a vCPU's debug state changes only while it is out of the guest.
      thread->Pause();
      s = ApplyDebugRegs(*thread);
      bool stopped_meanwhile;
      {
        absl::MutexLock lock(&mu_);
        auto it = threads_.find(thread->tid());
        stopped_meanwhile = it != threads_.end() && it->second.stopped;
      }
      if (!stopped_meanwhile) thread->Resume();
    }
    if (!s.ok() && thread->state() != km::ThreadState::kExited) return s;
  }
  return absl::OkStatus();
}

absl::Status DebugController::InsertBreakpoint(v1::BreakpointKind kind, uint64_t addr,
                                               uint64_t len, BreakpointActions actions) {
  absl::MutexLock control(&control_mu_);
  const km::EngineCaps caps = process_.engine().caps();
  const bool breakpoint =
      kind == v1::BREAKPOINT_KIND_SOFTWARE || kind == v1::BREAKPOINT_KIND_HARDWARE;
  if ((!actions.conditions.empty() || !actions.commands.empty()) && !breakpoint) {
    return absl::InvalidArgumentError(
        "conditions and commands apply to breakpoints, not watchpoints");
  }
  if (absl::Status s = BreakpointActionTable::Validate(actions); !s.ok()) return s;
  switch (kind) {
    case v1::BREAKPOINT_KIND_SOFTWARE: {
      absl::Status s = sw_breakpoints_.Insert(addr);
      if (s.ok()) actions_.Set(/*hardware=*/false, addr, std::move(actions));
      return s;
    }
    case v1::BREAKPOINT_KIND_HARDWARE: {
      absl::MutexLock lock(&mu_);
      if (std::find(hw_breakpoints_.begin(), hw_breakpoints_.end(), addr) !=
          hw_breakpoints_.end()) {
        actions_.Set(/*hardware=*/true, addr, std::move(actions));
        return absl::OkStatus();
      }
      if (static_cast<int>(hw_breakpoints_.size()) >= caps.hw_breakpoints) {
        return absl::ResourceExhaustedError(absl::StrFormat(
            "all %d hardware breakpoints are in use", caps.hw_breakpoints));
      }
      hw_breakpoints_.push_back(addr);
      actions_.Set(/*hardware=*/true, addr, std::move(actions));
      break;
    }
    case v1::BREAKPOINT_KIND_WATCH_WRITE:
    case v1::BREAKPOINT_KIND_WATCH_READ:
    case v1::BREAKPOINT_KIND_WATCH_ACCESS: {
      if (len != 1 && len != 2 && len != 4 && len != 8) {
        return absl::InvalidArgumentError(
            absl::StrFormat("watchpoint length %d: must be 1, 2, 4 or 8", len));
      }
      if (!caps.data_watchpoints) {
        return absl::UnimplementedError(absl::StrFormat(
            "the %s engine has no data watchpoints yet", process_.engine().name()));
      }
      absl::MutexLock lock(&mu_);
      watchpoints_.push_back({addr, len, WatchKindFor(kind)});
      break;
    }
    default:
      return absl::InvalidArgumentError(absl::StrFormat("unknown breakpoint kind %d", kind));
  }
  return ApplyDebugRegsEverywhere();
}

absl::Status DebugController::RemoveBreakpoint(v1::BreakpointKind kind, uint64_t addr,
                                               uint64_t len) {
  absl::MutexLock control(&control_mu_);
  if (kind == v1::BREAKPOINT_KIND_SOFTWARE) {
    actions_.Clear(/*hardware=*/false, addr);
    return sw_breakpoints_.Remove(addr);
  }
  if (kind == v1::BREAKPOINT_KIND_HARDWARE) actions_.Clear(/*hardware=*/true, addr);
  {
    absl::MutexLock lock(&mu_);
    bool found = false;
    if (kind == v1::BREAKPOINT_KIND_HARDWARE) {
      auto it = std::find(hw_breakpoints_.begin(), hw_breakpoints_.end(), addr);
      if ((found = it != hw_breakpoints_.end())) hw_breakpoints_.erase(it);
    } else {
      const km::WatchKind wk = WatchKindFor(kind);
      auto it = std::find_if(watchpoints_.begin(), watchpoints_.end(), [&](const auto& w) {
        return w.addr == addr && w.len == len && w.kind == wk;
      });
      if ((found = it != watchpoints_.end())) watchpoints_.erase(it);
    }
    if (!found) {
      return absl::NotFoundError(absl::StrFormat("no such breakpoint at 0x%x", addr));
    }
  }
  return ApplyDebugRegsEverywhere();
}

km::DebugAction DebugController::ReportStop(km::GuestThread& thread,
                                            const v1::StopReason& reason) {
  trace_.ForgetSteps(thread.tid());
  v1::Event ev;
  *ev.mutable_stop() = MakeStopEvent(thread, reason);
  thread.RequestPark();
  absl::MutexLock lock(&mu_);
  threads_[thread.tid()].stopped = reason;
  if (streaming_) events_.Push(std::move(ev));
  return km::DebugAction::kContinue;
}

km::DebugAction DebugController::OnStop(km::GuestThread& thread, const km::StopEvent& event) {
  const km::VcpuExit& exit = event.exit;
  bool session, stepping;
  {
    absl::MutexLock lock(&mu_);
    ThreadDebug& td = threads_[thread.tid()];
    session = session_;
    stepping = td.stepping;
  }
  switch (exit.reason) {
    case km::ExitReason::kSingleStep: {
      // A tracepoint's while-stepping steps on; the debugger's own steps are not its.
      if (!stepping && ContinueTraceSteps(thread)) return km::DebugAction::kContinue;
      bool collected = false;
      if (stepping && session && ContinueRangeStep(thread, &collected)) {
        return km::DebugAction::kContinue;
      }
      {
        absl::MutexLock lock(&mu_);
        ThreadDebug& td = threads_[thread.tid()];
        td.stepping = false;
        td.range_start = td.range_end = 0;
      }
      (void)thread.WithVcpu([](km::Vcpu& vcpu) { return vcpu.SetSingleStep(false); });
      if (!stepping || !session) return km::DebugAction::kContinue;
      // A step onto a tracepoint collects there, as a hit would: the resume from here steps
      // over its int3 without a hit.
      if (km::Regs regs; !collected && trace_.running() && thread.GetRegs(&regs).ok() &&
                         sw_breakpoints_.HeldBy(regs.rip, Holder::kTrace)) {
        CollectTrace(thread, regs.rip, regs, /*may_step=*/false);
      }
      return ReportStop(thread, Reason(v1::STOP_KIND_STEP, SIGTRAP));
    }
    case km::ExitReason::kHwBreakpoint: {
      km::Regs regs;
      const bool read = thread.GetRegs(&regs).ok();
      // One removed between the hit and now (a new session drops those an earlier one left,
      // and the debug registers follow) is stale: run on.
      const bool stale = read && !OnHwBreakpoint(regs.rip);
      const bool stop =
          !read || (!stale && actions_.OnHit(/*hardware=*/true, regs.rip, regs, thread.tid()));
      // Without a session only breakpoints whose commands persist are left, and nobody to stop
      // for: a hit runs them and goes on.
      if (!stop || !session) {
        // Run the instruction this time; a step in progress goes on and ends after it.
        (void)thread.WithVcpu([](km::Vcpu& vcpu) {
          vcpu.SkipBreakpointOnce();
          return absl::OkStatus();
        });
        return km::DebugAction::kContinue;
      }
      // The stop comes before the tracepoint's int3 there, which the resume steps over.
      if (read && sw_breakpoints_.HeldBy(regs.rip, Holder::kTrace)) {
        CollectTrace(thread, regs.rip, regs, /*may_step=*/false);
      }
      return ReportStop(thread, Reason(v1::STOP_KIND_HW_BREAKPOINT, SIGTRAP));
    }
    case km::ExitReason::kWatchpoint: {
      if (!session) return km::DebugAction::kContinue;
      v1::StopReason r = Reason(v1::STOP_KIND_WATCHPOINT, SIGTRAP);
      r.set_watch_addr(exit.addr);
      r.set_watch_kind(WatchKindToProto(exit.watch_kind));
      return ReportStop(thread, r);
    }
    case km::ExitReason::kException:
      if (exit.vector == 3) {
        km::Regs regs;
        if (!thread.GetRegs(&regs).ok()) return km::DebugAction::kNotHandled;
        const uint64_t bp = regs.rip - 1;
        uint8_t byte = 0;
        process_.memory().ReadIgnoringProt(bp, &byte, 1);
        const bool ours = sw_breakpoints_.Contains(bp);
        // A breakpoint removed between the hit and now: run the restored instruction.
        if (ours || byte != kInt3) {
          thread.EditRegs([bp](km::Regs& r) { r.rip = bp; });
          if (!ours) return km::DebugAction::kContinue;
          regs.rip = bp;
          CollectTrace(thread, bp, regs, /*may_step=*/true);
          // A tracepoint's int3 alone never stops the thread.
          if (!sw_breakpoints_.HeldBy(bp, Holder::kDebugger) ||
              !actions_.OnHit(/*hardware=*/false, bp, regs, thread.tid()) || !session) {
            return PassFalseHit(thread, bp);
          }
          return ReportStop(thread, Reason(v1::STOP_KIND_BREAKPOINT, SIGTRAP));
        }
      }
      [[fallthrough]];
    default: {
      if (!session) return km::DebugAction::kNotHandled;
      v1::StopReason r = Reason(v1::STOP_KIND_SIGNAL, event.signal.signo);
      r.set_fault_addr(event.signal.addr);
      r.set_signal_code(event.info.code);
      {
        absl::MutexLock lock(&mu_);
        if (PassesLocked(thread, event.signal.signo)) return km::DebugAction::kNotHandled;
        threads_[thread.tid()].signal = event.info;
      }
      return ReportStop(thread, r);
    }
  }
}

bool DebugController::PassesLocked(const km::GuestThread& thread, int signo) {
  if (!InSignalMask(passed_signals_.load(), signo)) return false;
  auto it = threads_.find(thread.tid());
  return it == threads_.end() || !it->second.stepping;
}

km::DebugAction DebugController::OnSignal(km::GuestThread& thread, const km::SignalInfo& info) {
  {
    absl::MutexLock lock(&mu_);
    if (!session_ || PassesLocked(thread, info.signo)) return km::DebugAction::kNotHandled;
    threads_[thread.tid()].signal = info;
  }
  v1::StopReason r = Reason(v1::STOP_KIND_SIGNAL, info.signo);
  r.set_signal_code(info.code);
  r.set_sender_pid(info.sender_pid);
  r.set_sender_uid(info.sender_uid);
  return ReportStop(thread, r);
}

void DebugController::CatchSyscalls(bool enabled, const std::vector<int64_t>& numbers) {
  absl::MutexLock lock(&mu_);
  caught_syscalls_.clear();
  if (enabled) caught_syscalls_.insert(numbers.begin(), numbers.end());
  catching_syscalls_ = enabled;
}

bool DebugController::CatchesLocked(uint64_t number) const {
  return session_ && catching_syscalls_.load(std::memory_order_relaxed) &&
         (caught_syscalls_.empty() || caught_syscalls_.contains(static_cast<int64_t>(number)));
}

void DebugController::BeforeSyscall(km::GuestThread& thread, uint64_t number) {
  if (!catching_syscalls_.load(std::memory_order_relaxed)) return;
  {
    absl::MutexLock lock(&mu_);
    // A step over the syscall instruction ends after it, as under ptrace's PTRACE_SINGLESTEP.
    if (threads_[thread.tid()].stepping || !CatchesLocked(number)) return;
  }
  ReportStop(thread, SyscallReason(v1::STOP_KIND_SYSCALL_ENTRY, number));
}

void DebugController::AfterSyscall(km::GuestThread& thread, uint64_t number) {
  bool stepped, caught;
  {
    absl::MutexLock lock(&mu_);
    ThreadDebug& td = threads_[thread.tid()];
    stepped = td.stepping;
    caught = CatchesLocked(number);
    td.stepping = false;
  }
  // A syscall instruction a tracepoint's while-stepping stepped is done once it returns (no
  // single-step exit follows it): that step's frame is collected here.
  if (km::Regs regs;
      !stepped && trace_.Stepping(thread.tid()) && !CollectTraceStep(thread, regs)) {
    (void)thread.WithVcpu([](km::Vcpu& vcpu) { return vcpu.SetSingleStep(false); });
  }
  if (!stepped && !caught) return;
  if (!stepped) {
    ReportStop(thread, SyscallReason(v1::STOP_KIND_SYSCALL_RETURN, number));
    return;
  }
  // The syscall instruction was the step: it is done once the syscall returns.
  (void)thread.WithVcpu([](km::Vcpu& vcpu) { return vcpu.SetSingleStep(false); });
  ReportStop(thread, Reason(v1::STOP_KIND_STEP, SIGTRAP));
}

bool DebugController::BeforeExec(km::GuestThread& thread, const std::string& program) {
  {
    absl::MutexLock lock(&mu_);
    if (!session_) return false;
  }
  v1::StopReason reason = Reason(v1::STOP_KIND_EXEC, SIGTRAP);
  reason.set_exec_path(program);
  ReportStop(thread, reason);
  return true;
}

km::ExecDebug DebugController::ForExec() {
  absl::MutexLock lock(&mu_);
  // Decided once the exec stop is over: a session that ended meanwhile leaves nobody to wait for.
  return km::ExecDebug{socket_path_, session_};
}

void DebugController::OnThreadStart(km::GuestThread& thread) {
  if (km::ExecutionLog* log = active_log_.load()) log->Clear();
  (void)ApplyDebugRegs(thread);
  v1::Event ev;
  absl::MutexLock lock(&mu_);
  ThreadDebug& td = threads_[thread.tid()];
  if (hold_main_ && thread.vcpu_id() == 0) {
    hold_main_ = false;
    td.stopped = Reason(v1::STOP_KIND_INTERRUPTED, 0);
    // A client whose stream opened before the thread existed has not heard of this stop yet.
    if (streaming_) {
      *ev.mutable_stop() = MakeStopEvent(thread, *td.stopped);
      events_.Push(std::move(ev));
    }
    return;
  }
  if (streaming_) {
    ev.mutable_thread_created()->set_tid(thread.tid());
    events_.Push(std::move(ev));
  }
}

void DebugController::AfterFork(km::GuestThread& thread, int child_pid, bool vfork) {
  v1::Event ev;
  absl::MutexLock lock(&mu_);
  if (!streaming_) return;
  v1::ForkEvent* fork = ev.mutable_forked();
  fork->set_tid(thread.tid());
  fork->set_child_pid(child_pid);
  fork->set_vfork(vfork);
  events_.Push(std::move(ev));
}

void DebugController::OnThreadExit(km::GuestThread& thread) {
  trace_.ForgetSteps(thread.tid());
  if (km::ExecutionLog* log = active_log_.load()) log->Clear();
  v1::Event ev;
  absl::MutexLock lock(&mu_);
  threads_.erase(thread.tid());
  if (streaming_) {
    ev.mutable_thread_exited()->set_tid(thread.tid());
    ev.mutable_thread_exited()->set_exit_status(thread.exit_status());
    events_.Push(std::move(ev));
  }
}

void DebugController::OnProcessExit(const km::ExitInfo& info) {
  bool delivered;
  {
    absl::MutexLock lock(&mu_);
    if (!streaming_) return;
    v1::Event ev;
    ev.mutable_process_exited()->set_status(info.status);
    ev.mutable_process_exited()->set_signal(info.signo);
    events_.Push(std::move(ev));
    // km _exits right after this: wait (a bounded time) until the stream has carried the news
    // and closed.
    auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return exit_delivered_; };
    delivered = mu_.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(2));
  }
  // Then a moment for the transport to flush it.
  if (delivered) absl::SleepFor(absl::Milliseconds(20));
}

}  // namespace km_hooks
