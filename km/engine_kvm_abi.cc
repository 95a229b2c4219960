// The payload's register state across the guest kernel: reading it when a syscall or exception
// has brought the vCPU into the stubs, and putting it back on the way out, for hardware KVM and
// for PVM (see GuestAbi).
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_format.h"
#include "km/engine_kvm_internal.h"

namespace km::kvm {
namespace {

// What user mode may hold in RFLAGS (CF PF AF ZF SF TF DF OF NT RF AC ID); IF is always set in
// user mode, as on Linux.
uint64_t UserRflags(uint64_t rflags) {
  constexpr uint64_t kUserFlags = 0x254dd5;
  return (rflags & kUserFlags) | kRflagsIf | kRflagsFixed;
}

void ToKvm(const Regs& u, kvm_regs* r) {
  *r = {};
  r->rax = u.rax;
  r->rbx = u.rbx;
  r->rcx = u.rcx;
  r->rdx = u.rdx;
  r->rsi = u.rsi;
  r->rdi = u.rdi;
  r->rbp = u.rbp;
  r->rsp = u.rsp;
  r->r8 = u.r8;
  r->r9 = u.r9;
  r->r10 = u.r10;
  r->r11 = u.r11;
  r->r12 = u.r12;
  r->r13 = u.r13;
  r->r14 = u.r14;
  r->r15 = u.r15;
  r->rip = u.rip;
  r->rflags = UserRflags(u.rflags);
}

void FromKvm(const kvm_regs& r, Regs* u) {
  u->rax = r.rax;
  u->rbx = r.rbx;
  u->rcx = r.rcx;
  u->rdx = r.rdx;
  u->rsi = r.rsi;
  u->rdi = r.rdi;
  u->rbp = r.rbp;
  u->rsp = r.rsp;
  u->r8 = r.r8;
  u->r9 = r.r9;
  u->r10 = r.r10;
  u->r11 = r.r11;
  u->r12 = r.r12;
  u->r13 = r.r13;
  u->r14 = r.r14;
  u->r15 = r.r15;
  u->rip = r.rip;
  u->rflags = r.rflags;
}

// The payload always runs in 64-bit mode with null data selectors (see SetUserSregs).
void SetUserSelectors(Regs* u) {
  u->cs = kUserCs;
  u->ss = kUserDs;
  u->ds = u->es = u->fs = u->gs = 0;
}

bool AtStub(uint64_t rip, uint64_t stub) {
  // Fast port I/O exits with rip at the `out`; emulated port I/O (PVM) after it.
  return rip == stub || rip == stub + 2;
}

}  // namespace

absl::Status KvmVcpu::LoadUserState() {
  kvm_regs r;
  if (Ioctl(slot_->fd, KVM_GET_REGS, &r) < 0) return ErrnoError(errno, "KVM_GET_REGS");
  kvm_sregs s;
  if (Ioctl(slot_->fd, KVM_GET_SREGS, &s) < 0) return ErrnoError(errno, "KVM_GET_SREGS");
  FromKvm(r, &user_);
  SetUserSelectors(&user_);
  user_.fs_base = s.fs.base;
  user_.gs_base = s.gs.base;
  return absl::OkStatus();
}

absl::Status KvmVcpu::SetFsGsBase(bool gs) {
  kvm_msr_entry entries[2] = {};
  entries[0].index = kMsrFsBase;
  entries[0].data = user_.fs_base;
  entries[1].index = kMsrGsBase;
  entries[1].data = user_.gs_base;
  const uint32_t n = gs ? 2 : 1;
  if (MsrIoctl(slot_->fd, KVM_SET_MSRS, entries, n) != static_cast<int>(n)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("kvm: vCPU %d: fs_base 0x%x / gs_base 0x%x refused (not canonical?)", id_,
                        user_.fs_base, user_.gs_base));
  }
  return absl::OkStatus();
}

absl::Status KvmVcpu::StoreUserState(bool rf) {
  kvm_regs r;
  ToKvm(user_, &r);
  if (rf) r.rflags |= kRflagsRf;
  if (Ioctl(slot_->fd, KVM_SET_REGS, &r) < 0) return ErrnoError(errno, "KVM_SET_REGS");
  return segs_dirty_ ? SetFsGsBase(/*gs=*/true) : absl::OkStatus();
}

absl::StatusOr<KvmVcpu::KernelEntry> KvmVcpu::DecodeKernelEntry(uint16_t port, const kvm_regs& r,
                                                                const kvm_sregs& s) {
  KernelEntry entry;
  FromKvm(r, &user_);
  SetUserSelectors(&user_);
  user_.fs_base = s.fs.base;
  auto misplaced = [&] {
    return absl::InternalError(
        absl::StrFormat("kvm: vCPU %d: port 0x%x written at rip 0x%x, not by its guest kernel stub",
                        id_, port, r.rip));
  };

  if (engine_.abi() == GuestAbi::kPvm) {
    // PVM saved the user rip/rflags/rcx/r11/gsbase in the PVCS and left RSP alone.
    if (port == kPortSyscall) {
      if (!AtStub(r.rip, kSyscallEntry)) return misplaced();
      entry.syscall = true;
    } else if (port == kPortUserEvent) {
      if (!AtStub(r.rip, kEventPage)) return misplaced();
    } else {
      return misplaced();
    }
    const uint8_t* p = Pvcs();
    user_.rip = Get<uint64_t>(p + kPvcsRip);
    user_.rcx = Get<uint64_t>(p + kPvcsRcx);
    user_.r11 = Get<uint64_t>(p + kPvcsR11);
    user_.rflags = Get<uint32_t>(p + kPvcsEflags);
    user_.gs_base = Get<uint64_t>(p + kPvcsUserGsBase);
    if (!entry.syscall) {
      entry.vector = Get<uint16_t>(p + kPvcsVector) & 0xff;
      entry.error_code = Get<uint16_t>(p + kPvcsErrcode);
      entry.cr2 = Get<uint64_t>(p + kPvcsCr2);
    }
    return entry;
  }

  user_.gs_base = s.gs.base;
  if (port == kPortSyscall) {
    // The CPU put the return rip in rcx and rflags in r11, as Linux leaves them.
    if (!AtStub(r.rip, kSyscallEntry)) return misplaced();
    user_.rip = r.rcx;
    user_.rflags = r.r11;
    entry.syscall = true;
    return entry;
  }
  if (port < kPortExceptionBase || port >= kPortExceptionBase + kIdtVectors) return misplaced();
  const int vector = port - kPortExceptionBase;
  if (!AtStub(r.rip, kIdtStubs + vector * kIdtStubSize)) return misplaced();
  // The interrupt frame the CPU pushed on IST1, at the top of this vCPU's page.
  const bool has_error_code = VectorHasErrorCode(vector);
  const uint64_t frame_size = has_error_code ? 48 : 40;
  const uint64_t frame_gva = slot_->cpu_page_gva() + kPage - frame_size;
  if (r.rsp != frame_gva) {
    return absl::InternalError(absl::StrFormat(
        "kvm: vCPU %d: vector %d entered the guest kernel with rsp 0x%x, not 0x%x (a fault "
        "inside the guest kernel?)",
        id_, vector, r.rsp, frame_gva));
  }
  const uint8_t* frame = engine_.Host(slot_->cpu_page_gpa) + (kPage - frame_size);
  if (has_error_code) {
    entry.error_code = Get<uint64_t>(frame);
    frame += 8;
  }
  const uint64_t rip = Get<uint64_t>(frame);
  const uint64_t cs = Get<uint64_t>(frame + 8);
  if ((cs & 3) != 3) {
    return absl::InternalError(absl::StrFormat(
        "kvm: vCPU %d: exception %d inside the guest kernel at rip 0x%x", id_, vector, rip));
  }
  user_.rip = rip;
  user_.rflags = Get<uint64_t>(frame + 16);
  user_.rsp = Get<uint64_t>(frame + 24);
  entry.vector = vector;
  entry.cr2 = s.cr2;
  return entry;
}

absl::Status KvmVcpu::ReturnToUser(bool rf) {
  kvm_regs r;
  ToKvm(user_, &r);
  if (engine_.abi() == GuestAbi::kHardware) {
    // Straight to CPL3 from the host; no guest instruction runs.
    kvm_sregs s = user_sregs_;
    s.fs.base = user_.fs_base;
    s.gs.base = user_.gs_base;
    if (Ioctl(slot_->fd, KVM_SET_SREGS, &s) < 0) return ErrnoError(errno, "KVM_SET_SREGS");
    if (rf) r.rflags |= kRflagsRf;
    if (Ioctl(slot_->fd, KVM_SET_REGS, &r) < 0) return ErrnoError(errno, "KVM_SET_REGS");
    slot_->in_kernel = false;
    return absl::OkStatus();
  }
  // PVM: EVENT_RETURN_USER loads rip, rflags, rcx, r11, cs, ss and the GS base from the PVCS and
  // keeps every other register, RSP included, as it finds it.
  uint8_t* p = Pvcs();
  Put<uint16_t>(p + kPvcsUserCs, kUserCs);
  Put<uint16_t>(p + kPvcsUserSs, kUserDs);
  Put<uint32_t>(p + kPvcsEflags, static_cast<uint32_t>(r.rflags | (rf ? kRflagsRf : 0)));
  Put<uint64_t>(p + kPvcsRip, user_.rip);
  Put<uint64_t>(p + kPvcsRcx, user_.rcx);
  Put<uint64_t>(p + kPvcsR11, user_.r11);
  Put<uint64_t>(p + kPvcsUserGsBase, user_.gs_base);
  Put<uint16_t>(p + kPvcsVector, kPvcsVectorStd);
  r.rip = kEretu;
  r.rflags = kRflagsFixed;
  if (Ioctl(slot_->fd, KVM_SET_REGS, &r) < 0) return ErrnoError(errno, "KVM_SET_REGS");
  if (segs_dirty_) {
    absl::Status status = SetFsGsBase(/*gs=*/false);
    if (!status.ok()) return status;
  }
  eretu_pending_ = true;
  return absl::OkStatus();
}

}  // namespace km::kvm
