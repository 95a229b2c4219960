#include "km_hooks/gdb_registers.h"

namespace km_hooks {

std::optional<uint64_t> RegisterByGdbNumber(const km::Regs& r, int regnum) {
  const uint64_t gpr[] = {r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp,
                          r.r8,  r.r9,  r.r10, r.r11, r.r12, r.r13, r.r14, r.r15};
  if (regnum >= 0 && regnum < 16) return gpr[regnum];
  switch (regnum) {
    case 16: return r.rip;
    case 17: return r.rflags;
    case 18: return r.cs;
    case 19: return r.ss;
    case 20: return r.ds;
    case 21: return r.es;
    case 22: return r.fs;
    case 23: return r.gs;
    case 58: return r.fs_base;
    case 59: return r.gs_base;
    default: return std::nullopt;
  }
}

}  // namespace km_hooks
