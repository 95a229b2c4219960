// The x87/SSE/AVX state as the hardware saves it (FXSAVE's 512-byte image, then XSAVE's header
// and AVX area): the form a signal frame, a core file's NT_PRFPREG and NT_X86_XSTATE notes, and
// ptrace hand out. FpuRegs is km's own form.
#pragma once

#include <cstddef>
#include <cstdint>

#include "km/regs.h"

namespace km {

struct FpuImage {
  uint16_t fcw, fsw;
  uint8_t ftw;  // abridged: one bit per physical register, set if not empty
  uint8_t reserved1;
  uint16_t fop;
  uint32_t fioff, fiseg, fooff, foseg;
  uint32_t mxcsr, mxcsr_mask;
  uint8_t st[8][16];
  uint8_t xmm[16][16];
  uint8_t reserved2[48];
  // Software-reserved bytes: a signal frame's fx_sw_bytes (magic1...), a core's or ptrace's
  // XCR0 (in the first 8 bytes). The hardware leaves them alone.
  uint32_t magic1, extended_size;
  uint64_t xfeatures;
  uint32_t xstate_size;
  uint32_t reserved3[7];
  // XSAVE header and the AVX state component (ymm0..15, bits 128..255).
  uint64_t xstate_bv, xcomp_bv;
  uint8_t header_reserved[48];
  uint8_t ymmh[16][16];
};
static_assert(offsetof(FpuImage, magic1) == 464 && offsetof(FpuImage, xstate_bv) == 512);

// Where Linux puts XCR0 in an NT_X86_XSTATE (or ptrace) image: gdb learns from it which state
// is present.
inline constexpr size_t kXstateXcr0Offset = offsetof(FpuImage, magic1);
static_assert(offsetof(FpuImage, ymmh) == 576 && sizeof(FpuImage) == 832);

inline constexpr uint64_t kFxsaveSize = 512;
inline constexpr uint64_t kXsaveSize = sizeof(FpuImage);
// XCR0's (and xstate_bv's) bits for the components km knows: x87, SSE, AVX.
inline constexpr uint64_t kXfeaturesX87SseAvx = 0x7;

// The image of fpu; with avx, also the XSAVE header (x87, SSE and AVX present) and the ymm
// upper halves. The software-reserved bytes are left zero for the caller.
FpuImage ToFpuImage(const FpuRegs& fpu, bool avx);
// Back from an image; with_ymmh: its AVX area is valid.
FpuRegs FromFpuImage(const FpuImage& img, bool with_ymmh);

}  // namespace km
