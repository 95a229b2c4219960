#include "km/guest_memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "absl/strings/str_format.h"
#include "km/layout.h"

namespace km {
namespace {

// The lower canonical half: all a process can map with 4-level paging.
constexpr uint64_t kUserSpaceEnd = 1ull << 47;
constexpr uint32_t kProtAll = kProtRead | kProtWrite | kProtExec;

bool PageAligned(uint64_t v) { return v % kPageSize == 0; }

uint32_t NeededProt(Access need) { return need == Access::kRead ? kProtRead : kProtWrite; }

const char* AccessName(Access need) { return need == Access::kRead ? "readable" : "writable"; }

// True if [gva, gva + len) would run past 2^64 (len > 0).
bool Wraps(uint64_t gva, uint64_t len) {
  return len > 0 && len - 1 > std::numeric_limits<uint64_t>::max() - gva;
}

// Checks a page range given to Map/Unmap/Protect; rounds size up to pages if round_size.
absl::Status CheckPageRange(const char* op, uint64_t gva, uint64_t* size, bool round_size) {
  if (!PageAligned(gva)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: guest address 0x%x is not page aligned", op, gva));
  }
  if (*size == 0) {
    return absl::InvalidArgumentError(absl::StrFormat("%s at 0x%x: size is 0", op, gva));
  }
  if (round_size) {
    if (*size > kUserSpaceEnd) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s at 0x%x: size 0x%x is larger than user space", op, gva, *size));
    }
    *size = (*size + kPageSize - 1) / kPageSize * kPageSize;
  } else if (!PageAligned(*size)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s at 0x%x: size 0x%x is not page aligned", op, gva, *size));
  }
  if (gva >= kUserSpaceEnd || *size > kUserSpaceEnd - gva) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: guest range [0x%x, +0x%x) reaches past user space (0x%x)", op, gva,
                        *size, kUserSpaceEnd));
  }
  return absl::OkStatus();
}

// Visits [gva, gva + len) region by region, in order, handing visit(region, host, done, n) each
// piece: n bytes at host, which are bytes [done, done + n) of the range. Stops at the first
// byte no region holds or when visit returns false; returns how many bytes were visited (those
// of a piece visit refused are not counted). The range must not wrap.
template <typename Visit>
uint64_t Walk(const std::map<uint64_t, Region>& regions, uint8_t* host, uint64_t gva, uint64_t len,
              Visit visit) {
  auto it = regions.upper_bound(gva);
  if (it == regions.begin()) return 0;
  --it;
  uint64_t done = 0;
  while (done < len && it != regions.end()) {
    const Region& r = it->second;
    const uint64_t cur = gva + done;
    if (cur < r.gva || cur - r.gva >= r.size) break;
    const uint64_t off = cur - r.gva;
    const uint64_t n = std::min(len - done, r.size - off);
    if (!visit(r, host + r.gpa + off, done, n)) break;
    done += n;
    ++it;
  }
  return done;
}

absl::Status FaultError(uint64_t gva, bool forbidden, Access need) {
  if (forbidden) {
    return absl::FailedPreconditionError(
        absl::StrFormat("guest address 0x%x is not %s", gva, AccessName(need)));
  }
  return absl::FailedPreconditionError(absl::StrFormat("guest address 0x%x not mapped", gva));
}

absl::Status WrapError(uint64_t gva, uint64_t len) {
  return absl::FailedPreconditionError(absl::StrFormat(
      "guest range at 0x%x of 0x%x bytes wraps around the address space", gva, len));
}

}  // namespace

absl::StatusOr<std::unique_ptr<GuestMemory>> GuestMemory::Create(uint64_t phys_size,
                                                                 uint64_t engine_reserved) {
  if (phys_size == 0 || !PageAligned(phys_size) || !PageAligned(engine_reserved) ||
      engine_reserved >= phys_size) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "guest physical memory of 0x%x bytes with 0x%x reserved for the engine: sizes must be "
        "page aligned and leave room for the guest",
        phys_size, engine_reserved));
  }
  void* host = mmap(nullptr, phys_size, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (host == MAP_FAILED) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "mmap of 0x%x bytes of guest physical memory: %s", phys_size, strerror(errno)));
  }
  std::unique_ptr<GuestMemory> mem(new GuestMemory());
  mem->phys_.host = static_cast<uint8_t*>(host);
  mem->phys_.size = phys_size;
  mem->phys_.engine_reserved_gpa = phys_size - engine_reserved;
  mem->phys_.engine_reserved_size = engine_reserved;
  absl::MutexLock lock(&mem->mu_);
  mem->free_phys_[0] = phys_size - engine_reserved;
  return mem;
}

GuestMemory::~GuestMemory() {
  if (phys_.host != nullptr) munmap(phys_.host, phys_.size);
}

absl::Status GuestMemory::AttachEngine(Engine* engine) {
  if (engine == nullptr) return absl::InvalidArgumentError("AttachEngine: engine is null");
  absl::MutexLock lock(&mu_);
  if (engine_ != nullptr) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "AttachEngine(%s): engine %s is already attached", engine->name(), engine_->name()));
  }
  for (auto it = regions_.begin(); it != regions_.end(); ++it) {
    const Region& r = it->second;
    absl::Status s = engine->MapRegion(r.gva, r.size, r.gpa, r.prot);
    if (!s.ok()) {
      for (auto undo = regions_.begin(); undo != it; ++undo) {
        engine->UnmapRegion(undo->second.gva, undo->second.size).IgnoreError();
      }
      return s;
    }
  }
  engine_ = engine;
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> GuestMemory::AllocPhys(uint64_t size) {
  for (auto it = free_phys_.begin(); it != free_phys_.end(); ++it) {
    if (it->second < size) continue;
    const uint64_t gpa = it->first;
    const uint64_t rest = it->second - size;
    free_phys_.erase(it);
    if (rest > 0) free_phys_[gpa + size] = rest;
    return gpa;
  }
  return absl::ResourceExhaustedError(
      absl::StrFormat("no 0x%x contiguous bytes of guest physical memory left (of 0x%x)", size,
                      phys_.engine_reserved_gpa));
}

bool GuestMemory::AllocPhysAt(uint64_t gpa, uint64_t size) {
  auto it = free_phys_.upper_bound(gpa);
  if (it == free_phys_.begin()) return false;
  --it;
  const uint64_t block = it->first;
  const uint64_t block_end = block + it->second;
  if (gpa + size > block_end) return false;
  free_phys_.erase(it);
  if (gpa > block) free_phys_[block] = gpa - block;
  if (block_end > gpa + size) free_phys_[gpa + size] = block_end - (gpa + size);
  return true;
}

void GuestMemory::FreePhys(uint64_t gpa, uint64_t size) {
  // Zeroing on free rather than on Map: MADV_DONTNEED hands the pages back to the host and the
  // next touch faults in a zero page, so a mapping costs only what the guest touches (an 8 MiB
  // stack or a big mmap stays cheap), where a memset on Map would commit every page.
  if (madvise(phys_.host + gpa, size, MADV_DONTNEED) != 0) {
    memset(phys_.host + gpa, 0, size);
  }
  auto next = free_phys_.lower_bound(gpa);
  if (next != free_phys_.end() && next->first == gpa + size) {
    size += next->second;
    next = free_phys_.erase(next);
  }
  if (next != free_phys_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == gpa) {
      prev->second += size;
      return;
    }
  }
  free_phys_[gpa] = size;
}

void GuestMemory::SplitAt(uint64_t addr) {
  auto it = regions_.upper_bound(addr);
  if (it == regions_.begin()) return;
  --it;
  Region& r = it->second;
  if (addr <= r.gva || addr - r.gva >= r.size) return;
  Region upper = r;
  upper.gva = addr;
  upper.size = r.gva + r.size - addr;
  upper.gpa = r.gpa + (addr - r.gva);
  r.size = addr - r.gva;
  regions_.emplace(addr, std::move(upper));
}

void GuestMemory::MergeAround(uint64_t gva, uint64_t end) {
  auto it = regions_.lower_bound(gva);
  if (it != regions_.begin()) --it;
  while (it != regions_.end() && it->first <= end) {
    auto next = std::next(it);
    if (next == regions_.end()) return;
    Region& a = it->second;
    const Region& b = next->second;
    if (a.gva + a.size == b.gva && a.gpa + a.size == b.gpa && a.prot == b.prot &&
        a.kind == b.kind && a.name == b.name) {
      a.size += b.size;
      regions_.erase(next);
    } else {
      it = next;
    }
  }
}

absl::Status GuestMemory::Map(uint64_t gva, uint64_t size, uint32_t prot, RegionKind kind,
                              const std::string& name) {
  absl::MutexLock lock(&mu_);
  return MapLocked(gva, size, prot, kind, name);
}

absl::Status GuestMemory::MapLocked(uint64_t gva, uint64_t size, uint32_t prot, RegionKind kind,
                                    const std::string& name) {
  if (absl::Status s = CheckPageRange("map", gva, &size, false); !s.ok()) return s;
  if ((prot & ~kProtAll) != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("map [0x%x, 0x%x): bad protection 0x%x", gva, gva + size, prot));
  }
  const uint64_t end = gva + size;
  auto it = regions_.lower_bound(end);
  if (it != regions_.begin()) {
    const Region& r = std::prev(it)->second;
    if (r.gva + r.size > gva) {
      return absl::AlreadyExistsError(
          absl::StrFormat("cannot map guest range [0x%x, 0x%x) (%s): it overlaps [0x%x, 0x%x) (%s)",
                          gva, end, name, r.gva, r.gva + r.size, r.name));
    }
  }
  // Extending the region just below with the physical pages just above it keeps the two one
  // region, so that a buffer across a brk extension still has one host pointer.
  uint64_t gpa = 0;
  bool placed = false;
  if (it != regions_.begin()) {
    const Region& below = std::prev(it)->second;
    if (below.gva + below.size == gva && below.kind == kind && below.name == name) {
      gpa = below.gpa + below.size;
      placed = AllocPhysAt(gpa, size);
    }
  }
  if (!placed) {
    absl::StatusOr<uint64_t> got = AllocPhys(size);
    if (!got.ok()) {
      return absl::ResourceExhaustedError(absl::StrFormat("map guest range [0x%x, 0x%x) (%s): %s",
                                                          gva, end, name, got.status().message()));
    }
    gpa = *got;
  }
  if (engine_ != nullptr) {
    if (absl::Status s = engine_->MapRegion(gva, size, gpa, prot); !s.ok()) {
      FreePhys(gpa, size);
      return s;
    }
  }
  regions_.emplace(gva, Region{gva, size, gpa, prot, kind, name});
  MergeAround(gva, end);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> GuestMemory::MapAnywhere(uint64_t size, uint32_t prot, RegionKind kind,
                                                  const std::string& name) {
  if (size == 0 || !PageAligned(size) || size > kMmapCeiling - kMmapFloor) {
    return absl::InvalidArgumentError(
        absl::StrFormat("map anywhere (%s): bad size 0x%x", name, size));
  }
  absl::MutexLock lock(&mu_);
  // Walk the gaps top-down from the ceiling; `top` is the upper end of the current gap.
  uint64_t top = kMmapCeiling;
  auto it = regions_.lower_bound(kMmapCeiling);
  while (top > kMmapFloor) {
    uint64_t bottom = kMmapFloor;
    if (it != regions_.begin()) {
      const Region& r = std::prev(it)->second;
      bottom = std::max(bottom, r.gva + r.size);
    }
    if (bottom < top && top - bottom >= size) {
      const uint64_t gva = top - size;
      if (absl::Status s = MapLocked(gva, size, prot, kind, name); !s.ok()) return s;
      return gva;
    }
    if (it == regions_.begin()) break;
    --it;
    top = std::min(top, it->second.gva);
  }
  return absl::ResourceExhaustedError(
      absl::StrFormat("map anywhere (%s): no free guest range of 0x%x bytes in [0x%x, 0x%x)", name,
                      size, kMmapFloor, kMmapCeiling));
}

absl::Status GuestMemory::Unmap(uint64_t gva, uint64_t size) {
  if (absl::Status s = CheckPageRange("unmap", gva, &size, true); !s.ok()) return s;
  if (GuestWriteObserver* o = write_observer_.load(std::memory_order_acquire)) {
    o->BeforeAddressSpaceChange();
  }
  const uint64_t end = gva + size;
  absl::MutexLock lock(&mu_);
  SplitAt(gva);
  SplitAt(end);
  for (auto it = regions_.lower_bound(gva); it != regions_.end() && it->first < end;) {
    const Region& r = it->second;
    if (engine_ != nullptr) {
      if (absl::Status s = engine_->UnmapRegion(r.gva, r.size); !s.ok()) return s;
    }
    FreePhys(r.gpa, r.size);
    it = regions_.erase(it);
  }
  MergeAround(gva, end);
  return absl::OkStatus();
}

absl::Status GuestMemory::Protect(uint64_t gva, uint64_t size, uint32_t prot) {
  if (absl::Status s = CheckPageRange("protect", gva, &size, true); !s.ok()) return s;
  if (GuestWriteObserver* o = write_observer_.load(std::memory_order_acquire)) {
    o->BeforeAddressSpaceChange();
  }
  if ((prot & ~kProtAll) != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("protect [0x%x, 0x%x): bad protection 0x%x", gva, gva + size, prot));
  }
  const uint64_t end = gva + size;
  absl::MutexLock lock(&mu_);
  const uint64_t covered = Walk(regions_, phys_.host, gva, size,
                                [](const Region&, uint8_t*, uint64_t, uint64_t) { return true; });
  if (covered < size) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "protect [0x%x, 0x%x): guest address 0x%x not mapped", gva, end, gva + covered));
  }
  SplitAt(gva);
  SplitAt(end);
  for (auto it = regions_.lower_bound(gva); it != regions_.end() && it->first < end; ++it) {
    Region& r = it->second;
    if (engine_ != nullptr) {
      if (absl::Status s = engine_->ProtectRegion(r.gva, r.size, prot); !s.ok()) return s;
    }
    r.prot = prot;
  }
  MergeAround(gva, end);
  return absl::OkStatus();
}

absl::Status GuestMemory::ReadOrCheck(uint64_t gva, void* dst, uint64_t len, Access need) const {
  if (len == 0) return absl::OkStatus();
  if (Wraps(gva, len)) return WrapError(gva, len);
  const uint32_t want = NeededProt(need);
  bool forbidden = false;
  absl::ReaderMutexLock lock(&mu_);
  const uint64_t done = Walk(regions_, phys_.host, gva, len,
                             [&](const Region& r, uint8_t* host, uint64_t off, uint64_t n) {
                               if ((r.prot & want) == 0) {
                                 forbidden = true;
                                 return false;
                               }
                               if (dst != nullptr) {
                                 memcpy(static_cast<uint8_t*>(dst) + off, host, n);
                               }
                               return true;
                             });
  if (done < len) return FaultError(gva + done, forbidden, need);
  return absl::OkStatus();
}

absl::Status GuestMemory::Write(uint64_t gva, const void* src, uint64_t len) const {
  if (len == 0) return absl::OkStatus();
  if (Wraps(gva, len)) return WrapError(gva, len);
  if (GuestWriteObserver* o = write_observer_.load(std::memory_order_acquire)) {
    o->BeforeGuestWrite(gva, len);
  }
  absl::ReaderMutexLock lock(&mu_);
  // Check everything first so that a failed write leaves guest memory as it was.
  bool forbidden = false;
  const uint64_t ok =
      Walk(regions_, phys_.host, gva, len, [&](const Region& r, uint8_t*, uint64_t, uint64_t) {
        forbidden = (r.prot & kProtWrite) == 0;
        return !forbidden;
      });
  if (ok < len) return FaultError(gva + ok, forbidden, Access::kWrite);
  Walk(regions_, phys_.host, gva, len, [&](const Region&, uint8_t* host, uint64_t off, uint64_t n) {
    memcpy(host, static_cast<const uint8_t*>(src) + off, n);
    return true;
  });
  return absl::OkStatus();
}

uint64_t GuestMemory::ReadIgnoringProt(uint64_t gva, void* dst, uint64_t len) const {
  if (gva != 0) len = std::min(len, 0 - gva);  // 0 - gva == 2^64 - gva: stop at the top
  absl::ReaderMutexLock lock(&mu_);
  return Walk(regions_, phys_.host, gva, len,
              [&](const Region&, uint8_t* host, uint64_t off, uint64_t n) {
                memcpy(static_cast<uint8_t*>(dst) + off, host, n);
                return true;
              });
}

uint64_t GuestMemory::WriteIgnoringProt(uint64_t gva, const void* src, uint64_t len) const {
  if (gva != 0) len = std::min(len, 0 - gva);
  absl::ReaderMutexLock lock(&mu_);
  return Walk(regions_, phys_.host, gva, len,
              [&](const Region&, uint8_t* host, uint64_t off, uint64_t n) {
                memcpy(host, static_cast<const uint8_t*>(src) + off, n);
                return true;
              });
}

absl::StatusOr<std::string> GuestMemory::ReadCString(uint64_t gva, uint64_t max_len) const {
  // Scan at most max_len + 1 bytes (room for the NUL) and never past 2^64.
  uint64_t limit = max_len == std::numeric_limits<uint64_t>::max() ? max_len : max_len + 1;
  if (gva != 0) limit = std::min(limit, 0 - gva);
  std::string out;
  bool found = false;
  bool forbidden = false;
  absl::ReaderMutexLock lock(&mu_);
  const uint64_t done = Walk(
      regions_, phys_.host, gva, limit, [&](const Region& r, uint8_t* host, uint64_t, uint64_t n) {
        if ((r.prot & kProtRead) == 0) {
          forbidden = true;
          return false;
        }
        const void* nul = memchr(host, 0, n);
        const uint64_t take = nul ? static_cast<const uint8_t*>(nul) - host : n;
        out.append(reinterpret_cast<const char*>(host), take);
        found = nul != nullptr;
        return !found;
      });
  if (found) return out;
  if (done == limit && out.size() > max_len) {
    return absl::OutOfRangeError(
        absl::StrFormat("string at guest address 0x%x is longer than %d bytes", gva, max_len));
  }
  return FaultError(gva + done, forbidden, Access::kRead);
}

absl::StatusOr<uint8_t*> GuestMemory::HostPointer(uint64_t gva, uint64_t len, Access need) const {
  const uint32_t want = NeededProt(need);
  const uint64_t span = std::max<uint64_t>(len, 1);
  if (Wraps(gva, span)) return WrapError(gva, span);
  if (GuestWriteObserver* o = write_observer_.load(std::memory_order_acquire);
      o != nullptr && need == Access::kWrite && len > 0) {
    o->BeforeGuestWrite(gva, len);
  }
  absl::ReaderMutexLock lock(&mu_);
  uint8_t* first = nullptr;
  bool forbidden = false;
  int pieces = 0;
  const uint64_t done = Walk(regions_, phys_.host, gva, span,
                             [&](const Region& r, uint8_t* host, uint64_t, uint64_t) {
                               if ((r.prot & want) == 0) {
                                 forbidden = true;
                                 return false;
                               }
                               if (pieces++ == 0) first = host;
                               return true;
                             });
  if (done < span) return FaultError(gva + done, forbidden, need);
  if (pieces > 1) {
    return absl::OutOfRangeError(absl::StrFormat(
        "guest range [0x%x, 0x%x) spans several regions: no single host pointer", gva, gva + len));
  }
  return first;
}

std::vector<Region> GuestMemory::Regions() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<Region> out;
  out.reserve(regions_.size());
  for (const auto& [gva, r] : regions_) out.push_back(r);
  return out;
}

}  // namespace km
