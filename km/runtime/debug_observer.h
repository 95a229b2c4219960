// The one hook through which a debugger (km_hooks) sees guest threads stop on their own.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "km/engine.h"
#include "km/runtime/fault.h"

namespace km {

class GuestThread;

// Why a thread stopped by itself: a debug exit (single step, hardware breakpoint, watchpoint,
// int3) or a CPU fault that would kill the payload.
struct StopEvent {
  VcpuExit exit;
  // The signal Linux would raise for it: SIGTRAP for debug exits, the fault's signal otherwise.
  FatalSignal signal;
  // For a fault: what a handler of that signal would be told, should the debugger pass it on.
  SignalInfo info;
};

enum class DebugAction {
  // Run on (the observer may have changed registers, e.g. stepped past an int3), or park
  // first if the observer called GuestThread::RequestPark(): it must do so before it lets
  // anyone else learn of the stop, or a resume that comes quickly could be lost.
  kContinue,
  kNotHandled,  // what km does without a debugger: a fault or int3 ends the payload
};

// How the payload ended.
struct ExitInfo {
  int status = 0;      // km's own exit status: the payload's, or 128 + signo
  int signo = 0;       // the signal that killed it, 0 for an exit
  std::string message; // the line km prints on stderr, empty for an exit
};

// How the km an execve starts serves a debugger.
struct ExecDebug {
  std::string socket_path;  // empty: it serves none
  bool hold = false;        // its first instruction waits for a client (as --debug-wait)
};

// Calls come from guest threads' own host threads, for that thread only (stop events are per
// vCPU: other threads keep running unless the observer pauses them). During OnStop the thread
// is outside Run() and its registers and vCPU are accessible through it.
class DebugObserver {
 public:
  virtual ~DebugObserver() = default;
  virtual DebugAction OnStop(GuestThread& thread, const StopEvent& event) = 0;
  // A signal (not a fault: those come through OnStop) about to be delivered to the thread, as
  // ptrace's signal-delivery-stop. kContinue: the debugger took it and RequestPark()ed the
  // thread; it decides when it resumes the thread (GuestThread::InjectSignal, or nothing to
  // suppress it). kNotHandled: delivered as without a debugger.
  virtual DebugAction OnSignal(GuestThread& thread, const SignalInfo& info) {
    return DebugAction::kNotHandled;
  }
  // Before a syscall is served (number: rax at the syscall instruction): a debugger catching
  // syscalls may RequestPark the thread, which then parks before the syscall runs; registers a
  // debugger changes meanwhile are the syscall's arguments.
  virtual void BeforeSyscall(GuestThread& thread, uint64_t number) {}
  // After a syscall's result is in rax, before the thread runs on: a debugger single-stepping
  // the syscall instruction sees its step end here (and may RequestPark the thread).
  virtual void AfterSyscall(GuestThread& thread, uint64_t number) {}
  // The thread is about to become program (an execve that passed every check; nothing is
  // changed yet): a debugger may RequestPark it, and the exec goes ahead once it is resumed.
  // True if a debugger was told (it now expects the program to run).
  virtual bool BeforeExec(GuestThread& thread, const std::string& program) { return false; }
  // As the exec goes ahead: what the next km is to serve.
  virtual ExecDebug ForExec() { return {}; }
  // In the parent, once the thread forked child_pid (before a vfork's wait for the child).
  virtual void AfterFork(GuestThread& thread, int child_pid, bool vfork) {}
  // Before the thread's first instruction; after its last (its vCPU is gone by then).
  virtual void OnThreadStart(GuestThread& thread) {}
  virtual void OnThreadExit(GuestThread& thread) {}
  // The guest code bytes the debugger replaced (its int3s), each with the byte it replaced: a
  // child the payload forks runs without a debugger, so its copy of the code gets them back.
  virtual std::vector<std::pair<uint64_t, uint8_t>> PlantedBytes() { return {}; }
  // Once, before km exits, from the thread that ended the payload.
  virtual void OnProcessExit(const ExitInfo& info) {}
};

}  // namespace km
