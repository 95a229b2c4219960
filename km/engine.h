// The engine interface: what km needs from whatever executes guest instructions. Everything
// above this header (loader, memory, syscalls, threads, the debug service) is engine-agnostic;
// KVM and Unicorn details stay in engine_kvm.cc and engine_tcg.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "km/regs.h"

namespace km {

// mmap-style protection bits of a guest region.
enum Prot : uint32_t {
  kProtNone = 0,
  kProtRead = 1,
  kProtWrite = 2,
  kProtExec = 4,
};

enum class Accel { kAuto, kKvm, kTcg };

struct EngineCaps {
  bool avx = false;              // YMM state exists and AVX instructions run correctly
  bool data_watchpoints = false; // SetWatchpoints works exactly
  int hw_breakpoints = 0;        // how many addresses SetHwBreakpoints accepts
  bool recording = false;        // SetRecorder works
  // After a host fork(), the child can run on with the forking thread's vCPU alone
  // (Engine::AfterForkInChild): how km gives a payload fork, vfork and posix_spawn.
  bool fork = false;
};

// Receives guest execution, instruction by instruction, while an engine records (see
// Engine::SetRecorder). Called on the running vCPU's host thread, from inside Run().
class ExecutionRecorder {
 public:
  virtual ~ExecutionRecorder() = default;
  // The instruction at regs.rip is about to run, from this state.
  virtual void BeforeInstruction(int vcpu, const Regs& regs, const FpuRegs& fpu) = 0;
  // The running instruction is about to store over these len bytes at gva.
  virtual void BeforeStore(int vcpu, uint64_t gva, const uint8_t* old_bytes, uint64_t len) = 0;
};

enum class WatchKind { kWrite, kRead, kAccess };

struct Watchpoint {
  uint64_t addr;
  uint64_t len;  // 1, 2, 4 or 8
  WatchKind kind;
};

enum class ExitReason {
  kSyscall,        // rip is past the syscall instruction; rcx/r11 set as Linux does
  kException,      // a CPU exception; see vector, rip is the faulting instruction
  kSingleStep,     // one instruction ran under SetSingleStep(true)
  kHwBreakpoint,   // rip reached an address given to SetHwBreakpoints; it has not run yet
  kWatchpoint,     // an access matched a watchpoint; it has completed (memory holds the new
                   // value) and rip is the next instruction, as x86 data breakpoints trap
  kStopRequested,  // RequestStop() was called
  kHalt,           // hlt
};

struct VcpuExit {
  ExitReason reason = ExitReason::kHalt;
  // kException: x86 vector (0 #DE, 1 #DB, 3 #BP, 6 #UD, 13 #GP, 14 #PF, ...). For #BP (int3)
  // rip is past the int3, as Linux reports it; for every other vector rip is exact.
  int vector = -1;
  // kException #PF: the faulting guest-virtual address. kWatchpoint: the first watched byte the
  // access touched (inside the watchpoint's range even if the access began below it).
  uint64_t addr = 0;
  WatchKind watch_kind = WatchKind::kWrite;  // kWatchpoint
};

// The guest-physical memory km owns: one host mapping [host, host + size) seen by the guest as
// physical addresses [0, size). [engine_reserved_gpa, +engine_reserved_size) is the engine's
// (KVM keeps its page tables there); km never allocates from it.
struct PhysicalMemory {
  uint8_t* host = nullptr;
  uint64_t size = 0;
  uint64_t engine_reserved_gpa = 0;
  uint64_t engine_reserved_size = 0;
};

// One guest thread's CPU. Run() is called from that thread's own host thread; everything else
// may be called from any host thread while the vCPU is not inside Run(), except RequestStop(),
// which may be called at any time.
class Vcpu {
 public:
  virtual ~Vcpu() = default;
  virtual int id() const = 0;

  // Runs guest code until the next exit.
  virtual absl::StatusOr<VcpuExit> Run() = 0;

  // Makes the current Run() return kStopRequested soon, at an instruction boundary, or the next
  // Run() return it at once if none is running. Each request produces one kStopRequested.
  virtual void RequestStop() = 0;

  virtual absl::Status GetRegs(Regs* regs) = 0;
  virtual absl::Status SetRegs(const Regs& regs) = 0;
  virtual absl::Status GetFpu(FpuRegs* fpu) = 0;
  virtual absl::Status SetFpu(const FpuRegs& fpu) = 0;

  // While on, each Run() executes at most one instruction and returns kSingleStep (or the exit
  // that instruction caused).
  virtual absl::Status SetSingleStep(bool on) = 0;
  // Replaces the set of execute breakpoints (at most caps().hw_breakpoints).
  virtual absl::Status SetHwBreakpoints(const std::vector<uint64_t>& addrs) = 0;
  // Replaces the set of data watchpoints (only if caps().data_watchpoints).
  virtual absl::Status SetWatchpoints(const std::vector<Watchpoint>& watchpoints) = 0;
  // The next Run() executes the instruction at rip even if a hardware breakpoint is set there
  // (how a debugger resumes from a breakpoint it reported).
  virtual void SkipBreakpointOnce() = 0;
  // A step past a software breakpoint: if the next Run() starts at addr and finds an int3
  // there, it executes the instruction with `original` in place of that int3 (single-step must
  // be on: Run() returns after that one instruction, or with the exit it caused) and puts the
  // int3 back before it returns. Other vCPUs keep hitting the int3 meanwhile, as far as the
  // engine can arrange it (see each engine). The request is used up by that Run() whatever
  // rip it starts at.
  virtual absl::Status StepOverBreakpoint(uint64_t addr, uint8_t original) = 0;
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual std::string_view name() const = 0;  // "kvm" or "tcg"
  virtual EngineCaps caps() const = 0;

  // Mirrors km's guest address space. gva and size are page aligned; the region's host memory
  // is phys.host + gpa, physically contiguous. Regions never overlap.
  virtual absl::Status MapRegion(uint64_t gva, uint64_t size, uint64_t gpa, uint32_t prot) = 0;
  // Removes [gva, gva + size), which may be part of a region or span several.
  virtual absl::Status UnmapRegion(uint64_t gva, uint64_t size) = 0;
  virtual absl::Status ProtectRegion(uint64_t gva, uint64_t size, uint32_t prot) = 0;
  // Called after km mapped or changed guest code without WriteCode (mmap, mprotect).
  virtual void CodeModified(uint64_t gva, uint64_t size) = 0;
  // km's own store into guest code at [gva, gva + size) from outside the guest (planting or
  // removing a breakpoint, a debugger's write): runs write() when it cannot overlap another
  // vCPU's step past a breakpoint (StepOverBreakpoint), then as CodeModified.
  virtual void WriteCode(uint64_t gva, uint64_t size, absl::FunctionRef<void()> write) {
    write();
    CodeModified(gva, size);
  }

  virtual absl::StatusOr<std::unique_ptr<Vcpu>> CreateVcpu(int id) = 0;
  // In a child made by host fork() (only if caps().fork), on its one host thread: every vCPU but
  // survivor belonged to a thread the child does not have; forget them without touching them.
  virtual void AfterForkInChild(Vcpu& survivor) {}

  // Starts (recorder) or stops (nullptr) reporting every instruction and guest store of every
  // vCPU. Each vCPU takes the change at its next Run(). Only if caps().recording.
  virtual absl::Status SetRecorder(ExecutionRecorder* recorder) {
    return absl::UnimplementedError(
        absl::StrFormat("the %s engine cannot record execution", name()));
  }
};

absl::StatusOr<std::unique_ptr<Engine>> CreateKvmEngine(const PhysicalMemory& phys);
absl::StatusOr<std::unique_ptr<Engine>> CreateTcgEngine(const PhysicalMemory& phys);

// Resolves --accel. For kAuto, picks kvm if /dev/kvm opens and otherwise tcg, writing one line
// saying which and why to *notice.
absl::StatusOr<std::unique_ptr<Engine>> CreateEngine(Accel accel, const PhysicalMemory& phys,
                                                     std::string* notice);

}  // namespace km
