#include "km/engine_tcg_exception_state.h"

#include <cstring>
#include <optional>

#include "km/engine_tcg_uc.h"

namespace km::tcg {
namespace {

constexpr uint64_t kProbeCode = 0x1000;

void StopOnInterrupt(uc_engine* uc, uint32_t intno, void* user) {
  *static_cast<int64_t*>(user) = intno;
  uc_emu_stop(uc);
}

// Runs `div rcx` with rcx = 0 and returns the vector the hook saw.
int64_t RaiseDivideError(uc_engine* uc) {
  int64_t intno = -1;
  uc_hook hook;
  if (uc_hook_add(uc, &hook, UC_HOOK_INTR, HookCallback(&StopOnInterrupt), &intno, 1, 0) !=
      UC_ERR_OK) {
    return -1;
  }
  const uint64_t zero = 0;
  uc_reg_write(uc, UC_X86_REG_RCX, &zero);
  uc_emu_start(uc, kProbeCode, kNoUntil, 0, 1);
  uc_hook_del(uc, hook);
  return intno;
}

struct Context {
  explicit Context(uc_engine* uc) : size(uc_context_size(uc)) {
    if (uc_context_alloc(uc, &ctx) != UC_ERR_OK) ctx = nullptr;
  }
  ~Context() {
    if (ctx != nullptr) uc_context_free(ctx);
  }
  uint8_t* bytes() { return reinterpret_cast<uint8_t*>(ctx); }
  uc_context* ctx = nullptr;
  size_t size;
};

// The offset of QEMU's "exception in flight" field within a uc_context: a 32-bit field that
// holds -1 on a fresh CPU and 0 after a #DE, and whose reset to -1 makes the next #DE arrive as
// vector 0 again.
std::optional<size_t> FindOffsetOn(uc_engine* uc) {
  const uint8_t div_rcx[] = {0x48, 0xf7, 0xf1};
  Context before(uc), after(uc), trial(uc);
  if (before.ctx == nullptr || after.ctx == nullptr || trial.ctx == nullptr ||
      uc_mem_map(uc, kProbeCode, 0x1000, UC_PROT_READ | UC_PROT_EXEC) != UC_ERR_OK ||
      uc_mem_write(uc, kProbeCode, div_rcx, sizeof(div_rcx)) != UC_ERR_OK ||
      uc_context_save(uc, before.ctx) != UC_ERR_OK || RaiseDivideError(uc) != 0 ||
      uc_context_save(uc, after.ctx) != UC_ERR_OK) {
    return std::nullopt;
  }
  for (size_t off = 0; off + 4 <= before.size; off += 4) {
    int32_t was, is;
    std::memcpy(&was, before.bytes() + off, 4);
    std::memcpy(&is, after.bytes() + off, 4);
    if (was != -1 || is != 0) continue;
    std::memcpy(trial.bytes(), after.bytes(), after.size);
    std::memcpy(trial.bytes() + off, &was, 4);
    if (uc_context_restore(uc, trial.ctx) == UC_ERR_OK && RaiseDivideError(uc) == 0) return off;
  }
  return std::nullopt;
}

std::optional<size_t> FindOffset() {
  uc_engine* uc = nullptr;
  if (uc_open(UC_ARCH_X86, UC_MODE_64, &uc) != UC_ERR_OK) return std::nullopt;
  std::optional<size_t> offset = FindOffsetOn(uc);
  uc_close(uc);
  return offset;
}

}  // namespace

bool IsContributoryOrPageFault(uint32_t vector) {
  return vector == 0 || vector == 8 || (vector >= 10 && vector <= 14);
}

void ClearExceptionInFlight(uc_engine* uc) {
  static const std::optional<size_t> offset = FindOffset();
  if (!offset) return;
  Context ctx(uc);
  if (ctx.ctx == nullptr || *offset + 4 > ctx.size) return;
  if (uc_context_save(uc, ctx.ctx) != UC_ERR_OK) return;
  const int32_t none = -1;
  std::memcpy(ctx.bytes() + *offset, &none, 4);
  uc_context_restore(uc, ctx.ctx);
}

}  // namespace km::tcg
