// The record reverse execution walks. While an engine records (Engine::SetRecorder) and km's
// own stores into the guest are observed (GuestMemory::SetWriteObserver), the log keeps, for
// each instruction in the order instructions ran (one vCPU runs at a time on an engine that
// records), the register words and guest bytes it changed, with their values before it: a
// syscall's results, a signal frame and a fault's redirection count as part of the instruction
// that led to them. Undoing an entry swaps those values with the present ones, which leaves the
// entry holding the values after it, so that redoing it is the same swap (gdb's record-full
// does the same). Nothing outside registers and guest memory is recorded: files written, the
// signal mask, threads started. So the log begins again (Clear) whenever a thread starts or
// exits or memory is unmapped or reprotected.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "km/engine.h"
#include "km/guest_memory.h"
#include "km/regs.h"

namespace km {

// A vCPU's registers as the log compares and restores them: the general registers, rip,
// rflags, fs_base and gs_base, then the whole FpuRegs image.
struct CpuWords {
  static constexpr int kGprWords = 20;
  static constexpr int kFpuWords = (sizeof(FpuRegs) + 7) / 8;
  static constexpr int kWords = kGprWords + kFpuWords;
  uint64_t w[kWords] = {};

  static CpuWords From(const Regs& regs, const FpuRegs& fpu);
  // Leaves the segment selectors in *regs as they are.
  void To(Regs* regs, FpuRegs* fpu) const;
};

// The stopped machine an undo or redo changes.
class ReplayMachine {
 public:
  virtual ~ReplayMachine() = default;
  // fpu nullptr: the FPU state is not wanted (reading it costs as much as the rest).
  virtual absl::Status GetCpu(int vcpu, Regs* regs, FpuRegs* fpu) = 0;
  // fpu nullptr: the FPU state is unchanged.
  virtual absl::Status SetCpu(int vcpu, const Regs& regs, const FpuRegs* fpu) = 0;
  // Both return how many bytes were copied (short at the first unmapped byte).
  virtual uint64_t ReadMemory(uint64_t gva, void* dst, uint64_t len) = 0;
  virtual uint64_t WriteMemory(uint64_t gva, const void* src, uint64_t len) = 0;
};

class ExecutionLog final : public ExecutionRecorder, public GuestWriteObserver {
 public:
  // Keeps at most max_entries entries, dropping the oldest.
  ExecutionLog(const GuestMemory& memory, uint64_t max_entries);

  // Guest threads call this on their host thread: km's stores into the guest made on this
  // thread (its syscalls, its signal deliveries) belong to this vCPU's instructions.
  static void BindCurrentThread(int vcpu);

  void BeforeInstruction(int vcpu, const Regs& regs, const FpuRegs& fpu) override;
  void BeforeStore(int vcpu, uint64_t gva, const uint8_t* old_bytes, uint64_t len) override;
  void BeforeGuestWrite(uint64_t gva, uint64_t len) override;
  void BeforeAddressSpaceChange() override { Clear(); }

  // History begins again from the present.
  void Clear();
  // A stopped vCPU's present state: ends its last entry (whose changes are known only once
  // the next instruction begins or now). Every vCPU is synced before an undo or a redo.
  void Sync(int vcpu, const Regs& regs, const FpuRegs& fpu);

  // What one undo or redo changed.
  struct Applied {
    int vcpu = -1;
    // An instruction's changes; false for changes made between instructions (a debugger's
    // write, a syscall finishing after the thread was synced).
    bool instruction = false;
    std::vector<std::pair<uint64_t, uint64_t>> stores;  // gva, length
  };
  // Undoes the newest entry still done; nullopt at the beginning of the history.
  absl::StatusOr<std::optional<Applied>> Undo(ReplayMachine& machine);
  // Redoes the oldest entry undone; nullopt at the end (the present).
  absl::StatusOr<std::optional<Applied>> Redo(ReplayMachine& machine);

  uint64_t entries() const;
  uint64_t undone() const;  // 0: at the present
  uint64_t max_entries() const { return max_entries_; }

 private:
  struct Store {
    uint64_t gva;
    std::string bytes;
  };
  struct Entry {
    int vcpu = -1;
    bool instruction = false;
    std::vector<std::pair<uint16_t, uint64_t>> words;  // index into CpuWords, other value
    std::vector<Store> stores;                         // in the order they happened
    bool empty() const { return words.empty() && stores.empty(); }
  };
  struct VcpuTrack {
    std::optional<CpuWords> before;  // its state when its open entry began, or when synced
    std::optional<uint64_t> open;    // sequence number of the entry still taking changes
  };

  Entry* At(uint64_t seq) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t Append(int vcpu, bool instruction) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends t's open entry with the state now; then t.before is now.
  void CloseLocked(VcpuTrack& t, const CpuWords& now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // As CloseLocked, first logging what changed in t since it was synced, if it had no entry
  // open.
  void CatchUpLocked(int vcpu, VcpuTrack& t, const CpuWords& now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::optional<Applied>> Walk(bool undo, ReplayMachine& machine);
  static absl::Status Swap(Entry& e, bool undo, ReplayMachine& machine);

  const GuestMemory& memory_;
  const uint64_t max_entries_;
  mutable absl::Mutex mu_;
  std::deque<Entry> log_ ABSL_GUARDED_BY(mu_);
  uint64_t first_seq_ ABSL_GUARDED_BY(mu_) = 0;  // sequence number of log_.front()
  uint64_t done_end_ ABSL_GUARDED_BY(mu_) = 0;   // entries before this one are done
  absl::flat_hash_map<int, VcpuTrack> vcpus_ ABSL_GUARDED_BY(mu_);
};

}  // namespace km
