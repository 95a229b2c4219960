#include "km/engine_tcg_fault_locator.h"

#include "absl/strings/str_format.h"
#include "km/engine_tcg_regs.h"
#include "km/engine_tcg_uc.h"

namespace km::tcg {
namespace {

// QEMU ends a translated block after at most 512 instructions.
constexpr int kMaxBlockInstructions = 512;

void StopEmulation(uc_engine* uc, uint32_t, void*) { uc_emu_stop(uc); }
void StopAtSyscall(uc_engine* uc, void*) { uc_emu_stop(uc); }

}  // namespace

absl::StatusOr<std::unique_ptr<FaultLocator>> FaultLocator::Create(
    const PhysicalMemory& phys, const std::vector<TcgRegion>& regions) {
  uc_engine* uc = nullptr;
  if (absl::Status s = UcStatus(uc_open(UC_ARCH_X86, UC_MODE_64, &uc), "uc_open (fault locator)");
      !s.ok()) {
    return s;
  }
  uc_context* pristine = nullptr;
  if (absl::Status s = UcStatus(uc_context_alloc(uc, &pristine), "uc_context_alloc"); !s.ok()) {
    uc_close(uc);
    return s;
  }
  std::unique_ptr<FaultLocator> locator(new FaultLocator(uc, pristine));
  if (absl::Status s = locator->InstallHooks(); !s.ok()) return s;
  if (absl::Status s = WriteInitialState(uc); !s.ok()) return s;
  if (absl::Status s = UcStatus(uc_context_save(uc, pristine), "uc_context_save"); !s.ok()) {
    return s;
  }
  for (const TcgRegion& r : regions) {
    if (absl::Status s =
            UcStatus(uc_mem_map_ptr(uc, r.gva, r.size, MirrorProt(r.prot), phys.host + r.gpa),
                     absl::StrFormat("uc_mem_map_ptr %#x+%#x (fault locator)", r.gva, r.size));
        !s.ok()) {
      return s;
    }
  }
  return locator;
}

FaultLocator::~FaultLocator() {
  uc_context_free(pristine_);
  uc_close(uc_);
}

absl::Status FaultLocator::InstallHooks() {
  uc_hook h;
  struct {
    int type;
    void* callback;
    uint64_t begin, end;
    int insn;
  } const hooks[] = {
      {UC_HOOK_CODE, HookCallback(&OnInstruction), 1, 0, -1},
      {UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE, HookCallback(&OnAccess), 1, 0, -1},
      {UC_HOOK_MEM_INVALID, HookCallback(&OnInvalidAccess), 1, 0, -1},
      {UC_HOOK_INTR, HookCallback(&StopEmulation), 1, 0, -1},
      {UC_HOOK_INSN, HookCallback(&StopAtSyscall), 1, 0, UC_X86_INS_SYSCALL},
      {UC_HOOK_INSN, HookCallback(&OnPortIn), 1, 0, UC_X86_INS_IN},
      {UC_HOOK_INSN, HookCallback(&OnPortOut), 1, 0, UC_X86_INS_OUT},
  };
  for (const auto& hook : hooks) {
    const uc_err err =
        hook.insn < 0
            ? uc_hook_add(uc_, &h, hook.type, hook.callback, this, hook.begin, hook.end)
            : uc_hook_add(uc_, &h, hook.type, hook.callback, this, hook.begin, hook.end, hook.insn);
    if (absl::Status s = UcStatus(err, "uc_hook_add (fault locator)"); !s.ok()) return s;
  }
  return absl::OkStatus();
}

void FaultLocator::OnInstruction(uc_engine*, uint64_t, uint32_t size, void* user) {
  auto* self = static_cast<FaultLocator*>(user);
  if (self->insn_size_ == 0) self->insn_size_ = size;
}

void FaultLocator::OnAccess(uc_engine*, uc_mem_type type, uint64_t address, int size, int64_t,
                            void* user) {
  static_cast<FaultLocator*>(user)->accesses_.push_back(
      Access{type == UC_MEM_WRITE ? Fault::Kind::kWrite : Fault::Kind::kRead, address, size});
}

bool FaultLocator::OnInvalidAccess(uc_engine*, uc_mem_type type, uint64_t address, int size,
                                   int64_t, void* user) {
  if (type == UC_MEM_FETCH_UNMAPPED || type == UC_MEM_FETCH_PROT) return false;
  const bool write = type == UC_MEM_WRITE_UNMAPPED || type == UC_MEM_WRITE_PROT;
  static_cast<FaultLocator*>(user)->accesses_.push_back(
      Access{write ? Fault::Kind::kWrite : Fault::Kind::kRead, address, size});
  return false;
}

uint32_t FaultLocator::OnPortIn(uc_engine* uc, uint32_t, int, void* user) {
  static_cast<FaultLocator*>(user)->accesses_.push_back(Access{Fault::Kind::kPortIo, 0, 0});
  uc_emu_stop(uc);
  return 0;
}

void FaultLocator::OnPortOut(uc_engine* uc, uint32_t, int, uint32_t, void* user) {
  static_cast<FaultLocator*>(user)->accesses_.push_back(Access{Fault::Kind::kPortIo, 0, 0});
  uc_emu_stop(uc);
}

uint32_t FaultLocator::DryRun(const Regs& regs, uint64_t addr) {
  insn_size_ = 0;
  accesses_.clear();
  // A clean CPU each time: an earlier dry run may have left an exception in flight or changed
  // x87 state.
  if (uc_context_restore(uc_, pristine_) != UC_ERR_OK) return 0;
  Regs at = regs;
  at.rip = addr;
  if (!WriteRegs(uc_, at).ok()) return 0;
  uc_emu_start(uc_, addr, kNoUntil, 0, 1);
  return insn_size_;
}

std::optional<uint64_t> FaultLocator::Locate(const Regs& regs, uint64_t from, uint64_t end,
                                             const Fault& fault) {
  uint64_t addr = from;
  for (int i = 0; i < kMaxBlockInstructions && addr < end; ++i) {
    const uint32_t size = DryRun(regs, addr);
    for (const Access& a : accesses_) {
      if (a.kind != fault.kind) continue;
      if (a.kind == Fault::Kind::kPortIo ||
          (fault.addr >= a.addr && fault.addr - a.addr < static_cast<uint64_t>(a.size))) {
        return addr;
      }
    }
    if (size == 0) break;
    addr += size;
  }
  return std::nullopt;
}

}  // namespace km::tcg
