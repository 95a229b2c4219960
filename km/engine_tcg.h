// The tcg engine: guest code runs on Unicorn 2 (QEMU's TCG as a library), one uc_engine per
// vCPU, every uc_engine mapping the same host memory at the same guest addresses. Only one vCPU
// executes at a time (see ExecLock); km serves syscalls outside that lock.
//
// Costs, measured with Unicorn 2.0.1 on the development machines:
// - Exact rips for ordinary loads and stores need a memory hook to exist (see IgnoreAccess in
//   engine_tcg_vcpu.cc): load-heavy loops run ~6-8x slower, store-heavy ones ~15%.
// - Preemption and stop requests: a block hook, ~1.4 ns per translated block.
// - While data watchpoints are set, a hook runs before every instruction: register-only loops
//   run ~20x slower, memory-heavy ones ~1.2x.
// - Faults in SSE, x87, atomic and helper-based accesses are located after the fact by dry runs
//   (FaultLocator): ~20 ms for the first fault (it opens a second uc_engine), ~0.5 ms after.
// Differences from a Linux process on KVM that remain:
// - The guest runs at CPL0: privileged instructions (cli, mov to/from cr*, wrmsr) execute
//   instead of faulting; in/out and int n (n other than 3 and 4) are reported as #GP.
// - No AVX (caps().avx is false); SSE alignment (movaps on an unaligned address) is not checked.
// - A store by one vCPU into code another vCPU has translated is not noticed (code written by
//   km from outside is: WriteCode, CodeModified).
// - A step over a software breakpoint (Vcpu::StepOverBreakpoint) is atomic: the original byte
//   is in memory only while the stepping vCPU holds the execution lock and code_mu().
// - See FaultLocator for the faults whose block runs on before they are reported.
// - While recording (SetRecorder), a hook before every instruction reads the whole register
//   state (general, x87, SSE) and a hook before every store reads the bytes it overwrites.
#pragma once

#include <unicorn/unicorn.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "km/engine.h"
#include "km/engine_tcg_exec_lock.h"
#include "km/engine_tcg_fault_locator.h"
#include "km/engine_tcg_regions.h"

namespace km::tcg {

class TcgVcpu;

class TcgEngine final : public Engine {
 public:
  explicit TcgEngine(const PhysicalMemory& phys);
  // Every vCPU must be destroyed first.
  ~TcgEngine() override;

  std::string_view name() const override { return "tcg"; }
  EngineCaps caps() const override;
  absl::Status MapRegion(uint64_t gva, uint64_t size, uint64_t gpa, uint32_t prot) override;
  absl::Status UnmapRegion(uint64_t gva, uint64_t size) override;
  absl::Status ProtectRegion(uint64_t gva, uint64_t size, uint32_t prot) override;
  void CodeModified(uint64_t gva, uint64_t size) override;
  void WriteCode(uint64_t gva, uint64_t size, absl::FunctionRef<void()> write) override;
  absl::StatusOr<std::unique_ptr<Vcpu>> CreateVcpu(int id) override;
  absl::Status SetRecorder(ExecutionRecorder* recorder) override;
  void AfterForkInChild(Vcpu& survivor) override;
  ExecutionRecorder* recorder() const { return recorder_.load(std::memory_order_acquire); }

  ExecLock& exec_lock() { return exec_lock_; }
  // Held by WriteCode around km's stores into guest code, and by a vCPU (which also holds the
  // execution lock) for a step over a breakpoint: the original byte is in memory only then.
  absl::Mutex& code_mu() { return code_mu_; }
  absl::Mutex& regions_mu() ABSL_LOCK_RETURNED(mu_) { return mu_; }
  // Drops uc's translations of code in [gva, gva + size), or of all code. Unicorn decides while
  // translating a block whether it calls instruction hooks, so adding or removing one needs
  // this. (Unicorn's own full flush, UC_CTL_TB_FLUSH, takes 50 ms, and 2 s the first time.)
  void InvalidateCodeLocked(uc_engine* uc, uint64_t gva, uint64_t size)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void InvalidateAllCodeLocked(uc_engine* uc) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // See FaultLocator::Locate. Called with the execution lock held.
  std::optional<uint64_t> LocateFault(const Regs& regs, uint64_t from, uint64_t end,
                                      const FaultLocator::Fault& fault);
  void DetachVcpu(TcgVcpu* vcpu);

 private:
  // Every uc_engine mirroring the address space, with the protection mask it gets.
  struct Mirror {
    uc_engine* uc;
    absl::Mutex* mu;  // nullptr for the fault locator, which only the lock holder uses
    uint32_t prot_mask;
  };
  std::vector<Mirror> MirrorsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Maps every region into a new vCPU and starts mirroring changes into it.
  absl::Status AttachVcpu(TcgVcpu* vcpu);

  const PhysicalMemory phys_;
  ExecLock exec_lock_;
  absl::Mutex code_mu_;
  absl::Mutex mu_;
  RegionTable regions_ ABSL_GUARDED_BY(mu_);
  std::vector<TcgVcpu*> vcpus_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<FaultLocator> locator_ ABSL_GUARDED_BY(mu_);  // created at the first fault
  std::atomic<ExecutionRecorder*> recorder_{nullptr};
};

}  // namespace km::tcg
