#include "km_hooks/proto_convert.h"

#include <cstring>

#include "absl/strings/str_format.h"

namespace km_hooks {
namespace {

// One list of (field, member) pairs keeps the two directions from drifting apart.
#define KM_GPRS(X)                                                                        \
  X(rax) X(rbx) X(rcx) X(rdx) X(rsi) X(rdi) X(rbp) X(rsp) X(r8) X(r9) X(r10) X(r11) X(r12) \
  X(r13) X(r14) X(r15) X(rip) X(rflags) X(cs) X(ss) X(ds) X(es) X(fs) X(gs) X(fs_base)     \
  X(gs_base)

v1::RegionKind KindToProto(km::RegionKind kind) {
  switch (kind) {
    case km::RegionKind::kText: return v1::REGION_KIND_TEXT;
    case km::RegionKind::kData: return v1::REGION_KIND_DATA;
    case km::RegionKind::kHeap: return v1::REGION_KIND_HEAP;
    case km::RegionKind::kStack: return v1::REGION_KIND_STACK;
    case km::RegionKind::kMmap: return v1::REGION_KIND_MMAP;
  }
  return v1::REGION_KIND_UNSPECIFIED;
}

absl::Status CopyFixed(const std::string& field, const std::string& in, void* out,
                       size_t size) {
  if (in.size() != size) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s must be %d bytes, got %d", field, size, in.size()));
  }
  memcpy(out, in.data(), size);
  return absl::OkStatus();
}

}  // namespace

void ToProto(const km::Regs& regs, v1::Registers* out) {
#define KM_SET(name) out->set_##name(regs.name);
  KM_GPRS(KM_SET)
#undef KM_SET
}

km::Regs FromProto(const v1::Registers& in) {
  km::Regs regs = {};
#define KM_GET(name) regs.name = static_cast<decltype(regs.name)>(in.name());
  KM_GPRS(KM_GET)
#undef KM_GET
  return regs;
}

void ToProto(const km::FpuRegs& fpu, v1::FpuRegisters* out) {
  for (const auto& st : fpu.st) out->add_st(reinterpret_cast<const char*>(st), sizeof(st));
  out->set_fcw(fpu.fcw);
  out->set_fsw(fpu.fsw);
  out->set_ftw(fpu.ftw);
  out->set_fop(fpu.fop);
  out->set_fiseg(fpu.fiseg);
  out->set_fioff(fpu.fioff);
  out->set_foseg(fpu.foseg);
  out->set_fooff(fpu.fooff);
  out->set_mxcsr(fpu.mxcsr);
  for (const auto& x : fpu.xmm) out->add_xmm(reinterpret_cast<const char*>(x), sizeof(x));
  for (const auto& y : fpu.ymmh) out->add_ymmh(reinterpret_cast<const char*>(y), sizeof(y));
}

absl::Status FromProto(const v1::FpuRegisters& in, km::FpuRegs* out) {
  if (in.st_size() != 8 || in.xmm_size() != 16 || (in.ymmh_size() != 0 && in.ymmh_size() != 16)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "fpu registers need 8 st, 16 xmm and 0 or 16 ymmh values, got %d, %d and %d",
        in.st_size(), in.xmm_size(), in.ymmh_size()));
  }
  for (int i = 0; i < 8; ++i) {
    absl::Status s = CopyFixed(absl::StrFormat("st%d", i), in.st(i), out->st[i], 10);
    if (!s.ok()) return s;
  }
  for (int i = 0; i < 16; ++i) {
    absl::Status s = CopyFixed(absl::StrFormat("xmm%d", i), in.xmm(i), out->xmm[i], 16);
    if (!s.ok()) return s;
    if (in.ymmh_size() == 16) {
      s = CopyFixed(absl::StrFormat("ymm%dh", i), in.ymmh(i), out->ymmh[i], 16);
      if (!s.ok()) return s;
    }
  }
  out->fcw = in.fcw();
  out->fsw = in.fsw();
  out->ftw = in.ftw();
  out->fop = in.fop();
  out->fiseg = in.fiseg();
  out->fioff = in.fioff();
  out->foseg = in.foseg();
  out->fooff = in.fooff();
  out->mxcsr = in.mxcsr();
  return absl::OkStatus();
}

void ToProto(const km::Region& region, v1::MemoryRegion* out) {
  out->set_start(region.gva);
  out->set_size(region.size);
  out->set_read(region.prot & km::kProtRead);
  out->set_write(region.prot & km::kProtWrite);
  out->set_exec(region.prot & km::kProtExec);
  out->set_kind(KindToProto(region.kind));
  out->set_name(region.name);
}

}  // namespace km_hooks
