// x87, SSE and AVX state of a kvm vCPU, through the XSAVE area KVM exposes (standard format;
// legacy FXSAVE region first, YMM_Hi128 where CPUID leaf 0xD says), or KVM_GET/SET_FPU on a
// host without XSAVE.
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_format.h"
#include "km/engine_kvm_internal.h"

namespace km::kvm {
namespace {

// FXSAVE layout (64-bit format: FIP and FDP are 64 bits, split into gdb's off/seg halves).
constexpr size_t kFcw = 0, kFsw = 2, kFtw = 4, kFop = 6, kFip = 8, kFdp = 16, kMxcsr = 24,
                 kMxcsrMask = 28, kSt = 32, kXmm = 160, kLegacySize = 512;
constexpr size_t kXstateBv = 512;
constexpr uint64_t kXstateX87 = 1, kXstateSse = 2, kXstateAvx = 4;

// The full tag of a non-empty x87 register, from its contents (as FSAVE would store it):
// 0 valid, 1 zero, 2 special.
int Tag(const uint8_t* st) {
  const uint16_t exponent = Get<uint16_t>(st + 8) & 0x7fff;
  const uint64_t mantissa = Get<uint64_t>(st);
  if (exponent == 0x7fff) return 2;
  if (exponent == 0) return mantissa == 0 ? 1 : 2;
  return (mantissa >> 63) ? 0 : 2;
}

void FromLegacy(const uint8_t* fx, FpuRegs* f) {
  f->fcw = Get<uint16_t>(fx + kFcw);
  f->fsw = Get<uint16_t>(fx + kFsw);
  f->fop = Get<uint16_t>(fx + kFop) & 0x7ff;
  f->fioff = Get<uint32_t>(fx + kFip);
  f->fiseg = Get<uint32_t>(fx + kFip + 4);
  f->fooff = Get<uint32_t>(fx + kFdp);
  f->foseg = Get<uint32_t>(fx + kFdp + 4);
  f->mxcsr = Get<uint32_t>(fx + kMxcsr);
  for (int i = 0; i < 8; ++i) std::memcpy(f->st[i], fx + kSt + 16 * i, 10);
  for (int i = 0; i < 16; ++i) std::memcpy(f->xmm[i], fx + kXmm + 16 * i, 16);
  // FXSAVE keeps one "not empty" bit per physical register; st[] is in stack order from TOP.
  const uint8_t abridged = fx[kFtw];
  const int top = (f->fsw >> 11) & 7;
  f->ftw = 0;
  for (int reg = 0; reg < 8; ++reg) {
    const int tag = (abridged & (1 << reg)) ? Tag(f->st[(reg - top) & 7]) : 3;
    f->ftw |= tag << (2 * reg);
  }
}

void ToLegacy(const FpuRegs& f, uint8_t* fx) {
  Put<uint16_t>(fx + kFcw, f.fcw);
  Put<uint16_t>(fx + kFsw, f.fsw);
  uint8_t abridged = 0;
  for (int reg = 0; reg < 8; ++reg) {
    if (((f.ftw >> (2 * reg)) & 3) != 3) abridged |= 1 << reg;
  }
  fx[kFtw] = abridged;
  Put<uint16_t>(fx + kFop, f.fop & 0x7ff);
  Put<uint32_t>(fx + kFip, f.fioff);
  Put<uint32_t>(fx + kFip + 4, f.fiseg);
  Put<uint32_t>(fx + kFdp, f.fooff);
  Put<uint32_t>(fx + kFdp + 4, f.foseg);
  Put<uint32_t>(fx + kMxcsr, f.mxcsr);
  for (int i = 0; i < 8; ++i) {
    std::memset(fx + kSt + 16 * i, 0, 16);
    std::memcpy(fx + kSt + 16 * i, f.st[i], 10);
  }
  for (int i = 0; i < 16; ++i) std::memcpy(fx + kXmm + 16 * i, f.xmm[i], 16);
}

absl::Status CheckMxcsr(uint32_t mxcsr, uint32_t mask) {
  if (mask == 0) mask = 0xffbf;  // the architectural default when FXSAVE reports none
  if (mxcsr & ~mask) {
    return absl::InvalidArgumentError(
        absl::StrFormat("kvm: SetFpu: mxcsr 0x%x sets reserved bits (mask 0x%x)", mxcsr, mask));
  }
  return absl::OkStatus();
}

// kvm_fpu holds the same fields as the FXSAVE region, in its own order.
void KvmFpuToLegacy(const kvm_fpu& k, uint8_t* fx) {
  std::memset(fx, 0, kLegacySize);
  Put<uint16_t>(fx + kFcw, k.fcw);
  Put<uint16_t>(fx + kFsw, k.fsw);
  fx[kFtw] = k.ftwx;
  Put<uint16_t>(fx + kFop, k.last_opcode);
  Put<uint64_t>(fx + kFip, k.last_ip);
  Put<uint64_t>(fx + kFdp, k.last_dp);
  Put<uint32_t>(fx + kMxcsr, k.mxcsr);
  std::memcpy(fx + kSt, k.fpr, sizeof k.fpr);
  std::memcpy(fx + kXmm, k.xmm, sizeof k.xmm);
}

void LegacyToKvmFpu(const uint8_t* fx, kvm_fpu* k) {
  *k = {};
  k->fcw = Get<uint16_t>(fx + kFcw);
  k->fsw = Get<uint16_t>(fx + kFsw);
  k->ftwx = fx[kFtw];
  k->last_opcode = Get<uint16_t>(fx + kFop);
  k->last_ip = Get<uint64_t>(fx + kFip);
  k->last_dp = Get<uint64_t>(fx + kFdp);
  k->mxcsr = Get<uint32_t>(fx + kMxcsr);
  std::memcpy(k->fpr, fx + kSt, sizeof k->fpr);
  std::memcpy(k->xmm, fx + kXmm, sizeof k->xmm);
}

}  // namespace

absl::Status KvmVcpu::ReadXsave(std::vector<uint8_t>* buf) {
  const VcpuSetup& setup = engine_.setup();
  buf->assign(setup.xsave_size, 0);
  const unsigned long request = setup.xsave2 ? KVM_GET_XSAVE2 : KVM_GET_XSAVE;
  if (Ioctl(slot_->fd, request, buf->data()) < 0) return ErrnoError(errno, "KVM_GET_XSAVE");
  return absl::OkStatus();
}

absl::Status KvmVcpu::WriteXsave(std::vector<uint8_t>& buf) {
  if (Ioctl(slot_->fd, KVM_SET_XSAVE, buf.data()) < 0) return ErrnoError(errno, "KVM_SET_XSAVE");
  return absl::OkStatus();
}

absl::Status KvmVcpu::GetFpu(FpuRegs* fpu) {
  *fpu = FpuRegs{};
  const VcpuSetup& setup = engine_.setup();
  if (!setup.xsave) {
    kvm_fpu k;
    if (Ioctl(slot_->fd, KVM_GET_FPU, &k) < 0) return ErrnoError(errno, "KVM_GET_FPU");
    uint8_t fx[kLegacySize];
    KvmFpuToLegacy(k, fx);
    FromLegacy(fx, fpu);
    return absl::OkStatus();
  }
  std::vector<uint8_t> buf;
  absl::Status status = ReadXsave(&buf);
  if (!status.ok()) return status;
  FromLegacy(buf.data(), fpu);
  // A component outside XSTATE_BV is in its initial state (zero), whatever the area holds.
  if ((setup.xcr0 & kXstateAvx) && (Get<uint64_t>(buf.data() + kXstateBv) & kXstateAvx)) {
    std::memcpy(fpu->ymmh, buf.data() + setup.ymm_offset, sizeof fpu->ymmh);
  }
  return absl::OkStatus();
}

absl::Status KvmVcpu::SetFpu(const FpuRegs& fpu) {
  const VcpuSetup& setup = engine_.setup();
  if (!setup.xsave) {
    kvm_fpu k;
    if (Ioctl(slot_->fd, KVM_GET_FPU, &k) < 0) return ErrnoError(errno, "KVM_GET_FPU");
    uint8_t fx[kLegacySize];
    KvmFpuToLegacy(k, fx);
    absl::Status status = CheckMxcsr(fpu.mxcsr, 0);
    if (!status.ok()) return status;
    ToLegacy(fpu, fx);
    LegacyToKvmFpu(fx, &k);
    if (Ioctl(slot_->fd, KVM_SET_FPU, &k) < 0) return ErrnoError(errno, "KVM_SET_FPU");
    return absl::OkStatus();
  }
  std::vector<uint8_t> buf;
  absl::Status status = ReadXsave(&buf);
  if (!status.ok()) return status;
  status = CheckMxcsr(fpu.mxcsr, Get<uint32_t>(buf.data() + kMxcsrMask));
  if (!status.ok()) return status;
  ToLegacy(fpu, buf.data());
  // XRSTOR loads a component's initial state when its XSTATE_BV bit is clear, so mark what was
  // written as present.
  uint64_t xstate_bv = Get<uint64_t>(buf.data() + kXstateBv) | kXstateX87 | kXstateSse;
  if (setup.xcr0 & kXstateAvx) {
    std::memcpy(buf.data() + setup.ymm_offset, fpu.ymmh, sizeof fpu.ymmh);
    xstate_bv |= kXstateAvx;
  }
  Put<uint64_t>(buf.data() + kXstateBv, xstate_bv);
  return WriteXsave(buf);
}

absl::Status KvmVcpu::ResetFpu() {
  FpuRegs fpu{};
  fpu.fcw = kInitialFcw;
  fpu.mxcsr = kInitialMxcsr;
  fpu.ftw = 0xffff;  // all empty
  return SetFpu(fpu);
}

}  // namespace km::kvm
