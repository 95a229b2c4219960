#include "km/runtime/process.h"

#include <signal.h>

#include <cstdio>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "km/layout.h"
#include "km/runtime/core_dump.h"
#include "km/runtime/fault.h"
#include "km/runtime/interruptible_syscall.h"

namespace km {
namespace {

// Linux starts a process with only the interrupt flag (and the always-one bit 1) set.
constexpr uint64_t kInitialRflags = 0x202;

}  // namespace

struct Process::PendingThread::Gate {
  absl::Notification bound;  // the host thread knows its tid
  absl::Mutex mu;
  bool go ABSL_GUARDED_BY(mu) = false;
  bool cancelled ABSL_GUARDED_BY(mu) = false;
};

absl::StatusOr<std::unique_ptr<Process>> Process::Create(const ProcessOptions& options,
                                                         std::string* engine_notice) {
  absl::StatusOr<std::unique_ptr<GuestMemory>> mem =
      GuestMemory::Create(options.memory_size, kEngineReservedSize);
  if (!mem.ok()) return mem.status();
  absl::StatusOr<std::unique_ptr<Engine>> engine =
      CreateEngine(options.accel, (*mem)->phys(), engine_notice);
  if (!engine.ok()) return engine.status();
  if (absl::Status s = (*mem)->AttachEngine(engine->get()); !s.ok()) return s;
  absl::StatusOr<LoadedImage> image = LoadElf(options.payload, **mem);
  if (!image.ok()) return image.status();
  absl::StatusOr<InitialStack> stack =
      BuildInitialStack(**mem, *image, options.argv, options.envp);
  if (!stack.ok()) return stack.status();
  absl::StatusOr<std::unique_ptr<Process>> process =
      FromParts(*std::move(mem), *std::move(engine), *std::move(image), *std::move(stack));
  if (process.ok()) (*process)->argv_ = options.argv;
  return process;
}

absl::StatusOr<std::unique_ptr<Process>> Process::FromParts(std::unique_ptr<GuestMemory> mem,
                                                            std::unique_ptr<Engine> engine,
                                                            LoadedImage image,
                                                            InitialStack stack) {
  absl::StatusOr<std::unique_ptr<Vcpu>> vcpu = engine->CreateVcpu(0);
  if (!vcpu.ok()) return vcpu.status();
  // Keep the engine's segment setup; everything else starts as Linux starts a process.
  Regs regs;
  if (absl::Status s = (*vcpu)->GetRegs(&regs); !s.ok()) return s;
  Regs initial{};
  initial.cs = regs.cs;
  initial.ss = regs.ss;
  initial.ds = regs.ds;
  initial.es = regs.es;
  initial.fs = regs.fs;
  initial.gs = regs.gs;
  initial.rip = image.entry;
  initial.rsp = stack.rsp;
  initial.rflags = kInitialRflags;
  FpuRegs fpu;
  if (absl::Status s = (*vcpu)->GetFpu(&fpu); !s.ok()) return s;
  fpu.fcw = kInitialFcw;
  fpu.mxcsr = kInitialMxcsr;
  if (absl::Status s = (*vcpu)->SetFpu(fpu); !s.ok()) return s;

  std::unique_ptr<Process> process(
      new Process(std::move(mem), std::move(engine), std::move(image), std::move(stack.auxv_bytes)));
  absl::MutexLock lock(&process->mu_);
  process->vcpu_ids_.push_back(true);
  process->main_thread_ =
      std::make_shared<GuestThread>(*process, *std::move(vcpu), /*vcpu_id=*/0, initial);
  process->live_threads_ = 1;
  return process;
}

Process::Process(std::unique_ptr<GuestMemory> mem, std::unique_ptr<Engine> engine,
                 LoadedImage image, std::string auxv)
    : mem_(std::move(mem)),
      engine_(std::move(engine)),
      image_(std::move(image)),
      auxv_(std::move(auxv)),
      brk_(*mem_, image_.brk_start) {
  InstallSyscallInterruptHandler();
}

Process::~Process() {
  absl::MutexLock lock(&mu_);
  threads_.clear();
  main_thread_.reset();
}

int Process::Run() {
  main_thread_->BindToCurrentHostThread();
  {
    absl::MutexLock lock(&mu_);
    threads_[main_thread_->tid()] = main_thread_;
  }
  main_thread_->RunLoop();
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&ended_));
  return exit_info_.status;
}

std::vector<std::shared_ptr<GuestThread>> Process::Threads() {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<GuestThread>> out;
  out.reserve(threads_.size());
  for (const auto& [tid, thread] : threads_) out.push_back(thread);
  return out;
}

std::shared_ptr<GuestThread> Process::FindThread(int tid) {
  absl::MutexLock lock(&mu_);
  auto it = threads_.find(tid);
  return it == threads_.end() ? nullptr : it->second;
}

int Process::AllocVcpuId() {
  for (size_t i = 0; i < vcpu_ids_.size(); i++) {
    if (!vcpu_ids_[i]) {
      vcpu_ids_[i] = true;
      return static_cast<int>(i);
    }
  }
  vcpu_ids_.push_back(true);
  return static_cast<int>(vcpu_ids_.size() - 1);
}

absl::StatusOr<std::unique_ptr<Process::PendingThread>> Process::SpawnThread(
    const Regs& regs, const FpuRegs& fpu, uint64_t blocked_signals) {
  int id;
  {
    absl::MutexLock lock(&mu_);
    if (ended_) return absl::CancelledError("the payload is ending: no new threads");
    id = AllocVcpuId();
  }
  auto release_id = [this, id] {
    absl::MutexLock lock(&mu_);
    vcpu_ids_[id] = false;
  };
  absl::StatusOr<std::unique_ptr<Vcpu>> vcpu = engine_->CreateVcpu(id);
  if (!vcpu.ok()) {
    release_id();
    return vcpu.status();
  }
  if (absl::Status s = (*vcpu)->SetFpu(fpu); !s.ok()) {
    release_id();
    return s;
  }
  auto pending = std::make_unique<PendingThread>();
  pending->thread_ = std::make_shared<GuestThread>(*this, *std::move(vcpu), id, regs);
  pending->thread_->signal_state().blocked = blocked_signals;
  pending->gate_ = std::make_shared<PendingThread::Gate>();
  {
    absl::MutexLock lock(&mu_);
    live_threads_++;
  }
  // The host thread holds its own references: it may outlive the PendingThread.
  std::thread([thread = pending->thread_, gate = pending->gate_] {
    thread->BindToCurrentHostThread();
    gate->bound.Notify();
    {
      absl::MutexLock lock(&gate->mu);
      auto decided = [&gate]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(gate->mu) {
        return gate->go || gate->cancelled;
      };
      gate->mu.Await(absl::Condition(&decided));
      if (gate->cancelled) thread->Kill();
    }
    thread->RunLoop();
  }).detach();
  pending->gate_->bound.WaitForNotification();
  bool ended_meanwhile;
  {
    absl::MutexLock lock(&mu_);
    threads_[pending->thread_->tid()] = pending->thread_;
    ended_meanwhile = ended_;
  }
  // End() stops the threads it finds in threads_; this one was not there yet.
  if (ended_meanwhile) pending->thread_->Kill();
  return pending;
}

Process::PendingThread::~PendingThread() {
  if (gate_ == nullptr) return;
  absl::MutexLock lock(&gate_->mu);
  if (!gate_->go) gate_->cancelled = true;
}

void Process::PendingThread::start() {
  absl::MutexLock lock(&gate_->mu);
  gate_->go = true;
}

void Process::SendSignal(const SignalInfo& info) {
  if (info.signo == SIGKILL) {
    End({ExitStatusForSignal(SIGKILL), SIGKILL, KillMessage(SIGKILL)});
    return;
  }
  std::shared_ptr<GuestThread> to;
  std::vector<std::shared_ptr<GuestThread>> all;
  {
    absl::MutexLock lock(&mu_);
    auto takes = [&info](const std::shared_ptr<GuestThread>& thread) {
      return (thread->signal_state().blocked.load() & SignalBit(info.signo)) == 0;
    };
    auto main = main_thread_ != nullptr ? threads_.find(main_thread_->tid()) : threads_.end();
    if (main != threads_.end() && takes(main->second)) {
      to = main->second;
    } else {
      for (const auto& [tid, thread] : threads_) {
        if (takes(thread)) {
          to = thread;
          break;
        }
      }
    }
    if (to == nullptr) {
      for (const auto& [tid, thread] : threads_) all.push_back(thread);
    }
  }
  if (to != nullptr) {
    to->SendSignal(info);
    return;
  }
  shared_signals_.Put(info);
  fds_.NotifySignalfds(info.signo);
  // A thread may have unblocked it since it was looked at, and a sigwait must see it.
  for (const auto& thread : all) thread->NoticeSharedSignal(info.signo);
}

bool Process::ended() {
  absl::MutexLock lock(&mu_);
  return ended_;
}

bool Process::BeginEnd(const ExitInfo& info, std::vector<std::shared_ptr<GuestThread>>* threads) {
  absl::MutexLock lock(&mu_);
  if (ended_) return false;
  ended_ = true;
  exit_info_ = info;
  for (const auto& [tid, thread] : threads_) threads->push_back(thread);
  return true;
}

void Process::FinishEnd(const ExitInfo& info,
                        const std::vector<std::shared_ptr<GuestThread>>& threads) {
  if (!info.message.empty()) std::fprintf(stderr, "%s\n", info.message.c_str());
  for (const auto& thread : threads) thread->Kill();
  if (DebugObserver* observer = debug_observer()) observer->OnProcessExit(info);
  if (exit_handler_) exit_handler_(info);
}

void Process::End(const ExitInfo& info) {
  std::vector<std::shared_ptr<GuestThread>> threads;
  if (BeginEnd(info, &threads)) FinishEnd(info, threads);
}

void Process::EndBySignal(GuestThread& thread, const SignalInfo& signal, std::string message) {
  ExitInfo info{ExitStatusForSignal(signal.signo), signal.signo, std::move(message)};
  std::vector<std::shared_ptr<GuestThread>> threads;
  if (!BeginEnd(info, &threads)) return;
  if (SignalDumpsCore(signal.signo)) {
    const std::string core = DumpCore(*this, thread, signal, threads);
    if (!core.empty()) absl::StrAppend(&info.message, " (", core, ")");
  }
  FinishEnd(info, threads);
}

void Process::EndByForcedSigsegv(GuestThread& thread, absl::string_view why) {
  EndBySignal(thread, {.signo = SIGSEGV, .code = SI_KERNEL},
              absl::StrFormat("%s: %s", KillMessage(SIGSEGV), why));
}

void Process::ThreadFinished(GuestThread& thread) {
  bool last;
  {
    absl::MutexLock lock(&mu_);
    threads_.erase(thread.tid());
    vcpu_ids_[thread.vcpu_id()] = false;
    last = --live_threads_ == 0;
  }
  // Linux: the process ends when its last thread does, with that thread's status.
  if (last) End({thread.exit_status() & 0xff, 0, ""});
}

}  // namespace km
