// Process::Fork: the payload's fork, vfork and posix_spawn, as a host fork() of km itself.
//
// The child is a copy of km taken while the forking thread serves its syscall: guest memory is
// a private mapping, so the child's is a copy on write, and so is the forking vCPU (on an engine
// that can, caps().fork). Only the forking host thread exists in the child; everything the
// other host threads were (the payload's other threads, the timer thread, the debug service)
// is left behind untouched, never destroyed, since those objects may hold those threads' locks.
// The payload's other threads are paused across the fork so that none is inside its vCPU or
// half-way through an update km's child will read.
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "km/code_patch.h"
#include "km/runtime/host_exit.h"
#include "km/runtime/host_fds.h"
#include "km/runtime/host_signals.h"
#include "km/runtime/process.h"

namespace km {

absl::StatusOr<int> Process::Fork(GuestThread& thread, int keep_fd) {
  if (!engine_->caps().fork) {
    return absl::UnimplementedError(
        absl::StrFormat("the %s engine cannot fork a payload", engine_->name()));
  }
  // Threads a debugger holds stay held: only the pauses asked for here are undone.
  std::vector<std::shared_ptr<GuestThread>> to_resume;
  for (std::shared_ptr<GuestThread>& other : Threads()) {
    if (other.get() != &thread && !other->Pause()) to_resume.push_back(std::move(other));
  }
  DebugObserver* observer = debug_observer();
  const std::vector<std::pair<uint64_t, uint8_t>> planted =
      observer != nullptr ? observer->PlantedBytes() : std::vector<std::pair<uint64_t, uint8_t>>{};
  // Unwritten stdio output would be written twice, once by each process.
  std::fflush(nullptr);

  mu_.Lock();
  const pid_t pid = ::fork();
  if (pid == 0) {
    BecomeForkedChild(thread, planted, keep_fd);
    return 0;
  }
  const int err = errno;
  mu_.Unlock();
  for (const std::shared_ptr<GuestThread>& other : to_resume) other->Resume();
  if (pid < 0) {
    return absl::ResourceExhaustedError(absl::StrFormat("fork: %s", strerror(err)));
  }
  return pid;
}

void Process::BecomeForkedChild(GuestThread& thread,
                                const std::vector<std::pair<uint64_t, uint8_t>>& planted,
                                int keep_fd) {
  // Never destroyed (see the top of the file).
  static auto* const left_behind = new std::vector<std::shared_ptr<GuestThread>>();
  std::shared_ptr<GuestThread> self;
  for (auto& [tid, t] : threads_) {
    if (t.get() == &thread) self = t;
    left_behind->push_back(std::move(t));
  }
  left_behind->push_back(std::move(main_thread_));
  threads_.clear();
  thread.BecomeForkedChild();
  threads_[thread.tid()] = self;
  main_thread_ = self;
  std::fill(vcpu_ids_.begin(), vcpu_ids_.end(), false);
  vcpu_ids_[thread.vcpu_id()] = true;
  live_threads_ = 1;
  mu_.Unlock();

  // The timer thread and the signal forwarder are not here; what they guarded may be locked by
  // them forever, so the child starts both afresh (the old ones are left, never destroyed: a
  // joinable std::thread's destructor would end km).
  new (&timers_) PayloadTimers(*this);
  new (&shared_signals_) SharedPendingSignals();
  ForwardHostSignals(*this);

  observer_.store(nullptr);
  // Its parent is the payload, whose wait must see a signal that kills this one.
  die_by_signal_ = true;
  exit_handler_ = [this](const ExitInfo& info) {
    std::fflush(nullptr);
    LeaveHost(info, die_by_signal_);
  };
  for (const auto& [addr, original] : planted) RestoreInt3(*engine_, *mem_, addr, original);
  const EngineCaps caps = engine_->caps();
  if (caps.recording) engine_->SetRecorder(nullptr).IgnoreError();
  thread
      .WithVcpu([&](Vcpu& vcpu) {
        engine_->AfterForkInChild(vcpu);
        vcpu.SetSingleStep(false).IgnoreError();
        if (caps.hw_breakpoints > 0) vcpu.SetHwBreakpoints({}).IgnoreError();
        if (caps.data_watchpoints) vcpu.SetWatchpoints({}).IgnoreError();
        return absl::OkStatus();
      })
      .IgnoreError();

  // km's own descriptors (the debug socket and its connections above all: a client must see km
  // end when the parent does) are the parent's business.
  for (int fd : OpenHostFds()) {
    if (fd != keep_fd && !fds_.Owns(fd)) ::close(fd);
  }
}

}  // namespace km
