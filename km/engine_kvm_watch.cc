// Data watchpoints through page protection. Debug-register data breakpoints did not fire on the
// KVM (PVM) hosts measured (design.md), so a watched page loses rights in the guest page tables:
// writes for write watchpoints, every access for read and access watchpoints. A #PF that only
// this caused gives the page its rights back, single-steps the faulting instruction, takes them
// away again and reports the access if it touched a watchpoint. While one vCPU steps, others
// may touch that page unwatched; a store km makes for a syscall is never seen (as on tcg).
#include <algorithm>

#include "absl/strings/str_format.h"
#include "km/engine_kvm_internal.h"

namespace km::kvm {
namespace {

template <typename F>
void ForEachPage(const Watchpoint& w, F f) {
  for (uint64_t page = w.addr & ~(kPage - 1); page < w.addr + w.len; page += kPage) f(page);
}

}  // namespace

void KvmEngine::UpdateWatchedPage(uint64_t page, bool* restricted) {
  auto it = watched_pages_.find(page);
  if (it == watched_pages_.end()) return;
  tables_->Restrict(page, RestrictionOf(it->second), restricted);
  const WatchedPage& p = it->second;
  if (p.writes == 0 && p.reads == 0 && p.lifted == 0) watched_pages_.erase(it);
}

PageRestriction KvmEngine::RestrictionOf(const WatchedPage& page) {
  if (page.lifted > 0) return PageRestriction::kNone;
  if (page.reads > 0) return PageRestriction::kNoAccess;
  if (page.writes > 0) return PageRestriction::kNoWrite;
  return PageRestriction::kNone;
}

absl::Status KvmEngine::ReplaceWatches(const std::vector<Watchpoint>& old,
                                       const std::vector<Watchpoint>& now) {
  absl::MutexLock lock(&mu_);
  std::vector<uint64_t> touched;
  auto count = [&](const std::vector<Watchpoint>& watchpoints, int delta) {
    for (const Watchpoint& w : watchpoints) {
      ForEachPage(w, [&](uint64_t page) {
        WatchedPage& p = watched_pages_[page];
        (w.kind == WatchKind::kWrite ? p.writes : p.reads) += delta;
        touched.push_back(page);
      });
    }
  };
  count(old, -1);
  count(now, +1);
  bool restricted = false;
  for (uint64_t page : touched) UpdateWatchedPage(page, &restricted);
  return restricted ? ShootDownTlbs() : absl::OkStatus();
}

bool KvmEngine::WatchFault(uint64_t gva, uint64_t pf_error_code) {
  absl::MutexLock lock(&mu_);
  return tables_->RestrictionFault(gva, pf_error_code);
}

void KvmEngine::LiftWatch(uint64_t page) {
  absl::MutexLock lock(&mu_);
  ++watched_pages_[page].lifted;
  // Widening needs no shootdown: a stale narrower entry faults and is retried (KvmVcpu::OnIo).
  bool restricted = false;
  tables_->Restrict(page, PageRestriction::kNone, &restricted);
}

absl::Status KvmEngine::UnliftWatch(uint64_t page) {
  absl::MutexLock lock(&mu_);
  auto it = watched_pages_.find(page);
  if (it == watched_pages_.end()) return absl::OkStatus();
  --it->second.lifted;
  bool restricted = false;
  UpdateWatchedPage(page, &restricted);
  return restricted ? ShootDownTlbs() : absl::OkStatus();
}

size_t KvmEngine::ReadUser(uint64_t gva, uint8_t* out, size_t n) {
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = tables_->UserHost(gva + i);
    if (p == nullptr) return i;
    out[i] = *p;
  }
  return n;
}

absl::Status KvmVcpu::SetWatchpoints(const std::vector<Watchpoint>& watchpoints) {
  for (const Watchpoint& w : watchpoints) {
    if ((w.len != 1 && w.len != 2 && w.len != 4 && w.len != 8) || w.addr >= kUserSpaceEnd ||
        w.addr + w.len > kUserSpaceEnd || InKernelWindow(w.addr) ||
        InKernelWindow(w.addr + w.len - 1)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "kvm: watchpoint of %d bytes at 0x%x: not 1, 2, 4 or 8 bytes of user space", w.len,
          w.addr));
    }
  }
  absl::Status status = engine_.ReplaceWatches(watchpoints_, watchpoints);
  if (status.ok()) watchpoints_ = watchpoints;
  return status;
}

absl::StatusOr<std::optional<VcpuExit>> KvmVcpu::BeginWatchStep(const KernelEntry& entry) {
  if (!watch_step_.active) {
    // rip is the faulting instruction: exceptions other than #BP report it exactly.
    uint8_t insn[15];
    const size_t n = engine_.ReadUser(user_.rip, insn, sizeof insn);
    watch_step_.active = true;
    watch_step_.addr = entry.cr2;
    watch_step_.write = (entry.error_code & kPfWrite) != 0;
    watch_step_.access = ClassifyAccess(insn, n);
    debug_dirty_ = true;
  }
  // An access that crosses into a second watched page faults again before it completes.
  const uint64_t page = entry.cr2 & ~(kPage - 1);
  engine_.LiftWatch(page);
  watch_step_.lifted.push_back(page);
  // The instruction runs again from the start: a hardware breakpoint there was reported already.
  skip_breakpoint_ = true;
  absl::Status status = PrepareEntry();
  if (!status.ok()) return status;
  return std::optional<VcpuExit>();
}

absl::Status KvmVcpu::EndWatchStep() {
  absl::Status result;
  for (uint64_t page : watch_step_.lifted) {
    absl::Status status = engine_.UnliftWatch(page);
    if (result.ok()) result = status;
  }
  watch_step_ = WatchStep{};
  debug_dirty_ = true;
  return result;
}

absl::StatusOr<std::optional<VcpuExit>> KvmVcpu::FinishWatchStep() {
  const WatchStep step = watch_step_;
  absl::Status status = EndWatchStep();
  if (!status.ok()) return status;
  const bool wrote = step.write;
  const bool read = !step.write || step.access.reads;
  const uint64_t begin = step.addr;
  const uint64_t end = step.addr + step.access.width;
  for (const Watchpoint& w : watchpoints_) {
    const uint64_t lo = std::max(begin, w.addr);
    const uint64_t hi = std::min(end, w.addr + w.len);
    if (lo >= hi) continue;
    const bool hit = w.kind == WatchKind::kWrite  ? wrote
                     : w.kind == WatchKind::kRead ? read
                                                  : read || wrote;
    if (!hit) continue;
    VcpuExit exit;
    exit.reason = ExitReason::kWatchpoint;
    exit.addr = lo;
    exit.watch_kind = w.kind;
    return exit;
  }
  return std::optional<VcpuExit>();
}

}  // namespace km::kvm
