// TcgVcpu's debug controls: single-step, execute breakpoints and data watchpoints.
//
// Unicorn decides while translating a block whether to call instruction hooks in it, so every
// change to them drops the translations concerned: the breakpoint's block, the stepped page, or
// all of them for the watchpoints' hook on every instruction.
#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"
#include "km/engine_tcg.h"
#include "km/engine_tcg_uc.h"
#include "km/engine_tcg_vcpu.h"

namespace km::tcg {
namespace {

// A memory hook fires only for accesses that start inside its range; an access starting this
// many bytes below a watched byte can still cover it (16-byte SSE accesses arrive as two 8-byte
// ones; the margin leaves room for anything up to 32 bytes).
constexpr uint64_t kWatchMargin = 31;
constexpr uint64_t kPage = 4096;
constexpr uint8_t kInt3 = 0xcc;

}  // namespace

absl::Status TcgVcpu::SetSingleStep(bool on) {
  absl::MutexLock regions(&engine_->regions_mu());
  absl::MutexLock l(&uc_mu_);
  if (single_step_ == on) return absl::OkStatus();
  if (on) {
    if (absl::Status s =
            UcStatus(uc_hook_add(uc_, &step_hook_, UC_HOOK_CODE, HookCallback(&OnStep), this, 1, 0),
                     absl::StrFormat("vcpu %d: step hook", id_));
        !s.ok()) {
      return s;
    }
  } else {
    uc_hook_del(uc_, step_hook_);
    step_hook_ = 0;
    step_over_.reset();
    // Blocks translated while stepping call the (now absent) hook on every instruction.
    for (uint64_t page : step_pages_) engine_->InvalidateCodeLocked(uc_, page, kPage);
    step_pages_.clear();
  }
  single_step_ = on;
  return absl::OkStatus();
}

// A step runs until the step hook sees a second instruction begin, or the block hook a second
// block. Blocks translated before stepping began lack the step hook's calls: dropping the one at
// rip (lazily, once per page) is enough, since if the instruction leaves its block, the block
// hook stops at the next one. A block at rip translated while stepping is dropped too: one that
// an earlier step entered and left mid-way (stopped by the hook) runs no instruction the next
// time it is entered, so a step kept on round a loop would stand still.
void TcgVcpu::PrepareStepLocked() {
  const uint64_t rip = Rip();
  const uint64_t page = rip & ~(kPage - 1);
  if (step_pages_.insert(page).second) {
    engine_->InvalidateCodeLocked(uc_, page, kPage);
  } else {
    engine_->InvalidateCodeLocked(uc_, rip, 1);
  }
}

absl::Status TcgVcpu::StepOverBreakpoint(uint64_t addr, uint8_t original) {
  absl::MutexLock l(&uc_mu_);
  if (!single_step_) {
    return absl::FailedPreconditionError(
        absl::StrFormat("tcg: vcpu %d: a step over a breakpoint needs single-step on", id_));
  }
  step_over_ = StepOver{addr, original};
  return absl::OkStatus();
}

std::optional<TcgVcpu::StepOver> TcgVcpu::BeginStepOverLocked(bool* busy) {
  if (!step_over_) return std::nullopt;
  if (!engine_->code_mu().TryLock()) {
    *busy = true;
    return std::nullopt;
  }
  const StepOver over = *std::exchange(step_over_, std::nullopt);
  if (Rip() != over.addr || ByteAt(over.addr) != kInt3 ||
      uc_mem_write(uc_, over.addr, &over.original, 1) != UC_ERR_OK) {
    engine_->code_mu().Unlock();
    return std::nullopt;
  }
  return over;
}

void TcgVcpu::EndStepOverLocked(const StepOver& over) {
  // Unless the stepped instruction itself rewrote that byte.
  if (ByteAt(over.addr) == over.original) uc_mem_write(uc_, over.addr, &kInt3, 1);
  engine_->code_mu().Unlock();
}

absl::Status TcgVcpu::SetHwBreakpoints(const std::vector<uint64_t>& addrs) {
  if (addrs.size() > static_cast<size_t>(kMaxHwBreakpoints)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("tcg: vcpu %d: %d hardware breakpoints requested, at most %d", id_,
                        addrs.size(), kMaxHwBreakpoints));
  }
  absl::MutexLock regions(&engine_->regions_mu());
  absl::MutexLock l(&uc_mu_);
  for (const auto& [addr, hook] : breakpoints_) {
    uc_hook_del(uc_, hook);
    engine_->InvalidateCodeLocked(uc_, addr, 1);
  }
  breakpoints_.clear();
  for (uint64_t addr : addrs) {
    if (IsBreakpoint(addr)) continue;
    uc_hook hook;
    if (absl::Status s = UcStatus(
            uc_hook_add(uc_, &hook, UC_HOOK_CODE, HookCallback(&OnBreakpoint), this, addr, addr),
            absl::StrFormat("vcpu %d: breakpoint at %#x", id_, addr));
        !s.ok()) {
      return s;
    }
    breakpoints_.emplace_back(addr, hook);
    engine_->InvalidateCodeLocked(uc_, addr, 1);
  }
  return absl::OkStatus();
}

bool TcgVcpu::IsBreakpoint(uint64_t addr) const {
  return std::any_of(breakpoints_.begin(), breakpoints_.end(),
                     [addr](const auto& bp) { return bp.first == addr; });
}

void TcgVcpu::SkipBreakpointOnce() {
  absl::MutexLock l(&uc_mu_);
  skip_once_ = true;
}

absl::Status TcgVcpu::SetWatchpoints(const std::vector<Watchpoint>& watchpoints) {
  for (const Watchpoint& wp : watchpoints) {
    if ((wp.len != 1 && wp.len != 2 && wp.len != 4 && wp.len != 8) || wp.addr + wp.len < wp.addr) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "tcg: vcpu %d: watchpoint at %#x: length %d is not 1, 2, 4 or 8", id_, wp.addr, wp.len));
    }
  }
  absl::MutexLock regions(&engine_->regions_mu());
  absl::MutexLock l(&uc_mu_);
  for (const auto& w : watches_) uc_hook_del(uc_, w->hook);
  watches_.clear();
  for (const Watchpoint& wp : watchpoints) {
    auto w = std::make_unique<WatchHook>(WatchHook{this, wp});
    const int type = wp.kind == WatchKind::kWrite  ? UC_HOOK_MEM_WRITE
                     : wp.kind == WatchKind::kRead ? UC_HOOK_MEM_READ
                                                   : UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE;
    const uint64_t begin = wp.addr >= kWatchMargin ? wp.addr - kWatchMargin : 0;
    if (absl::Status s = UcStatus(uc_hook_add(uc_, &w->hook, type, HookCallback(&OnWatchedAccess),
                                              w.get(), begin, wp.addr + wp.len - 1),
                                  absl::StrFormat("vcpu %d: watchpoint at %#x", id_, wp.addr));
        !s.ok()) {
      return s;
    }
    watches_.push_back(std::move(w));
  }
  // A memory hook must not stop emulation, so a hit is reported at the next instruction
  // boundary, which only a hook on every instruction (costly: ~20x for register-only loops)
  // sees. It exists only while watchpoints do.
  const bool want_boundary = !watches_.empty();
  if (want_boundary && boundary_hook_ == 0) {
    if (absl::Status s = UcStatus(uc_hook_add(uc_, &boundary_hook_, UC_HOOK_CODE,
                                              HookCallback(&OnInstructionBoundary), this, 1, 0),
                                  absl::StrFormat("vcpu %d: instruction hook", id_));
        !s.ok()) {
      return s;
    }
    engine_->InvalidateAllCodeLocked(uc_);
  } else if (!want_boundary && boundary_hook_ != 0) {
    uc_hook_del(uc_, boundary_hook_);
    boundary_hook_ = 0;
    engine_->InvalidateAllCodeLocked(uc_);
  }
  return absl::OkStatus();
}

void TcgVcpu::OnBreakpoint(uc_engine* uc, uint64_t address, uint32_t, void* user) {
  auto* self = static_cast<TcgVcpu*>(user);
  // While stepping, OnStep checks breakpoints: only it knows which instruction this is.
  if (self->single_step_ || self->exit_) return;
  if (self->watch_hit_) {
    self->StopForWatch();
    return;
  }
  if (self->skip_once_ && address == self->slice_rip_) {
    self->skip_once_ = false;
    return;
  }
  // Stopping here, before the instruction, leaves rip at it.
  self->exit_ = VcpuExit{ExitReason::kHwBreakpoint};
  uc_emu_stop(uc);
}

void TcgVcpu::OnStep(uc_engine* uc, uint64_t address, uint32_t, void* user) {
  auto* self = static_cast<TcgVcpu*>(user);
  if (self->exit_) return;
  if (++self->step_insns_ > 1) {
    uc_emu_stop(uc);
    return;
  }
  if (self->IsBreakpoint(address)) {
    if (self->skip_once_) {
      self->skip_once_ = false;
    } else {
      self->exit_ = VcpuExit{ExitReason::kHwBreakpoint};
      uc_emu_stop(uc);
    }
  }
}

void TcgVcpu::OnInstructionBoundary(uc_engine*, uint64_t, uint32_t, void* user) {
  auto* self = static_cast<TcgVcpu*>(user);
  if (self->watch_hit_ && !self->exit_) self->StopForWatch();
}

void TcgVcpu::OnWatchedAccess(uc_engine*, uc_mem_type, uint64_t address, int size, int64_t,
                              void* user) {
  const auto* w = static_cast<const WatchHook*>(user);
  TcgVcpu* self = w->vcpu;
  if (self->watch_hit_) return;
  const uint64_t lo = std::max(address, w->wp.addr);
  const uint64_t hi = std::min(address + static_cast<uint64_t>(size), w->wp.addr + w->wp.len);
  if (lo >= hi) return;
  self->watch_hit_ = WatchHit{lo, w->wp.kind};
}

}  // namespace km::tcg
