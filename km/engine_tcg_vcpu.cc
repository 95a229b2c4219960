// TcgVcpu: creating the CPU, running it and turning what Unicorn reports into VcpuExits.
// Debug settings (single-step, breakpoints, watchpoints) live in engine_tcg_debug.cc.
//
// Hooks run inside uc_emu_start, on the thread in Run(), which holds uc_mu_ and the execution
// lock; they only record what happened and, where Unicorn allows it, call uc_emu_stop. Never
// from a memory hook: that corrupts the CPU state.
#include "km/engine_tcg_vcpu.h"

#include "absl/strings/str_format.h"
#include "km/engine_tcg.h"
#include "km/engine_tcg_exception_state.h"
#include "km/engine_tcg_regs.h"
#include "km/engine_tcg_uc.h"

namespace km::tcg {
namespace {

constexpr int kVectorGp = 13;
constexpr int kVectorPf = 14;
constexpr uint8_t kHltOpcode = 0xf4;
constexpr uint8_t kIntOpcode = 0xcd;
constexpr uint64_t kSyscallLength = 2;

// Installed over an address nothing uses: the mere existence of a read and a write hook makes
// Unicorn store rip before every ordinary load and store, so that their faults report the
// faulting instruction instead of the start of its translated block.
void IgnoreAccess(uc_engine*, uc_mem_type, uint64_t, int, int64_t, void*) {}

}  // namespace

absl::StatusOr<std::unique_ptr<TcgVcpu>> TcgVcpu::Create(TcgEngine* engine, int id) {
  uc_engine* uc = nullptr;
  if (absl::Status s =
          UcStatus(uc_open(UC_ARCH_X86, UC_MODE_64, &uc), absl::StrFormat("vcpu %d: uc_open", id));
      !s.ok()) {
    return s;
  }
  std::unique_ptr<TcgVcpu> vcpu(new TcgVcpu(engine, id, uc));
  if (absl::Status s = vcpu->InstallHooks(); !s.ok()) return s;
  if (absl::Status s = WriteInitialState(uc); !s.ok()) return s;
  return vcpu;
}

TcgVcpu::~TcgVcpu() {
  engine_->DetachVcpu(this);
  uc_close(uc_);
}

absl::Status TcgVcpu::InstallHooks() {
  struct {
    int type;
    void* callback;
    uint64_t begin, end;
    int insn;  // for UC_HOOK_INSN
  } const hooks[] = {
      {UC_HOOK_BLOCK, HookCallback(&OnBlock), 1, 0, -1},
      {UC_HOOK_INSN, HookCallback(&OnSyscall), 1, 0, UC_X86_INS_SYSCALL},
      {UC_HOOK_INSN, HookCallback(&OnPortIn), 1, 0, UC_X86_INS_IN},
      {UC_HOOK_INSN, HookCallback(&OnPortOut), 1, 0, UC_X86_INS_OUT},
      {UC_HOOK_INTR, HookCallback(&OnInterrupt), 1, 0, -1},
      {UC_HOOK_MEM_INVALID, HookCallback(&OnInvalidMemory), 1, 0, -1},
      {UC_HOOK_MEM_READ, HookCallback(&IgnoreAccess), 0, 0, -1},
      {UC_HOOK_MEM_WRITE, HookCallback(&IgnoreAccess), 0, 0, -1},
  };
  for (const auto& hook : hooks) {
    uc_hook h;
    const uc_err err =
        hook.insn < 0
            ? uc_hook_add(uc_, &h, hook.type, hook.callback, this, hook.begin, hook.end)
            : uc_hook_add(uc_, &h, hook.type, hook.callback, this, hook.begin, hook.end, hook.insn);
    if (absl::Status s = UcStatus(err, absl::StrFormat("vcpu %d: uc_hook_add", id_)); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<VcpuExit> TcgVcpu::Run() {
  ExecLock& lock = engine_->exec_lock();
  for (;;) {
    if (!lock.Acquire(&attention_)) return TakeStop();
    absl::StatusOr<Slice> slice = RunHoldingLock();
    lock.Release();
    if (!slice.ok()) return slice.status();
    if (slice->exit) return *slice->exit;
    // Preempted at a block boundary: others have run meanwhile; carry on where we stopped.
  }
}

absl::StatusOr<TcgVcpu::Slice> TcgVcpu::RunHoldingLock() {
  bool stepping, follow;
  ExecutionRecorder* const recorder = engine_->recorder();
  {
    absl::MutexLock l(&uc_mu_);
    stepping = single_step_;
    follow = recorder != recorder_;
  }
  if (stepping || follow) {
    absl::MutexLock regions(&engine_->regions_mu());
    absl::MutexLock l(&uc_mu_);
    if (follow) {
      if (absl::Status s = FollowRecorderLocked(recorder); !s.ok()) return s;
    }
    if (stepping) PrepareStepLocked();
  }
  absl::StatusOr<Slice> slice;
  std::optional<StepOver> over;
  {
    absl::MutexLock l(&uc_mu_);
    const uint32_t attention = attention_.load(std::memory_order_relaxed);
    if (attention & kAttentionStop) return Slice{TakeStop(), std::nullopt};
    if (attention & kAttentionPreempt) return Slice{};
    // The original byte is in guest memory only while this vCPU holds the execution lock, so
    // no other vCPU can run past the breakpoint unseen.
    bool busy = false;
    if (stepping) over = BeginStepOverLocked(&busy);
    if (busy) return Slice{};
    slice = RunSlice();
    if (over) EndStepOverLocked(*over);
  }
  if (over) {
    // This vCPU's translation of the original instruction must not outlive the step.
    absl::MutexLock regions(&engine_->regions_mu());
    absl::MutexLock l(&uc_mu_);
    engine_->InvalidateCodeLocked(uc_, over->addr, 1);
  }
  if (slice.ok() && slice->fault) {
    if (absl::Status s = LocateFault(*slice->fault); !s.ok()) return s;
  }
  return slice;
}

absl::StatusOr<TcgVcpu::Slice> TcgVcpu::RunSlice() {
  exit_.reset();
  watch_hit_.reset();
  intno_.reset();
  preempted_ = false;
  fault_addr_ = 0;
  port_io_block_.reset();
  const uint64_t rip = Rip();
  slice_rip_ = rip;
  block_ = rip;
  step_insns_ = 0;
  if (skip_once_ && !IsBreakpoint(rip)) skip_once_ = false;
  // hlt ends emulation like a normal stop, with rip past it; only its opcode tells them apart.
  const bool at_hlt = single_step_ && ByteAt(rip) == kHltOpcode;

  // Unicorn's own instruction count (the last argument) is not used for single steps: going
  // back to count 0 makes it flush every translation, which takes 50 ms.
  const uc_err err = uc_emu_start(uc_, rip, kNoUntil, 0, 0);
  Slice slice;
  if (port_io_block_) {
    // Port I/O does not end its block: what followed it there has run, and may have faulted,
    // before Unicorn returned. The I/O came first.
    slice.exit = VcpuExit{ExitReason::kException, kVectorGp};
    if (single_step_) {
      uc_reg_write(uc_, UC_X86_REG_RIP, &rip);
    } else {
      slice.fault = PendingFault{*port_io_block_, {FaultLocator::Fault::Kind::kPortIo, 0}};
    }
    return slice;
  }
  if (err != UC_ERR_OK) return ExitFromError(err, rip);
  if (intno_) {
    slice.exit = ExitFromInterrupt();
  } else if (exit_) {
    slice.exit = exit_;
  } else if (watch_hit_) {
    // A single step ended right after the watched access.
    slice.exit = VcpuExit{ExitReason::kWatchpoint, -1, watch_hit_->addr, watch_hit_->kind};
  } else if (preempted_) {
    return slice;
  } else if (single_step_) {
    slice.exit = VcpuExit{at_hlt && Rip() == rip + 1 ? ExitReason::kHalt : ExitReason::kSingleStep};
  } else if (const uint64_t now = Rip(); now > 0 && ByteAt(now - 1) == kHltOpcode) {
    slice.exit = VcpuExit{ExitReason::kHalt};
  } else {
    return absl::InternalError(absl::StrFormat(
        "tcg: vcpu %d: emulation from %#x stopped at %#x for no known reason", id_, rip, now));
  }
  return slice;
}

absl::StatusOr<TcgVcpu::Slice> TcgVcpu::ExitFromError(uc_err err, uint64_t start_rip) {
  Slice slice;
  VcpuExit exit{ExitReason::kException};
  switch (err) {
    case UC_ERR_READ_UNMAPPED:
    case UC_ERR_READ_PROT:
    case UC_ERR_WRITE_UNMAPPED:
    case UC_ERR_WRITE_PROT: {
      exit.vector = kVectorPf;
      exit.addr = fault_addr_;
      // rip may be stale (see FaultLocator), except in a single step, which ran one instruction.
      if (single_step_) {
        uc_reg_write(uc_, UC_X86_REG_RIP, &start_rip);
      } else {
        const bool write = err == UC_ERR_WRITE_UNMAPPED || err == UC_ERR_WRITE_PROT;
        slice.fault = PendingFault{
            block_,
            {write ? FaultLocator::Fault::Kind::kWrite : FaultLocator::Fault::Kind::kRead,
             fault_addr_}};
      }
      break;
    }
    case UC_ERR_FETCH_UNMAPPED:
    case UC_ERR_FETCH_PROT:
      // rip is the unfetchable address, as on hardware.
      exit.vector = kVectorPf;
      exit.addr = fault_addr_;
      break;
    case UC_ERR_INSN_INVALID:
      exit.vector = 6;
      break;
    case UC_ERR_EXCEPTION:
      exit.vector = kVectorGp;
      break;
    default:
      return absl::InternalError(absl::StrFormat("tcg: vcpu %d: uc_emu_start at %#x: %s", id_,
                                                 start_rip, uc_strerror(err)));
  }
  slice.exit = exit;
  return slice;
}

VcpuExit TcgVcpu::ExitFromInterrupt() {
  const uint32_t intno = *intno_;
  if (IsContributoryOrPageFault(intno)) ClearExceptionInFlight(uc_);
  VcpuExit exit{ExitReason::kException, static_cast<int>(intno)};
  // #BP and #OF are the only gates Linux opens to user code; any other `int n` is a #GP at the
  // int instruction. Unicorn reports software interrupts with rip past them.
  if (intno == 0 || intno == 3 || intno == 4) return exit;
  uint64_t rip = Rip();
  if (rip >= 2 && ByteAt(rip - 2) == kIntOpcode && ByteAt(rip - 1) == static_cast<int>(intno)) {
    rip -= 2;
    uc_reg_write(uc_, UC_X86_REG_RIP, &rip);
    exit.vector = kVectorGp;
  }
  return exit;
}

absl::Status TcgVcpu::LocateFault(const PendingFault& pending) {
  Regs regs;
  uc_tb block{};
  {
    absl::MutexLock l(&uc_mu_);
    if (absl::Status s = ReadRegs(uc_, &regs); !s.ok()) return s;
    if (uc_ctl_request_cache(uc_, pending.block, &block) != UC_ERR_OK ||
        block.pc != pending.block) {
      block.size = 0;
    }
  }
  // Without the block's size, search one page: no block is longer.
  const uint64_t end = pending.block + (block.size != 0 ? block.size : 4096);
  // rip inside the block was stored by an ordinary load or store there; if that access had not
  // completed, it would be the fault. Events that let the block run on may come before it.
  const bool rip_in_block = regs.rip >= pending.block && regs.rip < end;
  const uint64_t from = rip_in_block && pending.fault.kind != FaultLocator::Fault::Kind::kPortIo
                            ? regs.rip
                            : pending.block;
  std::optional<uint64_t> located = engine_->LocateFault(regs, from, end, pending.fault);
  if (!located && from != pending.block) {
    located = engine_->LocateFault(regs, pending.block, from, pending.fault);
  }
  const uint64_t rip = located.value_or(from);
  if (rip == regs.rip) return absl::OkStatus();
  absl::MutexLock l(&uc_mu_);
  return UcStatus(uc_reg_write(uc_, UC_X86_REG_RIP, &rip), "writing rip");
}

void TcgVcpu::RequestStop() {
  attention_.fetch_or(kAttentionStop, std::memory_order_relaxed);
  engine_->exec_lock().WakeWaiters();
}

VcpuExit TcgVcpu::TakeStop() {
  attention_.fetch_and(~kAttentionStop, std::memory_order_relaxed);
  return VcpuExit{ExitReason::kStopRequested};
}

void TcgVcpu::StopForWatch() {
  exit_ = VcpuExit{ExitReason::kWatchpoint, -1, watch_hit_->addr, watch_hit_->kind};
  uc_emu_stop(uc_);
}

uint64_t TcgVcpu::Rip() {
  uint64_t rip = 0;
  uc_reg_read(uc_, UC_X86_REG_RIP, &rip);
  return rip;
}

int TcgVcpu::ByteAt(uint64_t addr) {
  uint8_t byte = 0;
  if (uc_mem_read(uc_, addr, &byte, 1) != UC_ERR_OK) return -1;
  return byte;
}

absl::Status TcgVcpu::GetRegs(Regs* regs) {
  absl::MutexLock l(&uc_mu_);
  return ReadRegs(uc_, regs);
}

absl::Status TcgVcpu::SetRegs(const Regs& regs) {
  absl::MutexLock l(&uc_mu_);
  return WriteRegs(uc_, regs);
}

absl::Status TcgVcpu::GetFpu(FpuRegs* fpu) {
  absl::MutexLock l(&uc_mu_);
  return ReadFpu(uc_, fpu);
}

absl::Status TcgVcpu::SetFpu(const FpuRegs& fpu) {
  absl::MutexLock l(&uc_mu_);
  return WriteFpu(uc_, fpu);
}

// Hooks.

void TcgVcpu::OnBlock(uc_engine* uc, uint64_t address, uint32_t, void* user) {
  auto* self = static_cast<TcgVcpu*>(user);
  self->block_ = address;
  if (self->single_step_) {
    // The stepped instruction left its block; the next block may have been translated before
    // stepping began, without step hook calls. A stop request waits for the next Run().
    if (self->step_insns_ > 0) uc_emu_stop(uc);
    return;
  }
  if (self->watch_hit_) {
    self->StopForWatch();
    return;
  }
  const uint32_t attention = self->attention_.load(std::memory_order_relaxed);
  if (attention == 0) return;
  if (attention & kAttentionStop) {
    self->exit_ = self->TakeStop();
  } else {
    self->preempted_ = true;
  }
  uc_emu_stop(uc);
}

void TcgVcpu::OnSyscall(uc_engine* uc, void* user) {
  auto* self = static_cast<TcgVcpu*>(user);
  // rip is the syscall instruction here; Unicorn resumes past it. Linux's syscall leaves the
  // return address in rcx and rflags in r11.
  uint64_t rip = 0, rflags = 0;
  uc_reg_read(uc, UC_X86_REG_RIP, &rip);
  uc_reg_read(uc, UC_X86_REG_RFLAGS, &rflags);
  const uint64_t rcx = rip + kSyscallLength, r11 = rflags | 0x2;
  uc_reg_write(uc, UC_X86_REG_RCX, &rcx);
  uc_reg_write(uc, UC_X86_REG_R11, &r11);
  self->exit_ = VcpuExit{ExitReason::kSyscall};
  uc_emu_stop(uc);
}

void TcgVcpu::OnInterrupt(uc_engine* uc, uint32_t intno, void* user) {
  static_cast<TcgVcpu*>(user)->intno_ = intno;
  // Without a stop, Unicorn would try to deliver it through the (empty) IDT: a double fault.
  uc_emu_stop(uc);
}

bool TcgVcpu::OnInvalidMemory(uc_engine*, uc_mem_type, uint64_t address, int, int64_t, void* user) {
  static_cast<TcgVcpu*>(user)->fault_addr_ = address;
  return false;
}

// Port I/O is privileged for Linux user code: a #GP. The stop takes effect at the end of the
// block; rip here is stale.
uint32_t TcgVcpu::OnPortIn(uc_engine* uc, uint32_t, int, void* user) {
  auto* self = static_cast<TcgVcpu*>(user);
  if (!self->port_io_block_) self->port_io_block_ = self->block_;
  uc_emu_stop(uc);
  return 0;
}

void TcgVcpu::OnPortOut(uc_engine* uc, uint32_t port, int size, uint32_t, void* user) {
  OnPortIn(uc, port, size, user);
}

}  // namespace km::tcg
