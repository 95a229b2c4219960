// The kvm engine: the VM, its memory slots, TLB shootdowns, the vCPU pool and the start-up probe.
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "km/engine_kvm_internal.h"

namespace km {

absl::StatusOr<std::unique_ptr<Engine>> CreateKvmEngine(const PhysicalMemory& phys) {
  absl::StatusOr<std::unique_ptr<kvm::KvmEngine>> engine = kvm::KvmEngine::Create(phys);
  if (!engine.ok()) return engine.status();
  return std::unique_ptr<Engine>(std::move(*engine));
}

namespace kvm {
namespace {

constexpr uint32_t kMainSlot = 0;
constexpr uint32_t kShootdownSlot = 1;
// Linux's syscall mask: the guest kernel runs with TF, IF, DF, AC and the rest cleared.
constexpr uint64_t kSyscallMask = 0x257fd5;
constexpr uint64_t kProbeRsp = 0x5a5a5000;

void InstallKickHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa = {};
    sa.sa_handler = [](int) {};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(KickSignal(), &sa, nullptr);
  });
}

const kvm_cpuid_entry2* FindCpuid(const std::vector<uint8_t>& blob, uint32_t function,
                                  uint32_t index) {
  const auto* cpuid = reinterpret_cast<const kvm_cpuid2*>(blob.data());
  for (uint32_t i = 0; i < cpuid->nent; ++i) {
    const kvm_cpuid_entry2& e = cpuid->entries[i];
    if (e.function == function && e.index == index) return &e;
  }
  return nullptr;
}

}  // namespace

int KickSignal() { return SIGRTMIN + 4; }

absl::Status ErrnoError(int err, const std::string& what) {
  return absl::Status(absl::ErrnoToStatusCode(err),
                      absl::StrCat("kvm: ", what, ": ", std::strerror(err)));
}

int MsrIoctl(int vcpu_fd, unsigned long request, kvm_msr_entry* entries, uint32_t n) {
  std::vector<uint8_t> buf(sizeof(kvm_msrs) + n * sizeof(kvm_msr_entry), 0);
  auto* msrs = reinterpret_cast<kvm_msrs*>(buf.data());
  msrs->nmsrs = n;
  std::memcpy(buf.data() + sizeof(kvm_msrs), entries, n * sizeof(kvm_msr_entry));
  const int r = Ioctl(vcpu_fd, request, msrs);
  std::memcpy(entries, buf.data() + sizeof(kvm_msrs), n * sizeof(kvm_msr_entry));
  return r;
}

int Ioctl(int fd, unsigned long request, void* arg) {
  int r;
  do {
    r = ioctl(fd, request, arg);
  } while (r < 0 && errno == EINTR);
  return r;
}

int Ioctl(int fd, unsigned long request, unsigned long arg) {
  int r;
  do {
    r = ioctl(fd, request, arg);
  } while (r < 0 && errno == EINTR);
  return r;
}

VcpuSlot::~VcpuSlot() {
  if (run != nullptr) munmap(run, run_size);
  if (fd >= 0) close(fd);
}

absl::StatusOr<std::unique_ptr<KvmEngine>> KvmEngine::Create(const PhysicalMemory& phys) {
  std::unique_ptr<KvmEngine> engine(new KvmEngine());
  absl::Status status = engine->Init(phys);
  if (!status.ok()) return status;
  return engine;
}

KvmEngine::~KvmEngine() {
  free_slots_.clear();
  if (vm_fd_ >= 0) close(vm_fd_);
  if (kvm_fd_ >= 0) close(kvm_fd_);
  if (shootdown_page_ != nullptr) munmap(shootdown_page_, kPage);
}

absl::Status KvmEngine::Init(const PhysicalMemory& phys) {
  phys_ = phys;
  if (reinterpret_cast<uintptr_t>(phys.host) % kPage != 0 || phys.size % kPage != 0 ||
      phys.engine_reserved_gpa % kPage != 0 || phys.engine_reserved_size < 64 * kPage ||
      phys.engine_reserved_gpa + phys.engine_reserved_size > phys.size) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "kvm: guest-physical memory of 0x%x bytes at %p with the engine area 0x%x+0x%x is not "
        "page aligned, or the engine area is outside it or under 256 KiB",
        phys.size, phys.host, phys.engine_reserved_gpa, phys.engine_reserved_size));
  }

  kvm_fd_ = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm_fd_ < 0) {
    return absl::UnavailableError(absl::StrCat("/dev/kvm: ", std::strerror(errno)));
  }
  const int api = Ioctl(kvm_fd_, KVM_GET_API_VERSION, 0ul);
  if (api != KVM_API_VERSION) {
    return absl::UnavailableError(
        absl::StrFormat("/dev/kvm: KVM API version %d, km needs %d", api, KVM_API_VERSION));
  }
  for (const auto& [cap, name] : {std::pair{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
                                  std::pair{KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
                                  std::pair{KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
                                  std::pair{KVM_CAP_SET_GUEST_DEBUG, "KVM_CAP_SET_GUEST_DEBUG"}}) {
    if (Ioctl(kvm_fd_, KVM_CHECK_EXTENSION, static_cast<unsigned long>(cap)) <= 0) {
      return absl::UnavailableError(absl::StrCat("/dev/kvm: this KVM lacks ", name));
    }
  }
  const int run_size = Ioctl(kvm_fd_, KVM_GET_VCPU_MMAP_SIZE, 0ul);
  if (run_size < static_cast<int>(sizeof(kvm_run))) {
    return ErrnoError(errno, "KVM_GET_VCPU_MMAP_SIZE");
  }
  run_size_ = run_size;
  vm_fd_ = Ioctl(kvm_fd_, KVM_CREATE_VM, 0ul);
  if (vm_fd_ < 0) return ErrnoError(errno, "KVM_CREATE_VM");

  // Only Intel's real-mode emulation uses it, and km never leaves long mode, but the API asks
  // for it on Intel hosts. Best effort: PVM has no use for it.
  constexpr uint64_t kTssAddr = 0xfffbd000;
  shootdown_gpa_ = (phys.size + (2ull << 20) - 1) & ~((2ull << 20) - 1);
  if (shootdown_gpa_ + kPage <= kTssAddr) {
    Ioctl(vm_fd_, KVM_SET_TSS_ADDR, static_cast<unsigned long>(kTssAddr));
  }

  kvm_userspace_memory_region main = {};
  main.slot = kMainSlot;
  main.guest_phys_addr = 0;
  main.memory_size = phys.size;
  main.userspace_addr = reinterpret_cast<uint64_t>(phys.host);
  if (Ioctl(vm_fd_, KVM_SET_USER_MEMORY_REGION, &main) < 0) {
    return ErrnoError(
        errno, absl::StrFormat("KVM_SET_USER_MEMORY_REGION of 0x%x bytes at gpa 0", phys.size));
  }
  shootdown_page_ =
      mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (shootdown_page_ == MAP_FAILED) {
    shootdown_page_ = nullptr;
    return ErrnoError(errno, "mmap of the shootdown slot's page");
  }

  const int max_vcpus =
      Ioctl(vm_fd_, KVM_CHECK_EXTENSION, static_cast<unsigned long>(KVM_CAP_MAX_VCPUS));
  if (max_vcpus > 0) max_slots_ = std::min(kMaxSlots, max_vcpus);
  InstallKickHandler();

  absl::Status status = InitSetup();
  if (!status.ok()) return status;
  {
    absl::MutexLock lock(&mu_);
    pool_ =
        std::make_unique<PagePool>(phys.host, phys.engine_reserved_gpa, phys.engine_reserved_size);
    tables_ = std::make_unique<PageTables>(*pool_);
    status = tables_->Init();
    if (!status.ok()) return status;
    setup_.pml4 = tables_->root();
  }
  status = SetShootdownSlot(true);
  if (!status.ok()) return status;
  status = BuildGuestKernel();
  if (!status.ok()) return status;
  status = DetectAbi();
  if (!status.ok()) return status;
  return Probe();
}

absl::Status KvmEngine::InitSetup() {
  // KVM_GET_SUPPORTED_CPUID answers E2BIG until the array is large enough.
  for (uint32_t nent = 64;; nent *= 2) {
    setup_.cpuid.assign(sizeof(kvm_cpuid2) + nent * sizeof(kvm_cpuid_entry2), 0);
    auto* cpuid = reinterpret_cast<kvm_cpuid2*>(setup_.cpuid.data());
    cpuid->nent = nent;
    if (Ioctl(kvm_fd_, KVM_GET_SUPPORTED_CPUID, cpuid) == 0) break;
    if (errno != E2BIG || nent >= 4096) return ErrnoError(errno, "KVM_GET_SUPPORTED_CPUID");
  }
  const kvm_cpuid_entry2* leaf1 = FindCpuid(setup_.cpuid, 1, 0);
  const bool cpu_xsave = leaf1 != nullptr && (leaf1->ecx & (1u << 26));
  const bool cpu_avx = leaf1 != nullptr && (leaf1->ecx & (1u << 28));
  const kvm_cpuid_entry2* xsave_leaf = FindCpuid(setup_.cpuid, 0xd, 0);
  const uint64_t xcr0_supported = xsave_leaf != nullptr ? xsave_leaf->eax : 0;
  const kvm_cpuid_entry2* ymm_leaf = FindCpuid(setup_.cpuid, 0xd, 2);
  if (ymm_leaf != nullptr && ymm_leaf->ebx != 0) setup_.ymm_offset = ymm_leaf->ebx;

  setup_.xsave =
      cpu_xsave && (xcr0_supported & 3) == 3 &&
      Ioctl(kvm_fd_, KVM_CHECK_EXTENSION, static_cast<unsigned long>(KVM_CAP_XSAVE)) > 0 &&
      Ioctl(kvm_fd_, KVM_CHECK_EXTENSION, static_cast<unsigned long>(KVM_CAP_XCRS)) > 0;
  if (setup_.xsave) {
    // x87, SSE and AVX: what FpuRegs carries and gdb shows.
    setup_.xcr0 = 0x3 | ((cpu_avx && (xcr0_supported & 0x4)) ? 0x4 : 0);
    const int size = Ioctl(vm_fd_, KVM_CHECK_EXTENSION, static_cast<unsigned long>(KVM_CAP_XSAVE2));
    if (size > 0) {
      setup_.xsave2 = true;
      setup_.xsave_size = std::max<size_t>(4096, size);
    }
    if (setup_.ymm_offset + 256 > setup_.xsave_size) setup_.xcr0 &= ~uint64_t{0x4};
  }
  caps_.avx = (setup_.xcr0 & 0x4) != 0;
  caps_.hw_breakpoints = 4;
  // Data breakpoints in debug registers did not fire on the KVM (PVM) hosts this was measured
  // on; watchpoints go through page protection instead (engine_kvm_watch.cc).
  caps_.data_watchpoints = true;
  return absl::OkStatus();
}

absl::Status KvmEngine::BuildGuestKernel() {
  absl::MutexLock lock(&mu_);
  struct Page {
    uint64_t gva;
    void (*write)(uint8_t*);
    uint32_t prot;
  };
  for (const Page& p : {Page{kStubPage, WriteStubPage, kProtRead | kProtExec},
                        Page{kEventPage, WriteEventPage, kProtRead | kProtExec},
                        Page{kIdtPage, WriteIdtPage, kProtRead}}) {
    absl::StatusOr<uint64_t> gpa = pool_->Alloc();
    if (!gpa.ok()) return gpa.status();
    p.write(pool_->Host(*gpa));
    absl::Status status = tables_->Map(p.gva, kPage, *gpa, p.prot, /*user=*/false);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status KvmEngine::SetMsr(const VcpuSlot& slot, uint32_t index, uint64_t value) {
  kvm_msr_entry entry = {};
  entry.index = index;
  entry.data = value;
  if (MsrIoctl(slot.fd, KVM_SET_MSRS, &entry, 1) != 1) {
    return absl::InternalError(absl::StrFormat(
        "kvm: vCPU slot %d: KVM_SET_MSRS refused MSR 0x%x = 0x%x", slot.index, index, value));
  }
  return absl::OkStatus();
}

absl::Status KvmEngine::DetectAbi() {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::unique_ptr<VcpuSlot>> slot = NewSlot();
  if (!slot.ok()) return slot.status();
  // PVM keeps MSR_PVM_VCPU_STRUCT; elsewhere it is unknown, or (kvm.ignore_msrs=1) accepted and
  // read back as 0.
  abi_ = GuestAbi::kHardware;
  if (SetMsr(**slot, kMsrPvmVcpuStruct, (*slot)->pvcs_gpa).ok()) {
    kvm_msr_entry entry = {};
    entry.index = kMsrPvmVcpuStruct;
    if (MsrIoctl((*slot)->fd, KVM_GET_MSRS, &entry, 1) == 1 && entry.data == (*slot)->pvcs_gpa) {
      abi_ = GuestAbi::kPvm;
    }
  }
  absl::Status status = InitSlot(**slot);
  if (!status.ok()) return status;
  free_slots_.push_back(std::move(*slot));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<VcpuSlot>> KvmEngine::NewSlot() {
  if (slots_created_ >= max_slots_) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("kvm: %d vCPUs exist, the most this VM can have", slots_created_));
  }
  auto slot = std::make_unique<VcpuSlot>();
  slot->index = slots_created_;
  slot->fd = Ioctl(vm_fd_, KVM_CREATE_VCPU, static_cast<unsigned long>(slot->index));
  if (slot->fd < 0) return ErrnoError(errno, absl::StrCat("KVM_CREATE_VCPU ", slot->index));
  void* run = mmap(nullptr, run_size_, PROT_READ | PROT_WRITE, MAP_SHARED, slot->fd, 0);
  if (run == MAP_FAILED) return ErrnoError(errno, "mmap of kvm_run");
  slot->run = static_cast<kvm_run*>(run);
  slot->run_size = run_size_;
  ++slots_created_;

  absl::StatusOr<uint64_t> cpu_page = pool_->Alloc();
  if (!cpu_page.ok()) return cpu_page.status();
  slot->cpu_page_gpa = *cpu_page;
  WriteCpuPage(pool_->Host(*cpu_page), slot->cpu_page_gva());
  absl::Status status =
      tables_->Map(slot->cpu_page_gva(), kPage, *cpu_page, kProtRead | kProtWrite, false);
  if (!status.ok()) return status;
  absl::StatusOr<uint64_t> pvcs = pool_->Alloc();
  if (!pvcs.ok()) return pvcs.status();
  slot->pvcs_gpa = *pvcs;
  return slot;
}

absl::Status KvmEngine::InitSlot(VcpuSlot& slot) {
  const std::string what = absl::StrCat("vCPU slot ", slot.index, ": ");
  if (Ioctl(slot.fd, KVM_SET_CPUID2, setup_.cpuid.data()) < 0) {
    return ErrnoError(errno, what + "KVM_SET_CPUID2");
  }
  // A vCPU that has never run may still change its CPL (PVM allows it only then): it starts in
  // user mode.
  kvm_sregs sregs;
  if (Ioctl(slot.fd, KVM_GET_SREGS, &sregs) < 0) return ErrnoError(errno, what + "KVM_GET_SREGS");
  SetUserSregs(&sregs, slot.cpu_page_gva(), setup_.pml4, setup_.xsave);
  if (Ioctl(slot.fd, KVM_SET_SREGS, &sregs) < 0) return ErrnoError(errno, what + "KVM_SET_SREGS");
  if (setup_.xcr0 != 0) {
    kvm_xcrs xcrs = {};
    xcrs.nr_xcrs = 1;
    xcrs.xcrs[0].xcr = 0;
    xcrs.xcrs[0].value = setup_.xcr0;
    if (Ioctl(slot.fd, KVM_SET_XCRS, &xcrs) < 0) {
      return ErrnoError(errno, absl::StrFormat("%sKVM_SET_XCRS 0x%x", what, setup_.xcr0));
    }
  }
  const std::pair<uint32_t, uint64_t> msrs[] = {
      {kMsrStar, (uint64_t{kUserCs32} << 48) | (uint64_t{kKernelCs} << 32)},
      {kMsrLstar, kSyscallEntry},
      {kMsrCstar, kSyscallEntry},
      {kMsrSyscallMask, kSyscallMask},
      {kMsrFsBase, 0},
      {kMsrGsBase, 0},
      {kMsrKernelGsBase, 0},
  };
  for (const auto& [index, value] : msrs) {
    absl::Status status = SetMsr(slot, index, value);
    if (!status.ok()) return status;
  }
  if (abi_ == GuestAbi::kPvm) {
    for (const auto& [index, value] :
         {std::pair{kMsrPvmVcpuStruct, slot.pvcs_gpa}, std::pair{kMsrPvmEventEntry, kEventPage},
          std::pair{kMsrPvmRetuRip, kEretu}}) {
      absl::Status status = SetMsr(slot, index, value);
      if (!status.ok()) return status;
    }
  }
  slot.in_kernel = false;
  return absl::OkStatus();
}

absl::Status KvmEngine::Probe() {
  uint64_t page;
  {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<uint64_t> gpa = pool_->Alloc();
    if (!gpa.ok()) return gpa.status();
    page = *gpa;
    const uint8_t code[] = {0x0f, 0x05, 0x0f, 0x0b};  // syscall; ud2
    std::memcpy(pool_->Host(page), code, sizeof code);
    absl::Status status = tables_->Map(kProbePage, kPage, page, kProtRead | kProtExec, true);
    if (!status.ok()) return status;
  }
  const char* abi = abi_ == GuestAbi::kPvm ? "PVM" : "hardware KVM";
  auto fail = [&](const std::string& what) {
    return absl::FailedPreconditionError(
        absl::StrCat("kvm: the guest kernel's self-test failed on this host (", abi, "): ", what,
                     ". km supports KVM on VMX/SVM and PVM's final ABI (pvm-spec.rst)"));
  };
  absl::Status result = [&]() -> absl::Status {
    absl::StatusOr<std::unique_ptr<Vcpu>> vcpu = CreateVcpu(-1);
    if (!vcpu.ok()) return vcpu.status();
    Regs regs;
    absl::Status status = (*vcpu)->GetRegs(&regs);
    if (!status.ok()) return status;
    regs.rip = kProbePage;
    regs.rsp = kProbeRsp;
    regs.rcx = regs.r11 = 0;
    regs.rax = 39;
    if (status = (*vcpu)->SetRegs(regs); !status.ok()) return status;
    absl::StatusOr<VcpuExit> exit = (*vcpu)->Run();
    if (!exit.ok()) return fail(std::string(exit.status().message()));
    if (status = (*vcpu)->GetRegs(&regs); !status.ok()) return status;
    if (exit->reason != ExitReason::kSyscall || regs.rip != kProbePage + 2 ||
        regs.rcx != kProbePage + 2 || regs.rsp != kProbeRsp || regs.rax != 39) {
      return fail(absl::StrFormat(
          "a syscall at 0x%x came back as exit %d with rip 0x%x rcx 0x%x rsp 0x%x rax %d",
          kProbePage, static_cast<int>(exit->reason), regs.rip, regs.rcx, regs.rsp, regs.rax));
    }
    exit = (*vcpu)->Run();
    if (!exit.ok()) return fail(std::string(exit.status().message()));
    if (status = (*vcpu)->GetRegs(&regs); !status.ok()) return status;
    if (exit->reason != ExitReason::kException || exit->vector != 6 || regs.rip != kProbePage + 2 ||
        regs.rsp != kProbeRsp) {
      return fail(absl::StrFormat(
          "a ud2 at 0x%x came back as exit %d vector %d with rip 0x%x rsp 0x%x", kProbePage + 2,
          static_cast<int>(exit->reason), exit->vector, regs.rip, regs.rsp));
    }
    return absl::OkStatus();
  }();
  absl::MutexLock lock(&mu_);
  bool restricted = false;
  tables_->Unmap(kProbePage, kPage, &restricted);
  pool_->Free(page);
  absl::Status shootdown = ShootDownTlbs();
  return result.ok() ? shootdown : result;
}

// Why a throwaway memory slot: under PVM (and any KVM without EPT/NPT) the vCPUs run on shadow
// page tables that KVM keeps in sync by write-protecting the guest's page tables *in the
// guest*. km writes them from the host, which KVM never sees, so a guest TLB flush (INVLPG, MOV
// CR3, or KVM_SET_SREGS with the same CR3) would keep the stale shadow entries. Deleting any
// memory slot makes x86 KVM drop every shadow page and every vCPU's cached roots
// (kvm_mmu_zap_all_fast, KVM_X86_QUIRK_SLOT_ZAP_ALL, on by default) and kicks every vCPU out of
// guest mode before the ioctl returns, which is also a complete TLB flush with EPT/NPT. So after
// km removes or narrows a mapping, no vCPU can use the old one once this returns, whether it was
// running or not. Widening a mapping needs none of this: a stale narrower entry faults, and KVM
// (shadow paging) or the engine (a spurious #PF on EPT, see KvmVcpu::OnIo) walks the tables again.
absl::Status KvmEngine::SetShootdownSlot(bool present) {
  kvm_userspace_memory_region region = {};
  region.slot = kShootdownSlot;
  region.guest_phys_addr = shootdown_gpa_;
  region.memory_size = present ? kPage : 0;
  region.userspace_addr = reinterpret_cast<uint64_t>(shootdown_page_);
  if (Ioctl(vm_fd_, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
    return ErrnoError(errno, absl::StrFormat("%s the shootdown memory slot at gpa 0x%x",
                                             present ? "creating" : "deleting", shootdown_gpa_));
  }
  return absl::OkStatus();
}

absl::Status KvmEngine::ShootDownTlbs() {
  absl::Status status = SetShootdownSlot(false);
  if (!status.ok()) return status;
  return SetShootdownSlot(true);
}

absl::Status KvmEngine::CheckUserRange(const char* op, uint64_t gva, uint64_t size) const {
  if (gva % kPage != 0 || size % kPage != 0 || size == 0 || gva >= kUserSpaceEnd ||
      size > kUserSpaceEnd - gva) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "kvm: %s [0x%x, +0x%x): not a page-aligned user-space range", op, gva, size));
  }
  if (gva < kKernelBase + kKernelSize && gva + size > kKernelBase) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "kvm: %s [0x%x, +0x%x) overlaps [0x%x, +0x%x), which the kvm engine keeps for its guest "
        "kernel",
        op, gva, size, kKernelBase, kKernelSize));
  }
  return absl::OkStatus();
}

absl::Status KvmEngine::MapRegion(uint64_t gva, uint64_t size, uint64_t gpa, uint32_t prot) {
  absl::Status status = CheckUserRange("MapRegion", gva, size);
  if (!status.ok()) return status;
  const uint64_t reserved_end = phys_.engine_reserved_gpa + phys_.engine_reserved_size;
  if (gpa % kPage != 0 || gpa > phys_.size || size > phys_.size - gpa ||
      (gpa < reserved_end && gpa + size > phys_.engine_reserved_gpa)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "kvm: MapRegion of gva 0x%x: gpa range [0x%x, +0x%x) is not km's guest-physical memory",
        gva, gpa, size));
  }
  absl::MutexLock lock(&mu_);
  status = tables_->Map(gva, size, gpa, prot, /*user=*/true);
  if (!status.ok() && !absl::IsAlreadyExists(status)) {
    // A failed Map may have had pages visible for a moment.
    absl::Status shootdown = ShootDownTlbs();
    if (!shootdown.ok()) return shootdown;
  }
  return status;
}

absl::Status KvmEngine::UnmapRegion(uint64_t gva, uint64_t size) {
  absl::Status status = CheckUserRange("UnmapRegion", gva, size);
  if (!status.ok()) return status;
  absl::MutexLock lock(&mu_);
  bool restricted = false;
  tables_->Unmap(gva, size, &restricted);
  return restricted ? ShootDownTlbs() : absl::OkStatus();
}

absl::Status KvmEngine::ProtectRegion(uint64_t gva, uint64_t size, uint32_t prot) {
  absl::Status status = CheckUserRange("ProtectRegion", gva, size);
  if (!status.ok()) return status;
  absl::MutexLock lock(&mu_);
  bool restricted = false;
  status = tables_->Protect(gva, size, prot, &restricted);
  if (!status.ok()) return status;
  return restricted ? ShootDownTlbs() : absl::OkStatus();
}

// Nothing to do: the vCPUs execute guest memory itself, and VM entry serializes, so a vCPU
// entering after km's store sees it. Code pages are not page tables, so shadow paging does not
// care either.
void KvmEngine::CodeModified(uint64_t, uint64_t) {}

void KvmEngine::WriteCode(uint64_t, uint64_t, absl::FunctionRef<void()> write) {
  absl::MutexLock code(&code_mu_);
  write();
}

// Other vCPUs keep running during the step: one that reaches addr within that single KVM_RUN
// runs the original instruction without stopping. The window is one instruction's run, not a
// debugger's round trip; closing it would take pausing every other vCPU or giving the stepping
// one a private copy of the page.
absl::StatusOr<VcpuExit> KvmEngine::StepOverBreakpoint(
    uint64_t addr, uint8_t original, absl::FunctionRef<absl::StatusOr<VcpuExit>()> step) {
  constexpr uint8_t kInt3 = 0xcc;
  absl::MutexLock code(&code_mu_);
  uint8_t* byte;
  {
    absl::MutexLock lock(&mu_);
    byte = tables_->UserHost(addr);
  }
  if (byte == nullptr || *byte != kInt3) return step();
  *byte = original;
  absl::StatusOr<VcpuExit> exit = step();
  // Unless the stepped instruction itself rewrote that byte.
  if (*byte == original) *byte = kInt3;
  return exit;
}

bool KvmEngine::UserAccessAllowed(uint64_t gva, uint64_t pf_error_code) {
  absl::MutexLock lock(&mu_);
  return tables_->UserAccessAllowed(gva, pf_error_code);
}

absl::Status KvmEngine::ShootDown() {
  absl::MutexLock lock(&mu_);
  return ShootDownTlbs();
}

absl::StatusOr<std::unique_ptr<Vcpu>> KvmEngine::CreateVcpu(int id) {
  std::unique_ptr<VcpuSlot> slot;
  {
    absl::MutexLock lock(&mu_);
    if (!free_slots_.empty()) {
      slot = std::move(free_slots_.back());
      free_slots_.pop_back();
    } else {
      absl::StatusOr<std::unique_ptr<VcpuSlot>> fresh = NewSlot();
      if (!fresh.ok()) return fresh.status();
      absl::Status status = InitSlot(**fresh);
      if (!status.ok()) return status;
      slot = std::move(*fresh);
    }
  }
  auto vcpu = std::make_unique<KvmVcpu>(*this, std::move(slot), id);
  absl::Status status = vcpu->Reset();
  if (!status.ok()) return status;
  return std::unique_ptr<Vcpu>(std::move(vcpu));
}

void KvmEngine::ReleaseSlot(std::unique_ptr<VcpuSlot> slot) {
  absl::MutexLock lock(&mu_);
  free_slots_.push_back(std::move(slot));
}

}  // namespace kvm
}  // namespace km
