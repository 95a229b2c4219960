// One vCPU of the tcg engine: a Unicorn x86-64 CPU (uc_engine) over the Engine's shared guest
// memory, run under the Engine's execution lock.
#pragma once

#include <unicorn/unicorn.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "km/engine.h"
#include "km/engine_tcg_fault_locator.h"

namespace km::tcg {

class TcgEngine;

inline constexpr int kMaxHwBreakpoints = 32;

class TcgVcpu final : public Vcpu {
 public:
  // Opens the CPU and installs its hooks; the engine then maps its regions into uc().
  static absl::StatusOr<std::unique_ptr<TcgVcpu>> Create(TcgEngine* engine, int id);
  ~TcgVcpu() override;

  int id() const override { return id_; }
  absl::StatusOr<VcpuExit> Run() override;
  void RequestStop() override;
  absl::Status GetRegs(Regs* regs) override;
  absl::Status SetRegs(const Regs& regs) override;
  absl::Status GetFpu(FpuRegs* fpu) override;
  absl::Status SetFpu(const FpuRegs& fpu) override;
  absl::Status SetSingleStep(bool on) override;
  absl::Status SetHwBreakpoints(const std::vector<uint64_t>& addrs) override;
  absl::Status SetWatchpoints(const std::vector<Watchpoint>& watchpoints) override;
  void SkipBreakpointOnce() override;
  absl::Status StepOverBreakpoint(uint64_t addr, uint8_t original) override;

  uc_engine* uc() { return uc_; }
  // Guards uc_ against use from two host threads (Unicorn is not thread-safe per engine). Lock
  // order: the Engine's execution lock, then its region mutex, then this.
  absl::Mutex& uc_mu() { return uc_mu_; }

 private:
  // An event whose instruction still has to be located (see FaultLocator).
  struct PendingFault {
    uint64_t block;  // start of the translated block that was running
    FaultLocator::Fault fault;
  };
  // What one uc_emu_start ended with; no exit means "run again" (preempted).
  struct Slice {
    std::optional<VcpuExit> exit;
    std::optional<PendingFault> fault;
  };
  struct StepOver {
    uint64_t addr;
    uint8_t original;
  };
  struct WatchHit {
    uint64_t addr;
    WatchKind kind;
  };
  struct WatchHook {
    TcgVcpu* vcpu;
    Watchpoint wp;
    uc_hook hook = 0;
  };

  TcgVcpu(TcgEngine* engine, int id, uc_engine* uc) : engine_(engine), id_(id), uc_(uc) {}
  absl::Status InstallHooks();
  // One pass under the execution lock: a slice of guest execution and what its exit needs.
  absl::StatusOr<Slice> RunHoldingLock();
  absl::StatusOr<Slice> RunSlice() ABSL_EXCLUSIVE_LOCKS_REQUIRED(uc_mu_);
  // Makes sure the block at rip calls the step hook (see SetSingleStep).
  void PrepareStepLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(uc_mu_);
  // Installs or removes the recording hooks to match the engine's recorder.
  absl::Status FollowRecorderLocked(ExecutionRecorder* recorder)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(uc_mu_);
  // Takes the pending step-over request: puts the original byte in place of the int3 at rip
  // for the coming step (after PrepareStepLocked, so the step translates it afresh), holding
  // the engine's code_mu() until EndStepOverLocked. Returns what to put back, if it did. Sets
  // *busy, keeping the request, if km is writing guest code: the execution lock must not wait
  // for that (see TcgEngine::WriteCode), so the caller lets go of it and comes back.
  std::optional<StepOver> BeginStepOverLocked(bool* busy) ABSL_EXCLUSIVE_LOCKS_REQUIRED(uc_mu_);
  void EndStepOverLocked(const StepOver& over) ABSL_EXCLUSIVE_LOCKS_REQUIRED(uc_mu_);
  absl::StatusOr<Slice> ExitFromError(uc_err err, uint64_t start_rip)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(uc_mu_);
  VcpuExit ExitFromInterrupt() ABSL_EXCLUSIVE_LOCKS_REQUIRED(uc_mu_);
  // Moves rip to the instruction that took fault (which has not run).
  absl::Status LocateFault(const PendingFault& fault);
  bool IsBreakpoint(uint64_t addr) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(uc_mu_);
  uint64_t Rip() ABSL_EXCLUSIVE_LOCKS_REQUIRED(uc_mu_);
  int ByteAt(uint64_t addr) ABSL_EXCLUSIVE_LOCKS_REQUIRED(uc_mu_);
  VcpuExit TakeStop();
  void StopForWatch();

  static void OnBlock(uc_engine* uc, uint64_t address, uint32_t size, void* user);
  static void OnSyscall(uc_engine* uc, void* user);
  static void OnInterrupt(uc_engine* uc, uint32_t intno, void* user);
  static bool OnInvalidMemory(uc_engine* uc, uc_mem_type type, uint64_t address, int size,
                              int64_t value, void* user);
  static uint32_t OnPortIn(uc_engine* uc, uint32_t port, int size, void* user);
  static void OnPortOut(uc_engine* uc, uint32_t port, int size, uint32_t value, void* user);
  static void OnBreakpoint(uc_engine* uc, uint64_t address, uint32_t size, void* user);
  static void OnStep(uc_engine* uc, uint64_t address, uint32_t size, void* user);
  static void OnInstructionBoundary(uc_engine* uc, uint64_t address, uint32_t size, void* user);
  static void OnRecordedInstruction(uc_engine* uc, uint64_t address, uint32_t size, void* user);
  static void OnRecordedStore(uc_engine* uc, uc_mem_type type, uint64_t address, int size,
                              int64_t value, void* user);
  static void OnWatchedAccess(uc_engine* uc, uc_mem_type type, uint64_t address, int size,
                              int64_t value, void* user);

  TcgEngine* const engine_;
  const int id_;
  uc_engine* const uc_;
  absl::Mutex uc_mu_;
  // kAttention* bits; read by the block hook, set from any thread.
  std::atomic<uint32_t> attention_{0};

  // Debug settings, changed only outside Run().
  bool single_step_ ABSL_GUARDED_BY(uc_mu_) = false;
  uc_hook step_hook_ ABSL_GUARDED_BY(uc_mu_) = 0;
  // Pages whose translations were dropped since single-step went on (see PrepareStepLocked).
  std::set<uint64_t> step_pages_ ABSL_GUARDED_BY(uc_mu_);
  bool skip_once_ ABSL_GUARDED_BY(uc_mu_) = false;
  std::optional<StepOver> step_over_ ABSL_GUARDED_BY(uc_mu_);
  std::vector<std::pair<uint64_t, uc_hook>> breakpoints_ ABSL_GUARDED_BY(uc_mu_);
  std::vector<std::unique_ptr<WatchHook>> watches_ ABSL_GUARDED_BY(uc_mu_);
  uc_hook boundary_hook_ ABSL_GUARDED_BY(uc_mu_) = 0;
  // The recorder this vCPU's hooks report to, and those hooks (see FollowRecorderLocked).
  ExecutionRecorder* recorder_ ABSL_GUARDED_BY(uc_mu_) = nullptr;
  uc_hook record_insn_hook_ ABSL_GUARDED_BY(uc_mu_) = 0;
  uc_hook record_store_hook_ ABSL_GUARDED_BY(uc_mu_) = 0;

  // What hooks record during one uc_emu_start (read and written only by the thread in Run()).
  std::optional<VcpuExit> exit_;
  std::optional<WatchHit> watch_hit_;
  std::optional<uint32_t> intno_;
  uint64_t slice_rip_ = 0;
  int step_insns_ = 0;  // instructions begun in this single step
  uint64_t block_ = 0;
  uint64_t fault_addr_ = 0;
  std::optional<uint64_t> port_io_block_;  // set by in/out
  bool preempted_ = false;
};

}  // namespace km::tcg
