// vCont and the legacy c/C/s/S: gdb's resume actions turned into km's, with gdb's signal numbers
// turned into Linux ones. Removals gdb asked for reach km first (see BreakpointTable).
#include <algorithm>

#include "absl/strings/str_format.h"
#include "agent/arch/signals.h"
#include "agent/handlers/handlers.h"
#include "agent/log.h"
#include "agent/rsp/packet_writer.h"
#include "agent/rsp/packets/vcont.h"

namespace agent {

namespace {

absl::StatusOr<ThreadAction> ToAction(const rsp::VContAction& a, int current_thread) {
  ThreadAction out;
  out.mode = a.kind == rsp::VContAction::Kind::kStep        ? ResumeMode::kStep
             : a.kind == rsp::VContAction::Kind::kRangeStep ? ResumeMode::kRangeStep
                                                            : ResumeMode::kContinue;
  out.range_start = a.range_start;
  out.range_end = a.range_end;
  out.linux_signal = arch::GdbToLinuxSignal(a.signal);
  if (out.linux_signal < 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("gdb signal %d has no Linux equivalent", a.signal));
  }
  if (!a.thread || a.thread->all()) {
    out.tid = 0;
  } else if (a.thread->any()) {
    out.tid = current_thread;
  } else {
    out.tid = static_cast<int>(a.thread->tid);
  }
  return out;
}

}  // namespace

Response Handlers::VContQuery() { return Response{{"vCont;c;C;s;S;t;r"}}; }

Response Handlers::VCont(absl::string_view packet) {
  absl::StatusOr<std::vector<rsp::VContAction>> actions = rsp::ParseVCont(packet);
  if (!actions.ok()) return Failed(actions.status());
  std::vector<ThreadAction> out;
  std::vector<int> stop_tids;
  bool have_default = false, stop_all = false;
  for (const rsp::VContAction& a : *actions) {
    absl::StatusOr<ThreadAction> action = ToAction(a, GeneralThread());
    if (!action.ok()) return Failed(action.status());
    // 't' asks a running thread to stop: all-stop has none running when gdb can ask.
    if (a.kind == rsp::VContAction::Kind::kStop) {
      stop_all = stop_all || action->tid == 0;
      stop_tids.push_back(action->tid);
      continue;
    }
    // The leftmost action for a thread wins; so does the first default.
    bool taken = false;
    for (const ThreadAction& o : out) taken = taken || o.tid == action->tid;
    if (taken || (action->tid == 0 && have_default)) continue;
    have_default = have_default || action->tid == 0;
    out.push_back(*action);
  }
  if (non_stop_) return NonStopResume(out, stop_tids, stop_all);
  if (out.empty()) return Response{{"OK"}};
  return ResumeWith(out);
}

Response Handlers::LegacyResume(absl::string_view packet) {
  absl::StatusOr<rsp::VContAction> a = rsp::ParseLegacyResume(packet);
  if (!a.ok()) return Failed(a.status());
  // c continues every thread; s steps the current one alone.
  if (a->kind == rsp::VContAction::Kind::kStep) a->thread = rsp::ThreadId{0, GeneralThread()};
  absl::StatusOr<ThreadAction> action = ToAction(*a, GeneralThread());
  if (!action.ok()) return Failed(action.status());
  return ResumeWith({*action});
}

std::optional<uint64_t> Handlers::SteppedOffBreakpoint(const std::vector<ThreadAction>& actions) {
  // Not a range step: its thread may come back to the breakpoint.
  const ThreadAction* step = LoneStep(actions);
  if (step == nullptr || step->mode != ResumeMode::kStep || step->linux_signal != 0) {
    return std::nullopt;
  }
  auto it = threads().records().find(step->tid);
  if (it == threads().records().end() || !it->second.stop) return std::nullopt;
  const ThreadStop& stop = *it->second.stop;
  // Stopped inside a syscall, the thread has not reached the instruction at rip yet.
  if (stop.reason.kind == StopKind::kSyscallEntry || stop.reason.kind == StopKind::kSyscallReturn) {
    return std::nullopt;
  }
  return stop.regs.rip;
}

Response Handlers::ResumeWith(const std::vector<ThreadAction>& actions) {
  if (non_stop_) return NonStopResume(actions, {}, false);
  // gdb steps a thread alone off a breakpoint by removing it first and inserting it again after.
  // km steps over its own int3 at a resumed thread's rip, and no other thread runs meanwhile:
  // that breakpoint may as well stay, which saves a call each way.
  if (absl::Status s = breakpoints_.Flush(SteppedOffBreakpoint(actions)); !s.ok()) {
    Log(s.message());
  }
  if (absl::Status s = FlushPassSignals(actions); !s.ok()) Log(s.message());
  absl::StatusOr<std::optional<StopReport>> stop = run_.Resume(actions);
  // A thread's stop held back from before is reported without anything running: what gdb read
  // since the last stop, and the thread list, still hold. Not after anything else: even a
  // failed call may have let some threads run.
  if (stop.ok() && *stop && (*stop)->kind == StopReport::Kind::kThread) {
    return Response{{StopReply(**stop)}};
  }
  memory_.Invalidate();
  threads_xml_.clear();
  stop_threads_.reset();
  if (!stop.ok()) return Failed(stop.status());
  if (*stop) return Response{{StopReply(**stop)}};
  return Response{{}, /*resumed=*/true};
}

std::optional<std::string> Handlers::HandleEvent(const Event& event) {
  // After a detach the stream's end only confirms it: the payload runs on.
  if (detached_) return std::nullopt;
  if (const auto* stop = std::get_if<ThreadStop>(&event);
      stop != nullptr && stop->reason.kind == StopKind::kExec) {
    ForgetProgram();
  }
  if (const auto* fork = std::get_if<ChildForked>(&event)) {
    // gdb says as much of a native child it does not follow; all-stop gdb takes console output
    // while the payload runs (non-stop forbids it). Nothing stopped: the run controls never
    // see a fork.
    if (non_stop_ || !run_.running()) return std::nullopt;
    return rsp::ConsoleOutput(
        absl::StrFormat("[km: child process %d runs without the debugger (%s)]\n",
                        fork->child_pid, fork->vfork ? "vfork" : "fork"));
  }
  if (non_stop_) {
    stop_threads_.reset();
    return NonStopEvent(event);
  }
  const auto* thread_stop = std::get_if<ThreadStop>(&event);
  // While everything is stopped a thread's stop is old news (the stream's copy of a stop the
  // agent took from km with the others, or one held back): nothing ran since gdb's reads. Any
  // other event may mean a thread ran (one just born) and wrote memory.
  if (run_.running() || thread_stop == nullptr) {
    stop_threads_.reset();
    memory_.Invalidate();
  }
  // The stack bytes and threads that came with the stop hold only if nothing else ran after it:
  // it ran alone, or km stopped the others before it read them.
  const bool alone =
      thread_stop != nullptr &&
      (!thread_stop->all_stopped.empty() ||
       std::all_of(threads().records().begin(), threads().records().end(), [&](const auto& r) {
         return !r.second.running || r.first == thread_stop->tid;
       }));
  absl::StatusOr<std::optional<StopReport>> stop = run_.HandleEvent(event);
  if (!stop.ok()) {
    Log(stop.status().message());
    return std::nullopt;
  }
  if (const auto* ended = std::get_if<EventsEnded>(&event)) Log(ended->why);
  if (!*stop) return std::nullopt;
  if (alone && (*stop)->kind == StopReport::Kind::kThread && (*stop)->tid == thread_stop->tid) {
    memory_.Seed(thread_stop->stack_addr, thread_stop->stack);
    if (!thread_stop->threads.empty()) stop_threads_ = thread_stop->threads;
  }
  return StopReply(**stop);
}

void Handlers::ForgetProgram() {
  if (absl::StatusOr<TargetInfo> info = target_.GetTarget(); info.ok()) {
    info_ = *std::move(info);
  } else {
    Log(info.status().message());
  }
  // gdb inserts its breakpoints anew in the new program, and km has none of the old.
  breakpoints_.Clear();
  memory_.Invalidate();
  stop_threads_.reset();
  threads_xml_.clear();
  trace_frame_.reset();
  recording_.reset();
  general_thread_ = 0;
  continue_thread_ = 0;
}

std::optional<std::string> Handlers::Interrupt() {
  if (non_stop_) return NonStopInterrupt();
  if (!run_.running()) return std::nullopt;
  absl::StatusOr<StopReport> stop = run_.Interrupt();
  if (!stop.ok()) {
    Log(stop.status().message());
    return std::nullopt;
  }
  return StopReply(*stop);
}

}  // namespace agent
