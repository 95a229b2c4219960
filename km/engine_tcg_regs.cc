#include "km/engine_tcg_regs.h"

#include <cstring>

#include "km/engine_tcg_uc.h"

namespace km::tcg {
namespace {

constexpr int kGprCount = 20;

// Order matches GprPointers(). Not const: Unicorn's batch calls take int*.
int kGprIds[kGprCount] = {
    UC_X86_REG_RAX, UC_X86_REG_RBX, UC_X86_REG_RCX,    UC_X86_REG_RDX,     UC_X86_REG_RSI,
    UC_X86_REG_RDI, UC_X86_REG_RBP, UC_X86_REG_RSP,    UC_X86_REG_R8,      UC_X86_REG_R9,
    UC_X86_REG_R10, UC_X86_REG_R11, UC_X86_REG_R12,    UC_X86_REG_R13,     UC_X86_REG_R14,
    UC_X86_REG_R15, UC_X86_REG_RIP, UC_X86_REG_RFLAGS, UC_X86_REG_FS_BASE, UC_X86_REG_GS_BASE,
};

void GprPointers(Regs* r, void** out) {
  for (uint64_t* field : {&r->rax, &r->rbx, &r->rcx, &r->rdx,    &r->rsi,     &r->rdi,    &r->rbp,
                          &r->rsp, &r->r8,  &r->r9,  &r->r10,    &r->r11,     &r->r12,    &r->r13,
                          &r->r14, &r->r15, &r->rip, &r->rflags, &r->fs_base, &r->gs_base}) {
    *out++ = field;
  }
}

constexpr uint64_t kRflagsReserved = 0x2;
constexpr uint64_t kRflagsIf = 0x200;

absl::Status Read(uc_engine* uc, int id, void* value, const char* name) {
  return UcStatus(uc_reg_read(uc, id, value), absl::StrCat("reading ", name));
}

absl::Status Write(uc_engine* uc, int id, const void* value, const char* name) {
  return UcStatus(uc_reg_write(uc, id, value), absl::StrCat("writing ", name));
}

}  // namespace

absl::Status ReadRegs(uc_engine* uc, Regs* regs) {
  void* values[kGprCount];
  GprPointers(regs, values);
  if (absl::Status s =
          UcStatus(uc_reg_read_batch(uc, kGprIds, values, kGprCount), "reading general registers");
      !s.ok()) {
    return s;
  }
  regs->rflags |= kRflagsReserved;
  regs->cs = kUserCs;
  regs->ss = kUserSs;
  regs->ds = regs->es = regs->fs = regs->gs = 0;
  return absl::OkStatus();
}

absl::Status WriteRegs(uc_engine* uc, const Regs& regs) {
  Regs copy = regs;
  copy.rflags |= kRflagsReserved;
  void* values[kGprCount];
  GprPointers(&copy, values);
  return UcStatus(uc_reg_write_batch(uc, kGprIds, values, kGprCount), "writing general registers");
}

absl::Status ReadFpu(uc_engine* uc, FpuRegs* fpu) {
  *fpu = FpuRegs{};
  for (int i = 0; i < 8; ++i) {
    // ST(i), i.e. relative to the stack top, as FXSAVE and gdb's st0..st7 order them.
    uint8_t value[16] = {};
    if (absl::Status s = Read(uc, UC_X86_REG_ST0 + i, value, "st(i)"); !s.ok()) return s;
    std::memcpy(fpu->st[i], value, sizeof(fpu->st[i]));
  }
  uint64_t fip = 0, fdp = 0;
  struct {
    int id;
    void* value;
    const char* name;
  } const fields[] = {
      {UC_X86_REG_FPCW, &fpu->fcw, "fcw"},
      {UC_X86_REG_FPSW, &fpu->fsw, "fsw"},
      {UC_X86_REG_FPTAG, &fpu->ftw, "ftw"},
      {UC_X86_REG_FOP, &fpu->fop, "fop"},
      {UC_X86_REG_FIP, &fip, "fip"},
      {UC_X86_REG_FDP, &fdp, "fdp"},
      {UC_X86_REG_MXCSR, &fpu->mxcsr, "mxcsr"},
  };
  for (const auto& f : fields) {
    if (absl::Status s = Read(uc, f.id, f.value, f.name); !s.ok()) return s;
  }
  uint16_t fcs = 0, fds = 0;
  if (absl::Status s = Read(uc, UC_X86_REG_FCS, &fcs, "fcs"); !s.ok()) return s;
  if (absl::Status s = Read(uc, UC_X86_REG_FDS, &fds, "fds"); !s.ok()) return s;
  fpu->fiseg = fcs;
  fpu->fioff = static_cast<uint32_t>(fip);
  fpu->foseg = fds;
  fpu->fooff = static_cast<uint32_t>(fdp);
  for (int i = 0; i < 16; ++i) {
    if (absl::Status s = Read(uc, UC_X86_REG_XMM0 + i, fpu->xmm[i], "xmm"); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status WriteFpu(uc_engine* uc, const FpuRegs& fpu) {
  // The status word carries the stack top, which decides where ST(i) lands: write it first.
  if (absl::Status s = Write(uc, UC_X86_REG_FPSW, &fpu.fsw, "fsw"); !s.ok()) return s;
  if (absl::Status s = Write(uc, UC_X86_REG_FPTAG, &fpu.ftw, "ftw"); !s.ok()) return s;
  for (int i = 0; i < 8; ++i) {
    uint8_t value[16] = {};
    std::memcpy(value, fpu.st[i], sizeof(fpu.st[i]));
    if (absl::Status s = Write(uc, UC_X86_REG_ST0 + i, value, "st(i)"); !s.ok()) return s;
  }
  const uint64_t fip = fpu.fioff, fdp = fpu.fooff;
  const uint16_t fcs = static_cast<uint16_t>(fpu.fiseg), fds = static_cast<uint16_t>(fpu.foseg);
  struct {
    int id;
    const void* value;
    const char* name;
  } const fields[] = {
      {UC_X86_REG_FPCW, &fpu.fcw, "fcw"},      {UC_X86_REG_FOP, &fpu.fop, "fop"},
      {UC_X86_REG_FIP, &fip, "fip"},           {UC_X86_REG_FCS, &fcs, "fcs"},
      {UC_X86_REG_FDP, &fdp, "fdp"},           {UC_X86_REG_FDS, &fds, "fds"},
      {UC_X86_REG_MXCSR, &fpu.mxcsr, "mxcsr"},
  };
  for (const auto& f : fields) {
    if (absl::Status s = Write(uc, f.id, f.value, f.name); !s.ok()) return s;
  }
  for (int i = 0; i < 16; ++i) {
    if (absl::Status s = Write(uc, UC_X86_REG_XMM0 + i, fpu.xmm[i], "xmm"); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status WriteInitialState(uc_engine* uc) {
  const uint16_t fcw = kInitialFcw;
  const uint16_t ftw = 0xffff;  // Unicorn starts with every x87 register tagged valid
  const uint32_t mxcsr = kInitialMxcsr;
  const uint64_t rflags = kRflagsIf | kRflagsReserved;
  if (absl::Status s = Write(uc, UC_X86_REG_FPCW, &fcw, "fcw"); !s.ok()) return s;
  if (absl::Status s = Write(uc, UC_X86_REG_FPTAG, &ftw, "ftw"); !s.ok()) return s;
  if (absl::Status s = Write(uc, UC_X86_REG_MXCSR, &mxcsr, "mxcsr"); !s.ok()) return s;
  return Write(uc, UC_X86_REG_RFLAGS, &rflags, "rflags");
}

}  // namespace km::tcg
