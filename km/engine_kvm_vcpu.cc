// A kvm vCPU: the KVM_RUN loop, stop requests, registers and debug registers.
#include <signal.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "km/engine_kvm_internal.h"

namespace km::kvm {
namespace {

constexpr uint64_t kDr6SingleStep = 1ull << 14;
// DR7: bit 10 reads as one; GE/LE (bits 8, 9) ask for exact breakpoints, as gdb's stubs do.
constexpr uint64_t kDr7Base = 0x600;
// A #PF the tables already allow is a stale TLB entry (after ProtectRegion widened a mapping
// on EPT/NPT, which does not shoot TLBs down); the fault itself drops the entry, so the access
// is simply retried. More than this in a row is a real fault.
constexpr int kMaxSpuriousFaults = 4;

// The kick only has to interrupt KVM_RUN; the thread must not block it.
void UnblockKickSignal() {
  thread_local bool done = false;
  if (done) return;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, KickSignal());
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  done = true;
}

VcpuExit ExitOf(ExitReason reason) {
  VcpuExit exit;
  exit.reason = reason;
  return exit;
}

}  // namespace

KvmVcpu::KvmVcpu(KvmEngine& engine, std::unique_ptr<VcpuSlot> slot, int id)
    : engine_(engine), slot_(std::move(slot)), id_(id) {}

KvmVcpu::~KvmVcpu() {
  if (watch_step_.active) EndWatchStep().IgnoreError();
  if (!watchpoints_.empty()) engine_.ReplaceWatches(watchpoints_, {}).IgnoreError();
  // Leave no debug state behind for the slot's next owner; it is reprogrammed on reuse anyway.
  if (debug_control_ != 0) {
    kvm_guest_debug dbg = {};
    Ioctl(slot_->fd, KVM_SET_GUEST_DEBUG, &dbg);
  }
  engine_.ReleaseSlot(std::move(slot_));
}

absl::Status KvmVcpu::Reset() {
  user_ = Regs{};
  user_.rflags = kRflagsIf | kRflagsFixed;
  user_.cs = kUserCs;
  user_.ss = kUserDs;
  regs_dirty_ = segs_dirty_ = true;
  eretu_pending_ = false;
  single_step_ = false;
  breakpoints_.clear();
  skip_breakpoint_ = false;
  step_over_.reset();
  return_breakpoint_ = 0;
  debug_dirty_ = true;
  debug_control_ = ~0u;
  spurious_faults_ = 0;
  stop_requests_.store(0);
  __atomic_store_n(&slot_->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
  if (Ioctl(slot_->fd, KVM_GET_SREGS, &user_sregs_) < 0) {
    return ErrnoError(errno, "KVM_GET_SREGS");
  }
  const VcpuSetup& setup = engine_.setup();
  SetUserSregs(&user_sregs_, slot_->cpu_page_gva(), setup.pml4, setup.xsave);
  absl::Status status = ApplyDebug();
  if (!status.ok()) return status;
  return ResetFpu();
}

absl::StatusOr<VcpuExit> KvmVcpu::Run() {
  {
    absl::MutexLock lock(&run_mu_);
    in_run_ = true;
    thread_ = pthread_self();
  }
  UnblockKickSignal();
  const std::optional<StepOver> over = std::exchange(step_over_, std::nullopt);
  absl::StatusOr<VcpuExit> exit =
      over && single_step_ && user_.rip == over->addr
          ? engine_.StepOverBreakpoint(over->addr, over->original, [this] { return RunLoop(); })
          : RunLoop();
  if (watch_step_.active) {
    // The step ended some other way (a stop request, another fault): the access has not
    // happened, and faults again on the next Run().
    absl::Status status = EndWatchStep();
    if (!status.ok() && exit.ok()) exit = status;
  }
  absl::MutexLock lock(&run_mu_);
  in_run_ = false;
  return exit;
}

void KvmVcpu::RequestStop() {
  // Count first, then immediate_exit (covers a thread about to enter KVM_RUN), then the signal
  // (covers one inside it). immediate_exit is cleared only while no request is pending.
  stop_requests_.fetch_add(1);
  __atomic_store_n(&slot_->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
  absl::MutexLock lock(&run_mu_);
  if (in_run_) pthread_kill(thread_, KickSignal());
}

void KvmVcpu::ClearImmediateExit() {
  __atomic_store_n(&slot_->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
  // A request that raced in after the caller looked must keep its effect.
  if (stop_requests_.load() > 0) __atomic_store_n(&slot_->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
}

bool KvmVcpu::ConsumeStop() {
  int n = stop_requests_.load();
  while (n > 0 && !stop_requests_.compare_exchange_weak(n, n - 1)) {
  }
  if (n <= 0) return false;
  ClearImmediateExit();
  return true;
}

absl::StatusOr<VcpuExit> KvmVcpu::RunLoop() {
  if (ConsumeStop()) return ExitOf(ExitReason::kStopRequested);
  absl::Status status = PrepareEntry();
  if (!status.ok()) return status;
  for (;;) {
    absl::StatusOr<std::optional<VcpuExit>> exit = std::optional<VcpuExit>();
    if (ioctl(slot_->fd, KVM_RUN, 0) < 0) {
      const int err = errno;
      if (err != EINTR && err != EAGAIN) return ExitError(absl::StrCat("KVM_RUN: ", strerror(err)));
      exit = OnInterrupted();
    } else {
      kvm_run* run = slot_->run;
      switch (run->exit_reason) {
        case KVM_EXIT_IO:
          exit = OnIo();
          break;
        case KVM_EXIT_DEBUG:
          exit = OnDebug();
          break;
        case KVM_EXIT_INTR:
          exit = OnInterrupted();
          break;
        case KVM_EXIT_HLT: {
          status = LoadUserState();
          if (!status.ok()) return status;
          if (InKernelWindow(user_.rip)) return ExitError("hlt in the guest kernel");
          slot_->in_kernel = false;
          return ExitOf(ExitReason::kHalt);
        }
        case KVM_EXIT_SHUTDOWN:
          return ExitError("the vCPU shut down (triple fault)");
        case KVM_EXIT_FAIL_ENTRY:
          return ExitError(absl::StrFormat("VM entry failed, hardware reason 0x%x",
                                           run->fail_entry.hardware_entry_failure_reason));
        case KVM_EXIT_INTERNAL_ERROR:
          return ExitError(
              absl::StrFormat("KVM internal error, suberror %d", run->internal.suberror));
        case KVM_EXIT_MMIO:
          return ExitError(absl::StrFormat(
              "access to guest-physical 0x%x, which no memory slot backs", run->mmio.phys_addr));
        default:
          return ExitError(absl::StrFormat("unexpected KVM exit reason %d", run->exit_reason));
      }
    }
    if (!exit.ok()) return exit.status();
    if (exit->has_value()) return **exit;
  }
}

absl::Status KvmVcpu::PrepareEntry() {
  // PVM while single-stepping: EVENT_RETURN_USER is itself a guest instruction, and a step
  // over it would land on the user rip without executing it. Stop there with a hardware
  // breakpoint first, then single-step from user mode.
  const bool via_return_breakpoint =
      stepping() && slot_->in_kernel && engine_.abi() == GuestAbi::kPvm;
  const bool rf = skip_breakpoint_ && !via_return_breakpoint;
  absl::Status status;
  if (slot_->in_kernel) {
    status = ReturnToUser(rf);
  } else if (regs_dirty_ || segs_dirty_ || rf) {
    status = StoreUserState(rf);
  }
  if (!status.ok()) return status;
  regs_dirty_ = segs_dirty_ = false;
  if (rf) skip_breakpoint_ = false;
  if (via_return_breakpoint) {
    return_breakpoint_ = user_.rip;
    debug_dirty_ = true;
  }
  return ApplyDebug();
}

absl::Status KvmVcpu::SetGuestDebug(uint32_t control, const uint64_t (&dr)[4], uint64_t dr7) {
  kvm_guest_debug dbg = {};
  dbg.control = control;
  for (int i = 0; i < 4; ++i) dbg.arch.debugreg[i] = dr[i];
  dbg.arch.debugreg[7] = dr7;
  if (Ioctl(slot_->fd, KVM_SET_GUEST_DEBUG, &dbg) < 0) {
    return ErrnoError(errno, absl::StrFormat("vCPU %d: KVM_SET_GUEST_DEBUG 0x%x", id_, control));
  }
  debug_control_ = control;
  return absl::OkStatus();
}

absl::Status KvmVcpu::ApplyDebug() {
  uint32_t control = 0;
  uint64_t dr[4] = {};
  uint64_t dr7 = 0;
  if (return_breakpoint_ != 0) {
    control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP;
    dr[0] = return_breakpoint_;
    dr7 = kDr7Base | 1;
  } else {
    if (stepping()) control |= KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP;
    // Debug registers only while a breakpoint exists: with KVM_GUESTDBG_USE_HW_BP on, a tight
    // guest loop ran ~1000x slower on PVM.
    if (!breakpoints_.empty()) {
      control |= KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP;
      dr7 = kDr7Base;
      for (size_t i = 0; i < breakpoints_.size(); ++i) {
        dr[i] = breakpoints_[i];
        dr7 |= 1ull << (2 * i);  // Li, R/W=00 (execute), LEN=00
      }
    }
  }
  // KVM sets TF for a single step only while rip equals the rip it saw at KVM_SET_GUEST_DEBUG,
  // so a step after KVM_SET_REGS moved rip needs the call again (QEMU does the same).
  if (!debug_dirty_ && control == debug_control_ && !(control & KVM_GUESTDBG_SINGLESTEP)) {
    return absl::OkStatus();
  }
  absl::Status status = SetGuestDebug(control, dr, dr7);
  if (status.ok()) debug_dirty_ = false;
  return status;
}

absl::StatusOr<std::optional<VcpuExit>> KvmVcpu::OnIo() {
  const auto& io = slot_->run->io;
  const uint16_t port = io.port;
  if (io.direction != KVM_EXIT_IO_OUT || io.size != 1 || io.count != 1) {
    return ExitError(absl::StrFormat("unexpected port I/O: port 0x%x, direction %d, size %d", port,
                                     io.direction, io.size));
  }
  kvm_regs r;
  if (Ioctl(slot_->fd, KVM_GET_REGS, &r) < 0) return ErrnoError(errno, "KVM_GET_REGS");
  kvm_sregs s;
  if (Ioctl(slot_->fd, KVM_GET_SREGS, &s) < 0) return ErrnoError(errno, "KVM_GET_SREGS");
  if (!InKernelWindow(r.rip)) {
    return ExitError(absl::StrFormat("port I/O to 0x%x from user mode", port));
  }
  slot_->in_kernel = true;
  eretu_pending_ = false;
  if (return_breakpoint_ != 0) {
    return_breakpoint_ = 0;
    debug_dirty_ = true;
  }
  if (port == kPortKernelEvent) {
    const uint8_t* p = Pvcs();
    uint16_t vector;
    uint64_t rip;
    std::memcpy(&vector, p + kPvcsVector, sizeof vector);
    std::memcpy(&rip, p + kPvcsRip, sizeof rip);
    return ExitError(
        absl::StrFormat("an event in the guest kernel (PVCS vector 0x%x, rip 0x%x)", vector, rip));
  }
  absl::StatusOr<KernelEntry> entry = DecodeKernelEntry(port, r, s);
  if (!entry.ok()) return entry.status();
  if (entry->syscall) {
    spurious_faults_ = 0;
    return ExitOf(ExitReason::kSyscall);
  }
  if (entry->vector == 14 && spurious_faults_ < kMaxSpuriousFaults &&
      engine_.UserAccessAllowed(entry->cr2, entry->error_code)) {
    // Once could be a stale entry the fault itself dropped; again means something still
    // caches it, so flush everything.
    absl::Status status = ++spurious_faults_ > 1 ? engine_.ShootDown() : absl::OkStatus();
    if (status.ok()) status = PrepareEntry();
    if (!status.ok()) return status;
    return std::optional<VcpuExit>();
  }
  spurious_faults_ = 0;
  if (entry->vector == 14 && engine_.WatchFault(entry->cr2, entry->error_code)) {
    return BeginWatchStep(*entry);
  }
  VcpuExit exit = ExitOf(ExitReason::kException);
  exit.vector = entry->vector;
  if (entry->vector == 14) exit.addr = entry->cr2;
  return exit;
}

absl::StatusOr<std::optional<VcpuExit>> KvmVcpu::OnDebug() {
  kvm_regs r;
  if (Ioctl(slot_->fd, KVM_GET_REGS, &r) < 0) return ErrnoError(errno, "KVM_GET_REGS");
  // A step inside the guest kernel (after a stepped syscall or fault): not the payload's, and
  // the stub's `out` comes next.
  if (InKernelWindow(r.rip)) return std::optional<VcpuExit>();
  slot_->in_kernel = false;
  eretu_pending_ = false;
  absl::Status status = LoadUserState();
  if (!status.ok()) return status;
  const uint64_t dr6 = slot_->run->debug.arch.dr6;
  auto at_breakpoint = [&] {
    for (uint64_t bp : breakpoints_) {
      if (bp == user_.rip) return true;
    }
    return false;
  };
  if (return_breakpoint_ != 0) {
    const bool arrived = user_.rip == return_breakpoint_;
    return_breakpoint_ = 0;
    debug_dirty_ = true;
    if (arrived) {
      // Back in user mode where the guest kernel returned to; now the real step.
      if (at_breakpoint() && !skip_breakpoint_) return ExitOf(ExitReason::kHwBreakpoint);
      status = PrepareEntry();
      if (!status.ok()) return status;
      return std::optional<VcpuExit>();
    }
  }
  if (watch_step_.active && (dr6 & kDr6SingleStep)) {
    absl::StatusOr<std::optional<VcpuExit>> hit = FinishWatchStep();
    if (!hit.ok() || hit->has_value()) return hit;
    if (single_step_) return ExitOf(ExitReason::kSingleStep);
    status = PrepareEntry();
    if (!status.ok()) return status;
    return std::optional<VcpuExit>();
  }
  for (size_t i = 0; i < breakpoints_.size(); ++i) {
    if (dr6 & (1ull << i)) return ExitOf(ExitReason::kHwBreakpoint);
  }
  if ((dr6 & kDr6SingleStep) && single_step_) return ExitOf(ExitReason::kSingleStep);
  // The payload's own #DB (TF it set itself, icebp) while KVM intercepts them for debugging.
  VcpuExit exit = ExitOf(ExitReason::kException);
  exit.vector = 1;
  return exit;
}

absl::StatusOr<std::optional<VcpuExit>> KvmVcpu::OnInterrupted() {
  if (stop_requests_.load() == 0) {
    // Some other signal, or a request already taken: run on.
    ClearImmediateExit();
    return std::optional<VcpuExit>();
  }
  kvm_regs r;
  if (Ioctl(slot_->fd, KVM_GET_REGS, &r) < 0) return ErrnoError(errno, "KVM_GET_REGS");
  if (InKernelWindow(r.rip)) {
    if (eretu_pending_ && r.rip == kEretu) {
      // EVENT_RETURN_USER has not run: user_ still holds the state; the next Run() redoes it.
      ConsumeStop();
      return ExitOf(ExitReason::kStopRequested);
    }
    // Between an event and its stub's `out`: let the guest kernel report it first; the stop
    // stays pending for the next Run().
    __atomic_store_n(&slot_->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
    return std::optional<VcpuExit>();
  }
  slot_->in_kernel = false;
  eretu_pending_ = false;
  if (return_breakpoint_ != 0) {
    return_breakpoint_ = 0;
    debug_dirty_ = true;
  }
  absl::Status status = LoadUserState();
  if (!status.ok()) return status;
  ConsumeStop();
  return ExitOf(ExitReason::kStopRequested);
}

absl::Status KvmVcpu::ExitError(const std::string& what) {
  kvm_regs r = {};
  Ioctl(slot_->fd, KVM_GET_REGS, &r);
  return absl::InternalError(
      absl::StrFormat("kvm: vCPU %d: %s (rip 0x%x, rsp 0x%x)", id_, what, r.rip, r.rsp));
}

absl::Status KvmVcpu::GetRegs(Regs* regs) {
  *regs = user_;
  return absl::OkStatus();
}

absl::Status KvmVcpu::SetRegs(const Regs& regs) {
  if (regs.fs_base != user_.fs_base || regs.gs_base != user_.gs_base) segs_dirty_ = true;
  // Selectors stay: the payload runs in 64-bit mode with Linux's selectors, whatever is asked.
  const Regs old = user_;
  user_ = regs;
  user_.cs = old.cs;
  user_.ss = old.ss;
  user_.ds = old.ds;
  user_.es = old.es;
  user_.fs = old.fs;
  user_.gs = old.gs;
  regs_dirty_ = true;
  return absl::OkStatus();
}

absl::Status KvmVcpu::SetSingleStep(bool on) {
  if (on != single_step_) debug_dirty_ = true;
  single_step_ = on;
  if (!on) step_over_.reset();
  return absl::OkStatus();
}

absl::Status KvmVcpu::StepOverBreakpoint(uint64_t addr, uint8_t original) {
  if (!single_step_) {
    return absl::FailedPreconditionError(
        absl::StrFormat("kvm: vcpu %d: a step over a breakpoint needs single-step on", id_));
  }
  step_over_ = StepOver{addr, original};
  return absl::OkStatus();
}

absl::Status KvmVcpu::SetHwBreakpoints(const std::vector<uint64_t>& addrs) {
  if (addrs.size() > 4) {
    return absl::InvalidArgumentError(
        absl::StrFormat("kvm: %d hardware breakpoints asked, the CPU has 4", addrs.size()));
  }
  for (uint64_t addr : addrs) {
    if (addr >= (1ull << 47)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("kvm: hardware breakpoint at 0x%x: not a user-space address", addr));
    }
  }
  breakpoints_ = addrs;
  debug_dirty_ = true;
  return absl::OkStatus();
}

void KvmVcpu::SkipBreakpointOnce() { skip_breakpoint_ = true; }

}  // namespace km::kvm
