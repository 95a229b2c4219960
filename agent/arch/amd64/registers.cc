#include "agent/arch/amd64/registers.h"

#include <cstring>

#include "absl/strings/str_format.h"

namespace agent::amd64 {
namespace {

void PutLittleEndian(std::string& out, uint64_t value, int size) {
  for (int i = 0; i < size; ++i) out.push_back(static_cast<char>(value >> (8 * i)));
}

uint64_t GetLittleEndian(absl::string_view bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < bytes.size() && i < 8; ++i) {
    value |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[i])) << (8 * i);
  }
  return value;
}

template <size_t N>
std::string Raw(const std::array<uint8_t, N>& bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), N);
}

template <size_t N>
void SetRaw(std::array<uint8_t, N>& bytes, absl::string_view value) {
  memcpy(bytes.data(), value.data(), N);
}

}  // namespace

int RegisterCount(bool avx) { return avx ? kCountWithAvx : kCountWithoutAvx; }

int RegisterSize(int regnum, bool avx) {
  if (regnum < 0 || regnum >= RegisterCount(avx)) return 0;
  if (regnum < kEflags) return 8;                 // gprs, rip
  if (regnum < kSt0) return 4;                    // eflags, segments
  if (regnum < kFctrl) return 10;                 // st0..7
  if (regnum < kXmm0) return 4;                   // x87 control
  if (regnum < kMxcsr) return 16;                 // xmm
  if (regnum == kMxcsr) return 4;
  if (regnum < kYmm0h) return 8;                  // orig_rax, fs_base, gs_base
  return 16;                                      // ymm0h..15h
}

bool IsFpuRegister(int regnum) {
  return (regnum >= kSt0 && regnum <= kMxcsr) || regnum >= kYmm0h;
}

absl::StatusOr<std::string> ReadRegister(const Registers& regs, int regnum, bool avx) {
  const int size = RegisterSize(regnum, avx);
  if (size == 0) return absl::InvalidArgumentError(absl::StrFormat("no register %d", regnum));
  if (IsFpuRegister(regnum) && !regs.fpu) {
    return absl::FailedPreconditionError(absl::StrFormat("register %d needs the FPU state", regnum));
  }
  const GeneralRegs& g = regs.general;
  std::string out;
  if (regnum < 16) {
    PutLittleEndian(out, g.gpr[regnum], 8);
  } else if (regnum == kRip) {
    PutLittleEndian(out, g.rip, 8);
  } else if (regnum == kEflags) {
    PutLittleEndian(out, g.eflags, 4);
  } else if (regnum < kSt0) {
    PutLittleEndian(out, g.seg[regnum - kCs], 4);
  } else if (regnum < kFctrl) {
    out = Raw(regs.fpu->st[regnum - kSt0]);
  } else if (regnum < kXmm0) {
    PutLittleEndian(out, regs.fpu->x87_control[regnum - kFctrl], 4);
  } else if (regnum < kMxcsr) {
    out = Raw(regs.fpu->xmm[regnum - kXmm0]);
  } else if (regnum == kMxcsr) {
    PutLittleEndian(out, regs.fpu->mxcsr, 4);
  } else if (regnum == kOrigRax) {
    PutLittleEndian(out, g.orig_rax, 8);
  } else if (regnum == kFsBase) {
    PutLittleEndian(out, g.fs_base, 8);
  } else if (regnum == kGsBase) {
    PutLittleEndian(out, g.gs_base, 8);
  } else {
    out = Raw(regs.fpu->ymmh[regnum - kYmm0h]);
  }
  return out;
}

absl::Status WriteRegister(Registers& regs, int regnum, absl::string_view value, bool avx) {
  const int size = RegisterSize(regnum, avx);
  if (size == 0) return absl::InvalidArgumentError(absl::StrFormat("no register %d", regnum));
  if (static_cast<int>(value.size()) != size) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "register %d is %d bytes, got %d", regnum, size, value.size()));
  }
  if (IsFpuRegister(regnum) && !regs.fpu) {
    return absl::FailedPreconditionError(absl::StrFormat("register %d needs the FPU state", regnum));
  }
  GeneralRegs& g = regs.general;
  const uint64_t v = GetLittleEndian(value);
  if (regnum < 16) {
    g.gpr[regnum] = v;
  } else if (regnum == kRip) {
    g.rip = v;
  } else if (regnum == kEflags) {
    g.eflags = v;
  } else if (regnum < kSt0) {
    g.seg[regnum - kCs] = static_cast<uint32_t>(v);
  } else if (regnum < kFctrl) {
    SetRaw(regs.fpu->st[regnum - kSt0], value);
  } else if (regnum < kXmm0) {
    regs.fpu->x87_control[regnum - kFctrl] = static_cast<uint32_t>(v);
  } else if (regnum < kMxcsr) {
    SetRaw(regs.fpu->xmm[regnum - kXmm0], value);
  } else if (regnum == kMxcsr) {
    regs.fpu->mxcsr = static_cast<uint32_t>(v);
  } else if (regnum == kOrigRax) {
    g.orig_rax = v;
  } else if (regnum == kFsBase) {
    g.fs_base = v;
  } else if (regnum == kGsBase) {
    g.gs_base = v;
  } else {
    SetRaw(regs.fpu->ymmh[regnum - kYmm0h], value);
  }
  return absl::OkStatus();
}

std::string EncodeGeneral(const GeneralRegs& regs) {
  Registers r{regs, std::nullopt};
  std::string out;
  for (int regnum = 0; regnum < kGeneralCount; ++regnum) {
    out += *ReadRegister(r, regnum, /*avx=*/false);
  }
  return out;
}

absl::Status DecodeRegisters(absl::string_view raw, Registers& regs, bool avx) {
  for (int regnum = 0; !raw.empty(); ++regnum) {
    const int size = RegisterSize(regnum, avx);
    if (size == 0 || static_cast<int>(raw.size()) < size) {
      return absl::InvalidArgumentError(
          absl::StrFormat("register data ends inside register %d or runs past the last", regnum));
    }
    absl::Status s = WriteRegister(regs, regnum, raw.substr(0, size), avx);
    if (!s.ok()) return s;
    raw.remove_prefix(size);
  }
  return absl::OkStatus();
}

}  // namespace agent::amd64
