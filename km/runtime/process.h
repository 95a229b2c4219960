// A running payload: its guest memory, engine, loaded image, descriptors, signal dispositions
// and threads. km has exactly one; the debug service reaches everything through it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "km/elf_loader.h"
#include "km/engine.h"
#include "km/guest_memory.h"
#include "km/initial_stack.h"
#include "km/runtime/debug_observer.h"
#include "km/runtime/fd_table.h"
#include "km/runtime/guest_thread.h"
#include "km/runtime/payload_timers.h"
#include "km/runtime/program_break.h"
#include "km/runtime/signal_state.h"

namespace km {

struct ProcessOptions {
  std::string payload;             // the ELF path, as given (also argv[0])
  std::vector<std::string> argv;   // argv[0] included
  std::vector<std::string> envp;
  Accel accel = Accel::kAuto;
  uint64_t memory_size = 0;
};

class Process {
 public:
  // Builds guest memory and the engine, loads the payload and its initial stack, and creates the
  // main thread (not yet running). *engine_notice receives the engine's line for --accel=auto.
  static absl::StatusOr<std::unique_ptr<Process>> Create(const ProcessOptions& options,
                                                         std::string* engine_notice);
  // Assembles a process from parts already made (tests use a fake engine).
  static absl::StatusOr<std::unique_ptr<Process>> FromParts(std::unique_ptr<GuestMemory> mem,
                                                            std::unique_ptr<Engine> engine,
                                                            LoadedImage image,
                                                            InitialStack stack);
  // Only safe once no guest thread runs: km itself never destroys its Process (it _exits).
  ~Process();

  // Called once, from the thread that ended the payload, with km's exit status. km's handler
  // flushes and _exits: it must not return while threads may be blocked in host syscalls.
  // Without one, Run() returns the status once the main thread's loop ends.
  void set_exit_handler(std::function<void(const ExitInfo& info)> handler) {
    exit_handler_ = std::move(handler);
  }
  // Whether km ends by the signal that killed its payload rather than with exit status
  // 128 + signo (host_exit.h's LeaveHost): true for a km a payload started, by fork here or by
  // --die_by_signal, and carried across the payload's execve.
  void set_die_by_signal(bool die) { die_by_signal_ = die; }
  bool die_by_signal() const { return die_by_signal_; }
  // Where a signal that ends the payload and dumps core (SIGSEGV, SIGABRT...) writes the core
  // (core_dump.h's CorePath); empty: nowhere. A Process starts with none.
  void set_core_pattern(std::string pattern) { core_pattern_ = std::move(pattern); }
  const std::string& core_pattern() const { return core_pattern_; }
  // Runs the main guest thread on the calling host thread, then waits for the payload's end.
  int Run();

  GuestMemory& memory() { return *mem_; }
  Engine& engine() { return *engine_; }
  const LoadedImage& image() const { return image_; }
  // The auxv as laid out on the initial stack (for a debugger's qXfer:auxv).
  const std::string& auxv() const { return auxv_; }
  // The payload's argv as km started it (empty for a process made FromParts).
  const std::vector<std::string>& argv() const { return argv_; }
  // The payload's name as Linux gives a process its name: its path's last component.
  std::string name() const {
    return argv_.empty() ? "" : argv_[0].substr(argv_[0].rfind('/') + 1);
  }
  FdTable& fds() { return fds_; }
  ProgramBreak& program_break() { return brk_; }
  SignalDispositions& signals() { return signals_; }
  PayloadTimers& timers() { return timers_; }

  void set_debug_observer(DebugObserver* observer) { observer_.store(observer); }
  DebugObserver* debug_observer() const { return observer_.load(); }

  std::vector<std::shared_ptr<GuestThread>> Threads();
  std::shared_ptr<GuestThread> FindThread(int tid);
  std::shared_ptr<GuestThread> main_thread() { return main_thread_; }

  // clone: a new thread with these registers, FPU state and blocked signals (its parent's, set
  // before any signal can be aimed at it); it starts running once start() has been called on
  // the result, which returns the new thread's tid for the parent.
  class PendingThread;
  absl::StatusOr<std::unique_ptr<PendingThread>> SpawnThread(const Regs& regs, const FpuRegs& fpu,
                                                             uint64_t blocked_signals);

  // fork, vfork and clone without CLONE_THREAD, from `thread`'s syscall (only where the engine
  // has caps().fork): a host fork() of km, the payload's other threads paused meanwhile. Returns
  // the child's pid in the parent and 0 in the child, where `thread` is the payload's only
  // thread, under the child's pid; as Linux starts a child: no pending signals, no timers. No
  // debugger follows the child: its copy of the code has the debugger's int3s taken out, its
  // vCPU no debug state, and it keeps none of km's descriptors but keep_fd (-1: none).
  absl::StatusOr<int> Fork(GuestThread& thread, int keep_fd);

  // A signal sent to the whole payload (kill, a timer, a host signal km forwards): the main
  // thread takes it if it does not block it, else some thread that does not, else it waits in
  // the shared pending set for the first thread that unblocks it or waits for it. SIGKILL
  // ends the payload.
  void SendSignal(const SignalInfo& info);
  SharedPendingSignals& shared_signals() { return shared_signals_; }

  // The payload ends: exit_group, a fatal signal, or the last thread's exit. The first call
  // wins; it prints the message, stops every vCPU and calls the exit handler.
  void End(const ExitInfo& info);
  void ExitGroup(int status) { End({status & 0xff, 0, ""}); }
  // A signal's default action ends the payload, on `thread`'s own host thread, with km's line
  // `message`. A signal that dumps core first writes the core (the payload's threads are paused
  // for it) and the line says where.
  void EndBySignal(GuestThread& thread, const SignalInfo& signal, std::string message);
  // Linux's force_sigsegv: a signal frame km could not write, or read back in rt_sigreturn,
  // ends the payload by SIGSEGV whatever its handler; `why` names the frame's problem.
  void EndByForcedSigsegv(GuestThread& thread, absl::string_view why);
  bool ended();
  // A thread's loop finished (its exit syscall, or the payload ending).
  void ThreadFinished(GuestThread& thread);

 private:
  Process(std::unique_ptr<GuestMemory> mem, std::unique_ptr<Engine> engine, LoadedImage image,
          std::string auxv);
  int AllocVcpuId() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Fork()'s child half; mu_ is held on entry (it was across the fork).
  void BecomeForkedChild(GuestThread& thread,
                         const std::vector<std::pair<uint64_t, uint8_t>>& planted, int keep_fd)
      ABSL_UNLOCK_FUNCTION(mu_);
  // End()'s first half: false if the payload had ended already, else marks it ended and
  // returns its threads.
  bool BeginEnd(const ExitInfo& info, std::vector<std::shared_ptr<GuestThread>>* threads);
  // End()'s second half: the message, the threads killed, the observer told, the exit handler.
  void FinishEnd(const ExitInfo& info, const std::vector<std::shared_ptr<GuestThread>>& threads);

  // Members are destroyed in reverse order: threads (vCPUs) before the engine before memory.
  std::unique_ptr<GuestMemory> mem_;
  std::unique_ptr<Engine> engine_;
  const LoadedImage image_;
  const std::string auxv_;
  std::vector<std::string> argv_;
  FdTable fds_;
  ProgramBreak brk_;
  SignalDispositions signals_;
  SharedPendingSignals shared_signals_;
  std::atomic<DebugObserver*> observer_{nullptr};
  std::function<void(const ExitInfo&)> exit_handler_;
  std::string core_pattern_;
  bool die_by_signal_ = false;

  absl::Mutex mu_;
  std::shared_ptr<GuestThread> main_thread_;
  // Live threads by tid (the main thread is added when Run() binds it).
  absl::flat_hash_map<int, std::shared_ptr<GuestThread>> threads_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> vcpu_ids_ ABSL_GUARDED_BY(mu_);  // in use
  int live_threads_ ABSL_GUARDED_BY(mu_) = 0;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  ExitInfo exit_info_ ABSL_GUARDED_BY(mu_);
  // Last: its thread, which reaches the threads above, stops first.
  PayloadTimers timers_{*this};
};

// A thread made by SpawnThread whose host thread is waiting for the go.
class Process::PendingThread {
 public:
  ~PendingThread();  // without start(), the thread exits without running guest code
  std::shared_ptr<GuestThread> thread() { return thread_; }
  int tid() const { return thread_->tid(); }
  void start();

 private:
  friend class Process;
  struct Gate;
  std::shared_ptr<GuestThread> thread_;
  std::shared_ptr<Gate> gate_;
};

}  // namespace km
