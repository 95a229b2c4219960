// Finds the instruction that took a data fault (or did port I/O) when Unicorn's rip cannot be
// trusted.
//
// Unicorn 2.0.1 reports an exact rip for a memory fault only when the faulting access goes
// through QEMU's ordinary integer load/store path, which stores rip first whenever a memory hook
// exists. SSE, x87, lock-prefixed, xchg and fxsave accesses do not: their faults report whatever
// rip was stored last, possibly the start of an earlier (chained) translated block, while every
// instruction before the faulting one has already run. What we do know: the translated block
// being executed (its start, from the block hook) and the CPU state just before the faulting
// instruction (the state now). So each instruction of that block, from the last point where rip
// was exact, is dry-run on a scratch CPU whose memory mirrors the guest's without write
// permission (nothing it does is visible), with the current registers; the first whose accesses
// reproduce the fault is the faulting instruction.
//
// The one ambiguous case: an earlier instruction of the block whose address registers were
// changed afterwards so that, evaluated now, it would touch the faulting address too (for
// example `movups (%rsi),%xmm0; add $16,%rsi; movups (%rsi),%xmm1` faulting in the second
// load). The earlier one is reported then.
//
// Two kinds of event do not even stop the block where they happen; the rest of the block runs
// before Unicorn reports them, so rip is right but the registers already hold the effects of
// the instructions that followed: a fault in an access made from inside a QEMU helper (fxsave,
// xsave, fxrstor, xrstor, fnsave, frstor, fnstenv, fldenv, cmpxchg16b) and in/out.
#pragma once

#include <unicorn/unicorn.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "km/engine.h"
#include "km/engine_tcg_regions.h"

namespace km::tcg {

class FaultLocator {
 public:
  // Mirrors regions (host bytes at phys.host + gpa).
  static absl::StatusOr<std::unique_ptr<FaultLocator>> Create(
      const PhysicalMemory& phys, const std::vector<TcgRegion>& regions);
  ~FaultLocator();
  FaultLocator(const FaultLocator&) = delete;
  FaultLocator& operator=(const FaultLocator&) = delete;

  // The scratch CPU, for keeping its mirror in step with the guest's address space; map it with
  // MirrorProt().
  uc_engine* uc() { return uc_; }
  static uint32_t MirrorProt(uint32_t prot) { return prot & (kProtRead | kProtExec); }

  struct Fault {
    enum class Kind { kRead, kWrite, kPortIo };
    Kind kind;
    uint64_t addr;  // kRead, kWrite
  };
  // The address of the first instruction in [from, end) that, run with regs, reproduces fault
  // (accesses fault.addr in that direction, or does port I/O); nullopt if none does. The caller
  // drops uc()'s translations of [from, end) first: the guest's code may have changed.
  std::optional<uint64_t> Locate(const Regs& regs, uint64_t from, uint64_t end, const Fault& fault);

 private:
  struct Access {
    Fault::Kind kind;
    uint64_t addr;
    int size;
  };
  FaultLocator(uc_engine* uc, uc_context* pristine) : uc_(uc), pristine_(pristine) {}
  absl::Status InstallHooks();
  // Runs the instruction at addr; returns its length (0 if it could not be fetched) and fills
  // accesses_.
  uint32_t DryRun(const Regs& regs, uint64_t addr);

  static void OnInstruction(uc_engine* uc, uint64_t address, uint32_t size, void* user);
  static void OnAccess(uc_engine* uc, uc_mem_type type, uint64_t address, int size, int64_t value,
                       void* user);
  static bool OnInvalidAccess(uc_engine* uc, uc_mem_type type, uint64_t address, int size,
                              int64_t value, void* user);
  static uint32_t OnPortIn(uc_engine* uc, uint32_t port, int size, void* user);
  static void OnPortOut(uc_engine* uc, uint32_t port, int size, uint32_t value, void* user);

  uc_engine* uc_;
  uc_context* pristine_;  // the scratch CPU's state before any dry run
  uint32_t insn_size_ = 0;
  std::vector<Access> accesses_;
};

}  // namespace km::tcg
