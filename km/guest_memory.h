// The guest address space: km's one owner of which guest-virtual ranges exist, where their
// bytes live in host memory and with what protection. It mirrors every change into the engine.
// Every access km makes on the guest's behalf goes through here and is checked: an unmapped or
// forbidden address is an error, never a host crash.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "km/engine.h"

namespace km {

inline constexpr uint64_t kPageSize = 4096;

enum class RegionKind { kText, kData, kHeap, kStack, kMmap };

struct Region {
  uint64_t gva = 0;
  uint64_t size = 0;
  uint64_t gpa = 0;  // host bytes at phys().host + gpa, contiguous
  uint32_t prot = kProtNone;
  RegionKind kind = RegionKind::kMmap;
  std::string name;  // e.g. the payload path for text/data, "[heap]", "[stack]"
};

// How km means to use a guest range it was handed: as the kernel would, a read needs
// PROT_READ and a write PROT_WRITE.
enum class Access { kRead, kWrite };

// Status codes, chosen so that absl's errno mapping gives the errno a syscall should return:
// a bad argument (unaligned, empty, outside user space) is InvalidArgument (EINVAL); Map over
// something mapped is AlreadyExists (EEXIST); no room (physical or virtual) and Protect over a
// hole are ResourceExhausted (ENOMEM); a guest access that would fault (unmapped, forbidden,
// wrapping past 2^64) is FailedPrecondition (EFAULT).
//
// Nothing here calls Engine::CodeModified: whoever writes guest code (a debugger planting a
// breakpoint) knows when the engine may be told, and calling it from under mu_ would order
// mu_ before the engine's own locks.
// Told before km stores into guest memory for the guest (a syscall's results, a signal frame:
// Write and HostPointer with Access::kWrite), and before the address space changes (Unmap,
// Protect); not of debugger writes (the *IgnoringProt calls). Called on the storing thread,
// with no GuestMemory lock held: the observer may read guest memory.
class GuestWriteObserver {
 public:
  virtual ~GuestWriteObserver() = default;
  virtual void BeforeGuestWrite(uint64_t gva, uint64_t len) = 0;
  virtual void BeforeAddressSpaceChange() = 0;
};

class GuestMemory {
 public:
  // Reserves phys_size bytes of host memory (MAP_NORESERVE: only touched pages cost anything)
  // as guest-physical memory, keeping its top engine_reserved bytes for the engine.
  static absl::StatusOr<std::unique_ptr<GuestMemory>> Create(uint64_t phys_size,
                                                             uint64_t engine_reserved);
  // The engine, if any, must be destroyed first: it keeps pointers into phys().
  ~GuestMemory();

  const PhysicalMemory& phys() const { return phys_; }
  // From now on every change is mirrored into engine (and what exists already is mapped).
  absl::Status AttachEngine(Engine* engine);

  // Maps [gva, gva + size) (page aligned) backed by fresh zeroed physical pages. Fails if any
  // part is already mapped.
  absl::Status Map(uint64_t gva, uint64_t size, uint32_t prot, RegionKind kind,
                   const std::string& name);
  // Picks a free range of size bytes below the mmap ceiling, top-down like Linux, and maps it.
  absl::StatusOr<uint64_t> MapAnywhere(uint64_t size, uint32_t prot, RegionKind kind,
                                       const std::string& name);
  // Unmaps whatever is mapped in [gva, gva + size), splitting regions; frees their pages.
  // gva must be page aligned; size is rounded up to pages, as munmap does.
  absl::Status Unmap(uint64_t gva, uint64_t size);
  // Fails with ENOMEM-like status if part of the range is unmapped (as mprotect does).
  // gva must be page aligned; size is rounded up to pages.
  absl::Status Protect(uint64_t gva, uint64_t size, uint32_t prot);

  // Copies between host and guest, checking protection as the kernel does for user pointers.
  // The range may span adjacent regions. len 0 always succeeds. On error dst may be partly
  // written.
  absl::Status Read(uint64_t gva, void* dst, uint64_t len, Access need = Access::kRead) const {
    return ReadOrCheck(gva, dst, len, need);
  }
  absl::Status Write(uint64_t gva, const void* src, uint64_t len) const;
  // Read's checks without the copy: whether the kernel would accept [gva, gva + len) as a
  // buffer it reads (kRead) or fills (kWrite), before a call whose effect cannot be undone.
  absl::Status Check(uint64_t gva, uint64_t len, Access need) const {
    return ReadOrCheck(gva, nullptr, len, need);
  }
  // Debugger access: ignores protection (writes reach read-only text), stops at the first
  // unmapped byte and returns how many bytes were copied (0 if gva itself is unmapped).
  uint64_t ReadIgnoringProt(uint64_t gva, void* dst, uint64_t len) const;
  uint64_t WriteIgnoringProt(uint64_t gva, const void* src, uint64_t len) const;
  // Reads a NUL-terminated string of at most max_len bytes (without the NUL). A longer string
  // is OutOfRange.
  absl::StatusOr<std::string> ReadCString(uint64_t gva, uint64_t max_len) const;
  // A host pointer to [gva, gva + len) if the whole range lies in one region allowing need;
  // for syscalls that hand guest memory to the host kernel (futex, read into a buffer).
  // A range that is all accessible but spans several regions is OutOfRange (copy with
  // Read/Write instead); len 0 checks gva alone.
  absl::StatusOr<uint8_t*> HostPointer(uint64_t gva, uint64_t len, Access need) const;

  std::vector<Region> Regions() const;  // sorted by gva

  // nullptr: none.
  void SetWriteObserver(GuestWriteObserver* observer) {
    write_observer_.store(observer, std::memory_order_release);
  }

 private:
  GuestMemory() = default;
  // Read, or (dst nullptr) Check.
  absl::Status ReadOrCheck(uint64_t gva, void* dst, uint64_t len, Access need) const;
  absl::Status MapLocked(uint64_t gva, uint64_t size, uint32_t prot, RegionKind kind,
                         const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Allocates exactly [gpa, gpa + size) if it is free.
  bool AllocPhysAt(uint64_t gpa, uint64_t size) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Makes addr a region boundary if it falls inside a region.
  void SplitAt(uint64_t addr) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Merges the regions overlapping [gva, end) and their neighbours where they are adjacent in
  // both address spaces and alike, so that brk growth and mprotect round trips stay one region.
  void MergeAround(uint64_t gva, uint64_t end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<uint64_t> AllocPhys(uint64_t size) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FreePhys(uint64_t gpa, uint64_t size) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  PhysicalMemory phys_;
  mutable absl::Mutex mu_;
  Engine* engine_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::map<uint64_t, Region> regions_ ABSL_GUARDED_BY(mu_);     // by gva
  std::map<uint64_t, uint64_t> free_phys_ ABSL_GUARDED_BY(mu_); // gpa -> size
  std::atomic<GuestWriteObserver*> write_observer_{nullptr};
};

}  // namespace km
