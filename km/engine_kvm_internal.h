// The kvm engine's private parts, shared by its files:
//   engine_kvm.cc         the VM: memory slots, the TLB shootdown, the vCPU pool, start-up probe
//   engine_kvm_paging.cc  the physical page pool in the engine-reserved area and the page tables
//   engine_kvm_guest.cc   the guest kernel: stub code, GDT/TSS/IDT bytes, the vCPU's initial state
//   engine_kvm_abi.cc     how a vCPU enters and leaves the guest kernel, on hardware KVM and on PVM
//   engine_kvm_vcpu.cc    the KVM_RUN loop, stop requests, debug registers
//   engine_kvm_fpu.cc     x87/SSE/AVX state through XSAVE
//
// Why a guest kernel at all: km wants a `syscall` to stop the vCPU with Linux's register state
// (rip past the instruction, rcx = rip, r11 = rflags) and every fault to stop it with the exact
// rip, vector, error code and CR2. KVM has no exit for either, so the payload runs at CPL3 and a
// few bytes of guest kernel code catch syscalls (LSTAR) and exceptions (IDT, or PVM's event entry)
// and immediately execute `out` to a port that names the event: one KVM_EXIT_IO per event
// (~4 us). Running the payload at CPL0 instead would leave nothing to catch `syscall` with, and
// on PVM a CPL0 `syscall` is a hypercall. The stub never touches memory or registers, so the
// vCPU's registers at the exit are the payload's, apart from what the CPU itself saved
// elsewhere on the way in (a frame on the IDT stack, or PVM's PVCS), which the engine reads back.
#pragma once

#include <linux/kvm.h>
#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "km/engine.h"
#include "km/regs.h"

namespace km::kvm {

// Unaligned little-endian access to guest-shared structures (XSAVE areas, PVM's shared page).
template <typename T>
T Get(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <typename T>
void Put(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof v);
}


inline constexpr uint64_t kPage = 4096;
// Where canonical user-space addresses end (47-bit virtual addresses).
inline constexpr uint64_t kUserSpaceEnd = 1ull << 47;
// Page-fault error code bits.
inline constexpr uint64_t kPfWrite = 1ull << 1;
inline constexpr uint64_t kPfFetch = 1ull << 4;

// --- Guest-virtual layout of the guest kernel. PVM confines guests to the lower half (newer
// versions: the lower half only), so it lives there: above km's mmap ceiling (0x7fff00000000),
// below the stack (which ends at km::kStackTop). Its pages are supervisor-only (U/S=0), so the
// payload can neither read nor jump into them; MapRegion refuses the window.
inline constexpr uint64_t kKernelBase = 0x7fffc0000000;
inline constexpr uint64_t kKernelSize = 64ull << 20;
inline constexpr uint64_t kStubPage = kKernelBase;            // syscall entry, ERETU, IDT stubs
inline constexpr uint64_t kEventPage = kKernelBase + 0x1000;  // PVM event entry points
inline constexpr uint64_t kIdtPage = kKernelBase + 0x2000;
inline constexpr uint64_t kProbePage = kKernelBase + 0x3000;     // user page of the start-up probe
inline constexpr uint64_t kCpuPagesBase = kKernelBase + 0x4000;  // one page per vCPU slot
inline constexpr int kMaxSlots = 4096;
static_assert(kCpuPagesBase + kMaxSlots * kPage <= kKernelBase + kKernelSize);

inline bool InKernelWindow(uint64_t gva) {
  return gva >= kKernelBase && gva < kKernelBase + kKernelSize;
}

// Offsets inside the stub page.
inline constexpr uint64_t kSyscallEntry = kStubPage + 0x0;
inline constexpr uint64_t kEretu = kStubPage + 0x10;      // PVM's EVENT_RETURN_USER `syscall`
inline constexpr uint64_t kIdtStubs = kStubPage + 0x100;  // kIdtStubSize bytes per vector
inline constexpr uint64_t kIdtStubSize = 8;
inline constexpr int kIdtVectors = 32;

// Ports the stubs write to. Nothing in KVM claims them: the VM has no in-kernel devices.
inline constexpr uint16_t kPortExceptionBase = 0xc0;  // + vector, from the IDT stubs
inline constexpr uint16_t kPortSyscall = 0xe0;
inline constexpr uint16_t kPortUserEvent = 0xe1;    // PVM: an event from user mode
inline constexpr uint16_t kPortKernelEvent = 0xe2;  // PVM: an event inside the stubs (a bug)

// Linux's GDT layout, which PVM also requires for the user selectors (they must equal the
// host's __USER_CS/__USER_DS).
inline constexpr uint16_t kKernelCs = 0x10;
inline constexpr uint16_t kKernelDs = 0x18;
inline constexpr uint16_t kUserCs32 = 0x23;
inline constexpr uint16_t kUserDs = 0x2b;
inline constexpr uint16_t kUserCs = 0x33;
inline constexpr uint16_t kTssSelector = 0x40;

// The per-vCPU page: GDT, TSS, and above them the stack the CPU pushes exception frames on
// (through IST1, so a frame always lands at a known place).
inline constexpr uint64_t kGdtOffset = 0;
inline constexpr uint16_t kGdtLimit = 0x4f;
inline constexpr uint64_t kTssOffset = 0x100;
inline constexpr uint32_t kTssLimit = 0x67;

inline constexpr uint64_t kRflagsFixed = 0x2;
inline constexpr uint64_t kRflagsTf = 1ull << 8;
inline constexpr uint64_t kRflagsIf = 1ull << 9;
inline constexpr uint64_t kRflagsRf = 1ull << 16;

// MSRs.
inline constexpr uint32_t kMsrStar = 0xc0000081;
inline constexpr uint32_t kMsrLstar = 0xc0000082;
inline constexpr uint32_t kMsrCstar = 0xc0000083;
inline constexpr uint32_t kMsrSyscallMask = 0xc0000084;
inline constexpr uint32_t kMsrFsBase = 0xc0000100;
inline constexpr uint32_t kMsrGsBase = 0xc0000101;
inline constexpr uint32_t kMsrKernelGsBase = 0xc0000102;
inline constexpr uint32_t kMsrPvmVcpuStruct = 0x4b564df1;
inline constexpr uint32_t kMsrPvmEventEntry = 0x4b564df4;
inline constexpr uint32_t kMsrPvmRetuRip = 0x4b564df5;

// How events reach the guest kernel.
//   kHardware: VMX/SVM. syscall lands on LSTAR at CPL0 with rcx/r11 set by the CPU; exceptions
//     go through the IDT; the engine returns to CPL3 by KVM_SET_SREGS.
//   kPvm: KVM through PVM (kvm_pvm), where the guest always runs at hardware CPL3 and "supervisor
//     mode" is emulated. The IDT and TSS are ignored: every event from user mode saves the user
//     rip/rflags/rcx/r11/cs/ss/gsbase (and vector, error code, CR2) in the PVCS page, switches to
//     supervisor mode and jumps to LSTAR (syscall) or MSR_PVM_EVENT_ENTRY (the rest), leaving
//     RSP alone. The only way back to user mode is the synthetic instruction EVENT_RETURN_USER
//     (a `syscall` at MSR_PVM_RETU_RIP), which loads that state back from the PVCS; PVM refuses
//     to change the CPL through KVM_SET_SREGS once the vCPU has run. This is the PVM spec's
//     final ABI (Documentation/virt/kvm/x86/pvm-spec.rst); the start-up probe rejects others.
enum class GuestAbi { kHardware, kPvm };

// PVCS offsets (PVM spec: event_flags 0x00, cr2 0x08, user_cs 0x40, user_ss 0x42,
// event_errcode u16 0x44, event_vector u16 0x46, user_gsbase 0x48, eflags u32 0x50,
// pkru u32 0x54, rip 0x58, rcx 0x60, r11 0x68).
inline constexpr size_t kPvcsEventFlags = 0x00;
inline constexpr size_t kPvcsCr2 = 0x08;
inline constexpr size_t kPvcsUserCs = 0x40;
inline constexpr size_t kPvcsUserSs = 0x42;
inline constexpr size_t kPvcsErrcode = 0x44;
inline constexpr size_t kPvcsVector = 0x46;
inline constexpr size_t kPvcsUserGsBase = 0x48;
inline constexpr size_t kPvcsEflags = 0x50;
inline constexpr size_t kPvcsRip = 0x58;
inline constexpr size_t kPvcsRcx = 0x60;
inline constexpr size_t kPvcsR11 = 0x68;
inline constexpr uint16_t kPvcsVectorStd = 0x100;

// The signal that kicks a vCPU thread out of KVM_RUN (SIGRTMIN + 4; glibc keeps the first two
// real-time signals for itself, and km's syscall interrupt is SIGRTMIN + 5,
// km/runtime/interruptible_syscall.h). Its handler does
// nothing and is installed with SA_RESTART: KVM_RUN still returns EINTR (KVM answers a pending
// signal with -EINTR, which is never restarted), while a late kick that lands after Run()
// returned, in a blocking host syscall km makes for the guest, restarts that syscall instead of
// failing it.
int KickSignal();

absl::Status ErrnoError(int err, const std::string& what);
// KVM_GET_MSRS or KVM_SET_MSRS of n entries on a vCPU; returns how many KVM processed, or -1.
int MsrIoctl(int vcpu_fd, unsigned long request, kvm_msr_entry* entries, uint32_t n);
// ioctl() that retries EINTR where the request has no reason to see one.
int Ioctl(int fd, unsigned long request, void* arg);
int Ioctl(int fd, unsigned long request, unsigned long arg);

// --- engine_kvm_paging.cc

// The engine-reserved guest-physical area, handed out a page at a time: page tables, the guest
// kernel, per-vCPU pages.
class PagePool {
 public:
  PagePool(uint8_t* host, uint64_t gpa, uint64_t size)
      : host_(host), base_(gpa), end_(gpa + size) {}
  // A zeroed page.
  absl::StatusOr<uint64_t> Alloc();
  void Free(uint64_t gpa);
  uint8_t* Host(uint64_t gpa) const { return host_ + gpa; }

 private:
  uint8_t* host_;
  uint64_t base_, end_;
  uint64_t next_ = 0;  // bump offset
  std::vector<uint64_t> free_;
};

// What a watchpoint takes away from a page's hardware entry: writes (write watchpoints) or every
// access (read and access watchpoints, which x86 page rights cannot tell apart from writes).
enum class PageRestriction : uint8_t { kNone, kNoWrite, kNoAccess };

// 4-level, 4 KiB-page tables for the guest. Entries are written with single atomic stores, child
// tables before their parent entries, because running vCPUs walk them concurrently.
class PageTables {
 public:
  explicit PageTables(PagePool& pool) : pool_(pool) {}
  absl::Status Init();
  uint64_t root() const { return root_; }

  // Maps [gva, gva + size) onto [gpa, gpa + size). Fails, changing nothing, if any page there is
  // mapped already.
  absl::Status Map(uint64_t gva, uint64_t size, uint64_t gpa, uint32_t prot, bool user);
  // Clears whatever is mapped there and frees tables left empty. *restricted says whether a
  // present page or a table went away (other vCPUs' TLBs must then be shot down).
  void Unmap(uint64_t gva, uint64_t size, bool* restricted);
  // Changes the protection of every page in the range; fails, changing nothing, on a hole.
  // *restricted says whether any page lost a right it had.
  absl::Status Protect(uint64_t gva, uint64_t size, uint32_t prot, bool* restricted);
  // Whether a user access of this kind (page-fault error code bits W and I/D) to gva is allowed
  // by the tables as they are now.
  bool UserAccessAllowed(uint64_t gva, uint64_t pf_error_code) const;

  // Narrows the page's hardware rights below its mapping's own (which the entry keeps), now and
  // across later Map and Protect calls, until restricted with kNone. *restricted as for Protect.
  void Restrict(uint64_t page, PageRestriction restriction, bool* restricted);
  // Whether a user #PF at gva with this error code was caused by a restriction alone: the
  // mapping's own rights allow the access.
  bool RestrictionFault(uint64_t gva, uint64_t pf_error_code) const;
  // Host address of a mapped user byte (whatever the restrictions), or nullptr.
  uint8_t* UserHost(uint64_t gva) const;

 private:
  // The leaf entry for gva, creating the tables on the way if create; nullptr if absent.
  absl::StatusOr<uint64_t*> Leaf(uint64_t gva, bool create);
  uint64_t* LeafIfPresent(uint64_t gva) const;
  uint64_t* Table(uint64_t gpa) const;
  // Frees the tables on the walk to gva that no longer hold anything; whether it freed any.
  bool PruneEmpty(uint64_t gva);
  // entry with the restriction of gva's page applied.
  uint64_t Restricted(uint64_t gva, uint64_t entry) const;

  PagePool& pool_;
  uint64_t root_ = 0;
  absl::flat_hash_map<uint64_t, PageRestriction> restrictions_;  // by page address
};

uint64_t LeafEntry(uint64_t gpa, uint32_t prot, bool user);

// --- engine_kvm_access.cc

// The memory access of a faulting instruction, as far as a watchpoint needs it.
struct MemoryAccess {
  int width = 16;     // bytes from the faulting address
  bool reads = true;  // whether a write there also reads (read-modify-write)
};
// Classifies the instruction in insn[0, n).
MemoryAccess ClassifyAccess(const uint8_t* insn, size_t n);

// --- engine_kvm_guest.cc

// Writes the stub page, the PVM event page and the IDT into the given host pages.
void WriteStubPage(uint8_t* page);
void WriteEventPage(uint8_t* page);
void WriteIdtPage(uint8_t* page);
// Writes a vCPU page (GDT, TSS with IST1/RSP0 at the page's top) for a page at gva.
void WriteCpuPage(uint8_t* page, uint64_t gva);
// The user-mode (CPL3, 64-bit) special registers for a vCPU whose page is at cpu_page_gva,
// starting from KVM's own values in *sregs (for apic_base and the like).
void SetUserSregs(kvm_sregs* sregs, uint64_t cpu_page_gva, uint64_t pml4, bool osxsave);
// Whether the CPU pushes an error code for this exception vector.
bool VectorHasErrorCode(int vector);

// --- engine_kvm.cc

// Things every vCPU is set up with, computed once per engine.
struct VcpuSetup {
  std::vector<uint8_t> cpuid;  // a kvm_cpuid2 with its entries
  bool xsave = false;          // KVM_GET/SET_XSAVE work and CR4.OSXSAVE is set
  uint64_t xcr0 = 0;           // what XCR0 is set to (0: not set)
  size_t xsave_size = 4096;    // KVM_CAP_XSAVE2's size, at least 4096
  bool xsave2 = false;         // KVM_GET_XSAVE2 exists
  size_t ymm_offset = 576;     // CPUID.(0xD,2).EBX: where YMM_Hi128 lives in the XSAVE area
  uint64_t pml4 = 0;
};

// One KVM vCPU with the guest pages that belong to it. KVM cannot destroy a vCPU before the VM,
// so the engine keeps them in a pool and hands them to new guest threads.
struct VcpuSlot {
  ~VcpuSlot();
  int index = 0;  // KVM vCPU id and position of its page in the kernel window
  int fd = -1;
  kvm_run* run = nullptr;
  size_t run_size = 0;
  uint64_t cpu_page_gpa = 0;
  uint64_t pvcs_gpa = 0;
  uint64_t cpu_page_gva() const { return kCpuPagesBase + uint64_t(index) * kPage; }
  // Where KVM's state really is: parked in the guest kernel after a syscall or exception exit
  // (true), or in user mode.
  bool in_kernel = false;
};

class KvmEngine final : public Engine {
 public:
  static absl::StatusOr<std::unique_ptr<KvmEngine>> Create(const PhysicalMemory& phys);
  // Every Vcpu must be gone first.
  ~KvmEngine() override;

  std::string_view name() const override { return "kvm"; }
  EngineCaps caps() const override { return caps_; }
  absl::Status MapRegion(uint64_t gva, uint64_t size, uint64_t gpa, uint32_t prot) override;
  absl::Status UnmapRegion(uint64_t gva, uint64_t size) override;
  absl::Status ProtectRegion(uint64_t gva, uint64_t size, uint32_t prot) override;
  void CodeModified(uint64_t gva, uint64_t size) override;
  void WriteCode(uint64_t gva, uint64_t size, absl::FunctionRef<void()> write) override;
  absl::StatusOr<std::unique_ptr<Vcpu>> CreateVcpu(int id) override;

  // For the vCPUs.
  GuestAbi abi() const { return abi_; }
  const VcpuSetup& setup() const { return setup_; }
  uint8_t* Host(uint64_t gpa) const { return phys_.host + gpa; }
  bool UserAccessAllowed(uint64_t gva, uint64_t pf_error_code);
  absl::Status ShootDown();
  // Watchpoints through page protection (engine_kvm_watch.cc); each vCPU's set counts.
  absl::Status ReplaceWatches(const std::vector<Watchpoint>& old,
                              const std::vector<Watchpoint>& now);
  // Whether this user #PF was caused only by a watched page's protection.
  bool WatchFault(uint64_t gva, uint64_t pf_error_code);
  // Gives a watched page its own rights back while one vCPU steps through an access to it;
  // UnliftWatch takes them away again once no vCPU needs them.
  void LiftWatch(uint64_t page);
  absl::Status UnliftWatch(uint64_t page);
  // A step over a software breakpoint at addr: runs step() with `original` in memory in place
  // of the int3 there, if there is one, and puts the int3 back. WriteCode waits for it.
  absl::StatusOr<VcpuExit> StepOverBreakpoint(uint64_t addr, uint8_t original,
                                              absl::FunctionRef<absl::StatusOr<VcpuExit>()> step);
  // Copies up to n bytes of mapped user memory; how many it could.
  size_t ReadUser(uint64_t gva, uint8_t* out, size_t n);
  void ReleaseSlot(std::unique_ptr<VcpuSlot> slot);

 private:
  KvmEngine() = default;
  absl::Status Init(const PhysicalMemory& phys);
  absl::Status InitSetup();
  absl::Status BuildGuestKernel();
  absl::Status DetectAbi();
  // Runs a syscall and an invalid opcode through a vCPU and checks what comes back: the whole
  // event path, before any payload depends on it.
  absl::Status Probe();
  absl::StatusOr<std::unique_ptr<VcpuSlot>> NewSlot() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status InitSlot(VcpuSlot& slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SetMsr(const VcpuSlot& slot, uint32_t index, uint64_t value);
  // Makes every vCPU forget translations of the page tables before now (see the .cc).
  absl::Status ShootDownTlbs() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SetShootdownSlot(bool present);
  absl::Status CheckUserRange(const char* op, uint64_t gva, uint64_t size) const;

  struct WatchedPage {
    int writes = 0;  // write watchpoints on the page
    int reads = 0;   // read and access watchpoints
    int lifted = 0;  // vCPUs stepping through an access to it
  };
  static PageRestriction RestrictionOf(const WatchedPage& page);
  // Applies the page's restriction now and forgets a page nobody watches or steps through.
  void UpdateWatchedPage(uint64_t page, bool* restricted) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  int kvm_fd_ = -1;
  int vm_fd_ = -1;
  size_t run_size_ = 0;
  PhysicalMemory phys_;
  GuestAbi abi_ = GuestAbi::kHardware;
  EngineCaps caps_;
  VcpuSetup setup_;
  void* shootdown_page_ = nullptr;  // host memory of the throwaway memory slot
  uint64_t shootdown_gpa_ = 0;

  // Held across a step over a breakpoint and across km's writes to guest code; before mu_.
  absl::Mutex code_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::Mutex mu_;
  std::unique_ptr<PagePool> pool_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<PageTables> tables_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<VcpuSlot>> free_slots_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, WatchedPage> watched_pages_ ABSL_GUARDED_BY(mu_);
  int slots_created_ ABSL_GUARDED_BY(mu_) = 0;
  int max_slots_ = kMaxSlots;
};

// --- engine_kvm_vcpu.cc, engine_kvm_abi.cc, engine_kvm_fpu.cc

class KvmVcpu final : public Vcpu {
 public:
  KvmVcpu(KvmEngine& engine, std::unique_ptr<VcpuSlot> slot, int id);
  ~KvmVcpu() override;

  // Brings a vCPU from the pool to a new thread's initial state: registers zero but for
  // Linux's rflags and selectors, Linux's initial FPU state, no debugging.
  absl::Status Reset();

  int id() const override { return id_; }
  absl::StatusOr<VcpuExit> Run() override;
  void RequestStop() override;
  absl::Status GetRegs(Regs* regs) override;
  absl::Status SetRegs(const Regs& regs) override;
  absl::Status GetFpu(FpuRegs* fpu) override;
  absl::Status SetFpu(const FpuRegs& fpu) override;
  absl::Status SetSingleStep(bool on) override;
  absl::Status SetHwBreakpoints(const std::vector<uint64_t>& addrs) override;
  absl::Status SetWatchpoints(const std::vector<Watchpoint>& watchpoints) override;
  void SkipBreakpointOnce() override;
  absl::Status StepOverBreakpoint(uint64_t addr, uint8_t original) override;

 private:
  struct StepOver {
    uint64_t addr;
    uint8_t original;
  };
  // What the guest kernel reported through its port.
  struct KernelEntry {
    bool syscall = false;
    int vector = -1;
    uint64_t error_code = 0;
    uint64_t cr2 = 0;
  };

  // engine_kvm_vcpu.cc
  absl::StatusOr<VcpuExit> RunLoop();
  // Takes one stop request if there is one.
  bool ConsumeStop();
  // Clears kvm_run.immediate_exit unless a stop request is pending.
  void ClearImmediateExit();
  // Puts user_ into the vCPU (or arranges for the guest kernel to return to it) and programs the
  // debug registers, right before KVM_RUN.
  absl::Status PrepareEntry();
  absl::Status ApplyDebug();
  // Each returns an exit for the caller of Run(), or nothing to run on.
  absl::StatusOr<std::optional<VcpuExit>> OnIo();
  absl::StatusOr<std::optional<VcpuExit>> OnDebug();
  absl::StatusOr<std::optional<VcpuExit>> OnInterrupted();
  absl::Status ExitError(const std::string& what);
  absl::Status SetGuestDebug(uint32_t control, const uint64_t (&dr)[4], uint64_t dr7);
  bool stepping() const { return single_step_ || watch_step_.active; }

  // engine_kvm_watch.cc. Debug-register data breakpoints did not fire on the KVM hosts
  // measured, so watched pages lose rights in the page tables: a #PF caused only by that lifts
  // the protection, single-steps the faulting instruction, puts the protection back and
  // reports the access if it touched one of this vCPU's watchpoints.
  absl::StatusOr<std::optional<VcpuExit>> BeginWatchStep(const KernelEntry& entry);
  // After the step: the watchpoint exit, or nothing to report.
  absl::StatusOr<std::optional<VcpuExit>> FinishWatchStep();
  // Puts the protection back (also when the step ends any other way).
  absl::Status EndWatchStep();

  // engine_kvm_abi.cc: the user state across the guest kernel.
  // Reads the state of a vCPU that stopped in user mode into user_.
  absl::Status LoadUserState();
  // Writes user_ into a vCPU that is in user mode; rf suppresses a breakpoint at rip once.
  absl::Status StoreUserState(bool rf);
  // After an exit through kPortSyscall/kPortUserEvent/kPortExceptionBase+v: fills user_ with the
  // payload's state at the event and says what it was.
  absl::StatusOr<KernelEntry> DecodeKernelEntry(uint16_t port, const kvm_regs& regs,
                                                const kvm_sregs& sregs);
  // Leaves the guest kernel for user_: at once (hardware), or by setting up ERETU for the next
  // KVM_RUN (PVM).
  absl::Status ReturnToUser(bool rf);
  absl::Status SetFsGsBase(bool gs);
  uint8_t* Pvcs() const { return engine_.Host(slot_->pvcs_gpa); }

  // engine_kvm_fpu.cc
  absl::Status ResetFpu();
  absl::Status ReadXsave(std::vector<uint8_t>* buf);
  absl::Status WriteXsave(std::vector<uint8_t>& buf);

  KvmEngine& engine_;
  std::unique_ptr<VcpuSlot> slot_;
  const int id_;

  // The payload's registers while the vCPU is outside KVM_RUN; authoritative there.
  Regs user_{};
  kvm_sregs user_sregs_{};      // CPL3 special registers, for returning from the guest kernel
  bool regs_dirty_ = false;     // user_ changed since KVM last had it
  bool segs_dirty_ = false;     // fs/gs bases changed too
  bool eretu_pending_ = false;  // PVM: the next KVM_RUN starts with EVENT_RETURN_USER

  bool single_step_ = false;
  std::vector<uint64_t> breakpoints_;
  bool skip_breakpoint_ = false;
  std::optional<StepOver> step_over_;  // for the next Run()
  // PVM while single-stepping: the address EVENT_RETURN_USER returns to, caught with a hardware
  // breakpoint so that the step starts in user mode (0: none).
  uint64_t return_breakpoint_ = 0;
  uint32_t debug_control_ = 0;  // what KVM_SET_GUEST_DEBUG last got
  bool debug_dirty_ = true;
  int spurious_faults_ = 0;

  struct WatchStep {
    bool active = false;
    uint64_t addr = 0;   // where the access faulted first
    bool write = false;  // the first fault was a write
    MemoryAccess access;
    std::vector<uint64_t> lifted;  // pages lifted for this step
  };
  std::vector<Watchpoint> watchpoints_;
  WatchStep watch_step_;

  std::atomic<int> stop_requests_{0};
  absl::Mutex run_mu_;
  bool in_run_ ABSL_GUARDED_BY(run_mu_) = false;
  pthread_t thread_ ABSL_GUARDED_BY(run_mu_){};
};

}  // namespace km::kvm
