#include "km/runtime/fpu_image.h"

#include <cstring>

namespace km {
namespace {

// x87 tag of a register from its contents: valid 0, zero 1, special 2.
uint16_t ClassifyX87(const uint8_t reg[10]) {
  const unsigned exponent = ((reg[9] & 0x7fu) << 8) | reg[8];
  uint64_t mantissa;
  std::memcpy(&mantissa, reg, sizeof mantissa);
  if (exponent == 0x7fff) return 2;
  if (exponent == 0) return mantissa == 0 ? 1 : 2;
  return (mantissa >> 63) != 0 ? 0 : 2;
}

}  // namespace

FpuImage ToFpuImage(const FpuRegs& fpu, bool avx) {
  FpuImage img;
  std::memset(&img, 0, sizeof img);
  img.fcw = fpu.fcw;
  img.fsw = fpu.fsw;
  for (int p = 0; p < 8; p++) {
    if (((fpu.ftw >> (2 * p)) & 3) != 3) img.ftw |= static_cast<uint8_t>(1u << p);
  }
  img.fop = fpu.fop;
  img.fioff = fpu.fioff;
  img.fiseg = fpu.fiseg;
  img.fooff = fpu.fooff;
  img.foseg = fpu.foseg;
  img.mxcsr = fpu.mxcsr;
  img.mxcsr_mask = 0xffff;
  for (int i = 0; i < 8; i++) std::memcpy(img.st[i], fpu.st[i], 10);
  std::memcpy(img.xmm, fpu.xmm, sizeof img.xmm);
  if (avx) {
    img.xstate_bv = kXfeaturesX87SseAvx;
    std::memcpy(img.ymmh, fpu.ymmh, sizeof img.ymmh);
  }
  return img;
}

FpuRegs FromFpuImage(const FpuImage& img, bool with_ymmh) {
  FpuRegs fpu = {};
  fpu.fcw = img.fcw;
  fpu.fsw = img.fsw;
  fpu.fop = img.fop;
  fpu.fioff = img.fioff;
  fpu.fiseg = img.fiseg;
  fpu.fooff = img.fooff;
  fpu.foseg = img.foseg;
  fpu.mxcsr = img.mxcsr;
  for (int i = 0; i < 8; i++) std::memcpy(fpu.st[i], img.st[i], 10);
  std::memcpy(fpu.xmm, img.xmm, sizeof fpu.xmm);
  // The abridged tag keeps only "empty or not"; the rest follows from the registers, which
  // FXSAVE stores from the top of the stack while tags are by physical register.
  const int top = (img.fsw >> 11) & 7;
  for (int p = 0; p < 8; p++) {
    const uint16_t tag = (img.ftw & (1u << p)) == 0 ? 3 : ClassifyX87(fpu.st[(p - top) & 7]);
    fpu.ftw |= static_cast<uint16_t>(tag << (2 * p));
  }
  if (with_ymmh) std::memcpy(fpu.ymmh, img.ymmh, sizeof fpu.ymmh);
  return fpu;
}

}  // namespace km
