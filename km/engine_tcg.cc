#include "km/engine_tcg.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "km/engine_tcg_uc.h"
#include "km/engine_tcg_vcpu.h"

namespace km {
namespace tcg {
namespace {

static_assert(uint32_t{kProtRead} == uint32_t{UC_PROT_READ} &&
              uint32_t{kProtWrite} == uint32_t{UC_PROT_WRITE} &&
              uint32_t{kProtExec} == uint32_t{UC_PROT_EXEC});

constexpr uint64_t kPage = 4096;
// How long a vCPU may keep the execution lock while others wait for it.
constexpr absl::Duration kTimeSlice = absl::Milliseconds(2);
// Unicorn aborts the process near 4,000 regions; refuse well before.
constexpr size_t kMaxRegions = 3000;

absl::Status CheckAligned(const char* op, uint64_t gva, uint64_t size) {
  if (gva % kPage != 0 || size % kPage != 0 || size == 0 || gva + size < gva) {
    return absl::InvalidArgumentError(
        absl::StrFormat("tcg: %s %#x+%#x: not a page-aligned range", op, gva, size));
  }
  return absl::OkStatus();
}

absl::Status CheckRegionCount(const char* op, uint64_t gva, size_t count) {
  if (count > kMaxRegions) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("tcg: %s %#x: more than %d memory regions (Unicorn aborts near 4000)", op,
                        gva, kMaxRegions));
  }
  return absl::OkStatus();
}

}  // namespace

TcgEngine::TcgEngine(const PhysicalMemory& phys) : phys_(phys), exec_lock_(kTimeSlice) {}

TcgEngine::~TcgEngine() = default;

EngineCaps TcgEngine::caps() const {
  EngineCaps caps;
  caps.avx = false;
  caps.data_watchpoints = true;
  caps.hw_breakpoints = kMaxHwBreakpoints;
  caps.recording = true;
  // A Unicorn engine is plain memory of km's, copied by fork like the guest's: the child's copy
  // of the forking vCPU runs on as it was.
  caps.fork = true;
  return caps;
}

std::vector<TcgEngine::Mirror> TcgEngine::MirrorsLocked() {
  std::vector<Mirror> mirrors;
  for (TcgVcpu* vcpu : vcpus_) mirrors.push_back(Mirror{vcpu->uc(), &vcpu->uc_mu(), ~0u});
  if (locator_ != nullptr) {
    mirrors.push_back(Mirror{locator_->uc(), nullptr, FaultLocator::MirrorProt(~0u)});
  }
  return mirrors;
}

absl::Status TcgEngine::MapRegion(uint64_t gva, uint64_t size, uint64_t gpa, uint32_t prot) {
  if (absl::Status s = CheckAligned("map", gva, size); !s.ok()) return s;
  if (gpa % kPage != 0 || gpa > phys_.size || size > phys_.size - gpa) {
    return absl::InvalidArgumentError(
        absl::StrFormat("tcg: map %#x+%#x: guest-physical %#x is outside memory", gva, size, gpa));
  }
  UrgentExecHold hold(&exec_lock_);
  absl::MutexLock l(&mu_);
  if (regions_.Overlaps(gva, size)) {
    return absl::AlreadyExistsError(
        absl::StrFormat("tcg: map %#x+%#x: overlaps a mapped region", gva, size));
  }
  if (absl::Status s = CheckRegionCount("map", gva, regions_.count() + 1); !s.ok()) return s;
  const std::vector<Mirror> mirrors = MirrorsLocked();
  for (size_t i = 0; i < mirrors.size(); ++i) {
    absl::MutexLockMaybe ml(mirrors[i].mu);
    const uc_err err =
        uc_mem_map_ptr(mirrors[i].uc, gva, size, prot & mirrors[i].prot_mask, phys_.host + gpa);
    if (err != UC_ERR_OK) {
      for (size_t j = 0; j < i; ++j) {
        absl::MutexLockMaybe undo(mirrors[j].mu);
        uc_mem_unmap(mirrors[j].uc, gva, size);
      }
      return UcStatus(err, absl::StrFormat("uc_mem_map_ptr %#x+%#x", gva, size));
    }
  }
  regions_.Insert(TcgRegion{gva, size, gpa, prot});
  return absl::OkStatus();
}

absl::Status TcgEngine::UnmapRegion(uint64_t gva, uint64_t size) {
  if (absl::Status s = CheckAligned("unmap", gva, size); !s.ok()) return s;
  UrgentExecHold hold(&exec_lock_);
  absl::MutexLock l(&mu_);
  const std::vector<TcgRegion> pieces = regions_.Pieces(gva, size);
  if (pieces.empty()) return absl::OkStatus();
  // Unmapping the middle of a region leaves two.
  if (absl::Status s = CheckRegionCount("unmap", gva, regions_.count() + 1); !s.ok()) return s;
  absl::Status status;
  for (const Mirror& m : MirrorsLocked()) {
    absl::MutexLockMaybe ml(m.mu);
    for (const TcgRegion& p : pieces) {
      // Translations are keyed by Unicorn's internal RAM offsets, which a later mapping may
      // reuse for other bytes: drop them while the range is still mapped.
      InvalidateCodeLocked(m.uc, p.gva, p.size);
      status.Update(UcStatus(uc_mem_unmap(m.uc, p.gva, p.size),
                             absl::StrFormat("uc_mem_unmap %#x+%#x", p.gva, p.size)));
    }
  }
  regions_.Remove(gva, size);
  return status;
}

absl::Status TcgEngine::ProtectRegion(uint64_t gva, uint64_t size, uint32_t prot) {
  if (absl::Status s = CheckAligned("protect", gva, size); !s.ok()) return s;
  UrgentExecHold hold(&exec_lock_);
  absl::MutexLock l(&mu_);
  const std::vector<TcgRegion> pieces = regions_.Pieces(gva, size);
  if (pieces.empty()) return absl::OkStatus();
  if (absl::Status s = CheckRegionCount("protect", gva, regions_.count() + 2); !s.ok()) return s;
  absl::Status status;
  for (const Mirror& m : MirrorsLocked()) {
    absl::MutexLockMaybe ml(m.mu);
    for (const TcgRegion& p : pieces) {
      // Translated code keeps running from its cache whatever the page now allows.
      if ((p.prot & kProtExec) && !(prot & kProtExec)) InvalidateCodeLocked(m.uc, p.gva, p.size);
      status.Update(UcStatus(uc_mem_protect(m.uc, p.gva, p.size, prot & m.prot_mask),
                             absl::StrFormat("uc_mem_protect %#x+%#x", p.gva, p.size)));
    }
  }
  regions_.Protect(gva, size, prot);
  return status;
}

void TcgEngine::WriteCode(uint64_t gva, uint64_t size, absl::FunctionRef<void()> write) {
  {
    // Not under the execution lock: write() takes km's memory lock, which an mmap holds while
    // it waits for the execution lock.
    absl::MutexLock code(&code_mu_);
    write();
  }
  CodeModified(gva, size);
}

void TcgEngine::CodeModified(uint64_t gva, uint64_t size) {
  if (size == 0) return;
  UrgentExecHold hold(&exec_lock_);
  absl::MutexLock l(&mu_);
  for (TcgVcpu* vcpu : vcpus_) {
    absl::MutexLock ml(&vcpu->uc_mu());
    InvalidateCodeLocked(vcpu->uc(), gva, size);
  }
}

void TcgEngine::InvalidateCodeLocked(uc_engine* uc, uint64_t gva, uint64_t size) {
  // One call per region: Unicorn resolves only the start of the range and assumes the rest
  // follows it in its internal RAM offsets, which holds within one mapping.
  for (const TcgRegion& p : regions_.Pieces(gva, size)) {
    if (p.prot & kProtExec) uc_ctl_remove_cache(uc, p.gva, p.end());
  }
}

void TcgEngine::InvalidateAllCodeLocked(uc_engine* uc) {
  for (const TcgRegion& r : regions_.All()) {
    if (r.prot & kProtExec) uc_ctl_remove_cache(uc, r.gva, r.end());
  }
}

absl::StatusOr<std::unique_ptr<Vcpu>> TcgEngine::CreateVcpu(int id) {
  absl::StatusOr<std::unique_ptr<TcgVcpu>> vcpu = TcgVcpu::Create(this, id);
  if (!vcpu.ok()) return vcpu.status();
  if (absl::Status s = AttachVcpu(vcpu->get()); !s.ok()) return s;
  return std::unique_ptr<Vcpu>(std::move(*vcpu));
}

absl::Status TcgEngine::AttachVcpu(TcgVcpu* vcpu) {
  absl::MutexLock l(&mu_);
  absl::MutexLock ml(&vcpu->uc_mu());
  for (const TcgRegion& r : regions_.All()) {
    if (absl::Status s =
            UcStatus(uc_mem_map_ptr(vcpu->uc(), r.gva, r.size, r.prot, phys_.host + r.gpa),
                     absl::StrFormat("vcpu %d: uc_mem_map_ptr %#x+%#x", vcpu->id(), r.gva, r.size));
        !s.ok()) {
      return s;
    }
  }
  vcpus_.push_back(vcpu);
  return absl::OkStatus();
}

absl::Status TcgEngine::SetRecorder(ExecutionRecorder* recorder) {
  recorder_.store(recorder, std::memory_order_release);
  return absl::OkStatus();
}

void TcgEngine::DetachVcpu(TcgVcpu* vcpu) {
  absl::MutexLock l(&mu_);
  vcpus_.erase(std::remove(vcpus_.begin(), vcpus_.end(), vcpu), vcpus_.end());
}

void TcgEngine::AfterForkInChild(Vcpu& survivor) {
  absl::MutexLock l(&mu_);
  vcpus_.erase(std::remove_if(vcpus_.begin(), vcpus_.end(),
                              [&survivor](TcgVcpu* vcpu) { return vcpu != &survivor; }),
               vcpus_.end());
}

std::optional<uint64_t> TcgEngine::LocateFault(const Regs& regs, uint64_t from, uint64_t end,
                                               const FaultLocator::Fault& fault) {
  absl::MutexLock l(&mu_);
  if (locator_ == nullptr) {
    absl::StatusOr<std::unique_ptr<FaultLocator>> locator =
        FaultLocator::Create(phys_, regions_.All());
    if (!locator.ok()) return std::nullopt;
    locator_ = std::move(*locator);
  }
  InvalidateCodeLocked(locator_->uc(), from, end - from);
  return locator_->Locate(regs, from, end, fault);
}

}  // namespace tcg

absl::StatusOr<std::unique_ptr<Engine>> CreateTcgEngine(const PhysicalMemory& phys) {
  if (phys.host == nullptr || phys.size == 0) {
    return absl::InvalidArgumentError("tcg: no guest-physical memory");
  }
  return std::make_unique<tcg::TcgEngine>(phys);
}

}  // namespace km
