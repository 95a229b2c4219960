// TcgVcpu's execution recording: the hooks that report every instruction and every guest
// store to the engine's ExecutionRecorder (see Engine::SetRecorder).
#include <vector>

#include "absl/strings/str_format.h"
#include "km/engine_tcg.h"
#include "km/engine_tcg_regs.h"
#include "km/engine_tcg_uc.h"
#include "km/engine_tcg_vcpu.h"

namespace km::tcg {

absl::Status TcgVcpu::FollowRecorderLocked(ExecutionRecorder* recorder) {
  if (record_insn_hook_ != 0) {
    uc_hook_del(uc_, record_insn_hook_);
    uc_hook_del(uc_, record_store_hook_);
    record_insn_hook_ = record_store_hook_ = 0;
  }
  recorder_ = recorder;
  if (recorder != nullptr) {
    if (absl::Status s = UcStatus(uc_hook_add(uc_, &record_insn_hook_, UC_HOOK_CODE,
                                              HookCallback(&OnRecordedInstruction), this, 1, 0),
                                  absl::StrFormat("vcpu %d: recording hook", id_));
        !s.ok()) {
      return s;
    }
    if (absl::Status s = UcStatus(uc_hook_add(uc_, &record_store_hook_, UC_HOOK_MEM_WRITE,
                                              HookCallback(&OnRecordedStore), this, 1, 0),
                                  absl::StrFormat("vcpu %d: recording hook", id_));
        !s.ok()) {
      return s;
    }
  }
  // Blocks translated before lack the instruction hook's calls, and those translated while
  // recording would go on calling it.
  engine_->InvalidateAllCodeLocked(uc_);
  return absl::OkStatus();
}

void TcgVcpu::OnRecordedInstruction(uc_engine* uc, uint64_t, uint32_t, void* user) {
  auto* self = static_cast<TcgVcpu*>(user);
  Regs regs;
  FpuRegs fpu;
  if (!ReadRegs(uc, &regs).ok() || !ReadFpu(uc, &fpu).ok()) return;
  self->recorder_->BeforeInstruction(self->id_, regs, fpu);
}

void TcgVcpu::OnRecordedStore(uc_engine* uc, uc_mem_type, uint64_t address, int size, int64_t,
                              void* user) {
  auto* self = static_cast<TcgVcpu*>(user);
  if (size <= 0) return;
  uint8_t small[64];
  std::vector<uint8_t> large;
  uint8_t* old = small;
  if (static_cast<size_t>(size) > sizeof small) {
    large.resize(size);
    old = large.data();
  }
  // An unmapped or read-only destination faults before storing anything.
  if (uc_mem_read(uc, address, old, size) != UC_ERR_OK) return;
  self->recorder_->BeforeStore(self->id_, address, old, static_cast<uint64_t>(size));
}

}  // namespace km::tcg
