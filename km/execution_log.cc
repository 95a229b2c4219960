#include "km/execution_log.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"

namespace km {
namespace {

// Whose syscalls the stores made on this host thread serve (-1: no guest thread's).
thread_local int t_bound_vcpu = -1;

uint64_t* GprWord(Regs* r, int i) {
  uint64_t* const words[CpuWords::kGprWords] = {
      &r->rax, &r->rbx, &r->rcx, &r->rdx, &r->rsi, &r->rdi,    &r->rbp,     &r->rsp,     &r->r8,
      &r->r9,  &r->r10, &r->r11, &r->r12, &r->r13, &r->r14,    &r->r15,     &r->rip,     &r->rflags,
      &r->fs_base, &r->gs_base};
  return words[i];
}

}  // namespace

CpuWords CpuWords::From(const Regs& regs, const FpuRegs& fpu) {
  CpuWords c;
  Regs copy = regs;
  for (int i = 0; i < kGprWords; ++i) c.w[i] = *GprWord(&copy, i);
  std::memcpy(&c.w[kGprWords], &fpu, sizeof fpu);
  return c;
}

void CpuWords::To(Regs* regs, FpuRegs* fpu) const {
  for (int i = 0; i < kGprWords; ++i) *GprWord(regs, i) = w[i];
  std::memcpy(fpu, &w[kGprWords], sizeof *fpu);
}

ExecutionLog::ExecutionLog(const GuestMemory& memory, uint64_t max_entries)
    : memory_(memory), max_entries_(max_entries == 0 ? 1 : max_entries) {}

void ExecutionLog::BindCurrentThread(int vcpu) { t_bound_vcpu = vcpu; }

ExecutionLog::Entry* ExecutionLog::At(uint64_t seq) {
  if (seq < first_seq_ || seq - first_seq_ >= log_.size()) return nullptr;
  return &log_[seq - first_seq_];
}

uint64_t ExecutionLog::Append(int vcpu, bool instruction) {
  log_.push_back(Entry{vcpu, instruction, {}, {}});
  while (log_.size() > max_entries_) {
    log_.pop_front();
    ++first_seq_;
  }
  done_end_ = first_seq_ + log_.size();
  return done_end_ - 1;
}

void ExecutionLog::CloseLocked(VcpuTrack& t, const CpuWords& now) {
  if (Entry* e = t.open ? At(*t.open) : nullptr; e != nullptr && t.before) {
    for (int i = 0; i < CpuWords::kWords; ++i) {
      if (t.before->w[i] != now.w[i]) e->words.emplace_back(i, t.before->w[i]);
    }
    // An instruction announced and then not run (a breakpoint or a stop ended the slice
    // first) changed nothing: drop it, so that it is not a step backwards.
    if (e->empty() && *t.open + 1 == first_seq_ + log_.size()) {
      log_.pop_back();
      done_end_ = first_seq_ + log_.size();
    }
  }
  t.open.reset();
  t.before = now;
}

void ExecutionLog::CatchUpLocked(int vcpu, VcpuTrack& t, const CpuWords& now) {
  if (!t.open && t.before && std::memcmp(t.before->w, now.w, sizeof now.w) != 0) {
    // Changed since it was synced (a debugger's write, a syscall that finished after).
    t.open = Append(vcpu, /*instruction=*/false);
  }
  CloseLocked(t, now);
}

void ExecutionLog::BeforeInstruction(int vcpu, const Regs& regs, const FpuRegs& fpu) {
  const CpuWords now = CpuWords::From(regs, fpu);
  absl::MutexLock lock(&mu_);
  VcpuTrack& t = vcpus_[vcpu];
  CatchUpLocked(vcpu, t, now);
  t.open = Append(vcpu, /*instruction=*/true);
}

void ExecutionLog::BeforeStore(int vcpu, uint64_t gva, const uint8_t* old_bytes, uint64_t len) {
  absl::MutexLock lock(&mu_);
  VcpuTrack& t = vcpus_[vcpu];
  // Before its first instruction since the history began, a vCPU's stores are part of where
  // the history begins.
  if (!t.before) return;
  if (!t.open) t.open = Append(vcpu, /*instruction=*/false);
  if (Entry* e = At(*t.open)) {
    e->stores.push_back(Store{gva, std::string(reinterpret_cast<const char*>(old_bytes), len)});
  }
}

void ExecutionLog::BeforeGuestWrite(uint64_t gva, uint64_t len) {
  const int vcpu = t_bound_vcpu;
  if (vcpu < 0) return;
  std::string old(len, '\0');
  old.resize(memory_.ReadIgnoringProt(gva, old.data(), len));
  if (!old.empty()) {
    BeforeStore(vcpu, gva, reinterpret_cast<const uint8_t*>(old.data()), old.size());
  }
}

void ExecutionLog::Clear() {
  absl::MutexLock lock(&mu_);
  first_seq_ += log_.size();
  log_.clear();
  done_end_ = first_seq_;
  vcpus_.clear();
}

void ExecutionLog::Sync(int vcpu, const Regs& regs, const FpuRegs& fpu) {
  const CpuWords now = CpuWords::From(regs, fpu);
  absl::MutexLock lock(&mu_);
  CatchUpLocked(vcpu, vcpus_[vcpu], now);
}

absl::Status ExecutionLog::Swap(Entry& e, bool undo, ReplayMachine& machine) {
  const size_t n = e.stores.size();
  for (size_t k = 0; k < n; ++k) {
    Store& s = e.stores[undo ? n - 1 - k : k];
    std::string present(s.bytes.size(), '\0');
    if (machine.ReadMemory(s.gva, present.data(), present.size()) != present.size() ||
        machine.WriteMemory(s.gva, s.bytes.data(), s.bytes.size()) != s.bytes.size()) {
      return absl::DataLossError(absl::StrFormat(
          "recorded guest memory at 0x%x (%d bytes) is no longer mapped", s.gva, s.bytes.size()));
    }
    s.bytes = std::move(present);
  }
  if (e.words.empty()) return absl::OkStatus();
  const bool fpu_changed =
      std::any_of(e.words.begin(), e.words.end(),
                  [](const auto& word) { return word.first >= CpuWords::kGprWords; });
  Regs regs;
  FpuRegs fpu{};
  if (absl::Status st = machine.GetCpu(e.vcpu, &regs, fpu_changed ? &fpu : nullptr); !st.ok()) {
    return st;
  }
  CpuWords c = CpuWords::From(regs, fpu);
  for (auto& [index, value] : e.words) std::swap(c.w[index], value);
  c.To(&regs, &fpu);
  return machine.SetCpu(e.vcpu, regs, fpu_changed ? &fpu : nullptr);
}

absl::StatusOr<std::optional<ExecutionLog::Applied>> ExecutionLog::Undo(ReplayMachine& machine) {
  return Walk(/*undo=*/true, machine);
}

absl::StatusOr<std::optional<ExecutionLog::Applied>> ExecutionLog::Redo(ReplayMachine& machine) {
  return Walk(/*undo=*/false, machine);
}

absl::StatusOr<std::optional<ExecutionLog::Applied>> ExecutionLog::Walk(bool undo,
                                                                        ReplayMachine& machine) {
  for (;;) {
    // The entry is taken out while it is applied: the machine's vCPUs report to the log under
    // their own locks, so the log's lock is never held while calling into them.
    Entry e;
    uint64_t seq;
    {
      absl::MutexLock lock(&mu_);
      const uint64_t end = first_seq_ + log_.size();
      if (undo ? done_end_ == first_seq_ : done_end_ == end) return std::optional<Applied>();
      seq = undo ? done_end_ - 1 : done_end_;
      e = std::move(*At(seq));
    }
    absl::Status s = Swap(e, undo, machine);
    Applied a{e.vcpu, e.instruction, {}};
    for (const Store& st : e.stores) a.stores.emplace_back(st.gva, st.bytes.size());
    const bool empty = e.empty();
    {
      absl::MutexLock lock(&mu_);
      Entry* slot = At(seq);
      if (slot == nullptr) {
        return absl::AbortedError("the recording began again while it was being replayed");
      }
      *slot = std::move(e);
      if (s.ok()) done_end_ = undo ? seq : seq + 1;
    }
    if (!s.ok()) return s;
    if (!empty) return std::optional<Applied>(std::move(a));
  }
}

uint64_t ExecutionLog::entries() const {
  absl::MutexLock lock(&mu_);
  return log_.size();
}

uint64_t ExecutionLog::undone() const {
  absl::MutexLock lock(&mu_);
  return first_seq_ + log_.size() - done_end_;
}

}  // namespace km
