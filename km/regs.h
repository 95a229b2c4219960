// The x86-64 register state of one vCPU, as km and its debug service see it, independent of the
// engine that runs the vCPU.
#pragma once

#include <cstdint>

namespace km {

struct Regs {
  uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
  uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
  uint64_t rip, rflags;
  uint16_t cs, ss, ds, es, fs, gs;
  uint64_t fs_base, gs_base;
};

// x87, SSE and the upper halves of the AVX registers, laid out the way gdb's amd64 target
// description names them.
struct FpuRegs {
  uint8_t st[8][10];  // 80-bit x87 registers, physical order st0..st7 as FXSAVE stores them
  uint16_t fcw, fsw;
  uint16_t ftw;  // full 16-bit tag word (2 bits per register), not FXSAVE's abridged byte
  uint16_t fop;
  uint32_t fiseg, fioff, foseg, fooff;
  uint32_t mxcsr;
  uint8_t xmm[16][16];
  uint8_t ymmh[16][16];  // bits 128..255 of ymm0..15; zero where the engine has no AVX
};

// Linux's initial x87/SSE control state for a new process.
inline constexpr uint16_t kInitialFcw = 0x37f;
inline constexpr uint32_t kInitialMxcsr = 0x1f80;

}  // namespace km
