// The engine-reserved page pool and the guest page tables.
#include <cstring>

#include "absl/strings/str_format.h"
#include "km/engine_kvm_internal.h"

namespace km::kvm {
namespace {

constexpr uint64_t kPresent = 1ull << 0;
constexpr uint64_t kWritable = 1ull << 1;
constexpr uint64_t kUser = 1ull << 2;
constexpr uint64_t kAccessed = 1ull << 5;
constexpr uint64_t kDirty = 1ull << 6;
// An available-to-software bit: the page is mapped, whether or not present (kProtNone pages
// keep their gpa in the entry so that ProtectRegion can bring them back).
constexpr uint64_t kMapped = 1ull << 9;
// The mapping's own rights, kept apart from P and W because a watchpoint may take those away
// from the hardware entry for a while (PageTables::Restrict).
constexpr uint64_t kOwnPresent = 1ull << 10;
constexpr uint64_t kOwnWritable = 1ull << 11;
constexpr uint64_t kNoExec = 1ull << 63;
constexpr uint64_t kAddrMask = 0x000ffffffffff000ull;
constexpr uint64_t kTableEntryBits = kPresent | kWritable | kUser | kAccessed;

uint64_t Load(const uint64_t* e) { return __atomic_load_n(e, __ATOMIC_ACQUIRE); }
void Store(uint64_t* e, uint64_t v) { __atomic_store_n(e, v, __ATOMIC_RELEASE); }

int Index(uint64_t gva, int level) { return (gva >> (12 + 9 * level)) & 511; }

bool TableEmpty(const uint64_t* table) {
  for (int i = 0; i < 512; ++i) {
    if (Load(&table[i]) != 0) return false;
  }
  return true;
}

}  // namespace

uint64_t LeafEntry(uint64_t gpa, uint32_t prot, bool user) {
  // A and D preset: the CPU would otherwise write them, racing the engine's own updates.
  uint64_t e = (gpa & kAddrMask) | kMapped | kAccessed | kDirty;
  if (prot != kProtNone) e |= kPresent | kOwnPresent;
  if (prot & kProtWrite) e |= kWritable | kOwnWritable;
  if (!(prot & kProtExec)) e |= kNoExec;
  if (user) e |= kUser;
  return e;
}

absl::StatusOr<uint64_t> PagePool::Alloc() {
  uint64_t gpa;
  if (!free_.empty()) {
    gpa = free_.back();
    free_.pop_back();
  } else if (base_ + next_ < end_) {
    gpa = base_ + next_;
    next_ += kPage;
  } else {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "kvm: the engine-reserved memory at gpa 0x%x (%d KiB) is used up by page tables and "
        "vCPU pages",
        base_, (end_ - base_) / 1024));
  }
  std::memset(host_ + gpa, 0, kPage);
  return gpa;
}

void PagePool::Free(uint64_t gpa) { free_.push_back(gpa); }

absl::Status PageTables::Init() {
  absl::StatusOr<uint64_t> root = pool_.Alloc();
  if (!root.ok()) return root.status();
  root_ = *root;
  return absl::OkStatus();
}

uint64_t* PageTables::Table(uint64_t gpa) const {
  return reinterpret_cast<uint64_t*>(pool_.Host(gpa));
}

absl::StatusOr<uint64_t*> PageTables::Leaf(uint64_t gva, bool create) {
  uint64_t* table = Table(root_);
  for (int level = 3; level >= 1; --level) {
    uint64_t* slot = &table[Index(gva, level)];
    uint64_t e = Load(slot);
    if (!(e & kPresent)) {
      if (!create) return nullptr;
      absl::StatusOr<uint64_t> page = pool_.Alloc();
      if (!page.ok()) return page.status();
      e = *page | kTableEntryBits;
      Store(slot, e);
    }
    table = Table(e & kAddrMask);
  }
  return &table[Index(gva, 0)];
}

uint64_t* PageTables::LeafIfPresent(uint64_t gva) const {
  uint64_t* table = Table(root_);
  for (int level = 3; level >= 1; --level) {
    const uint64_t e = Load(&table[Index(gva, level)]);
    if (!(e & kPresent)) return nullptr;
    table = Table(e & kAddrMask);
  }
  return &table[Index(gva, 0)];
}

absl::Status PageTables::Map(uint64_t gva, uint64_t size, uint64_t gpa, uint32_t prot, bool user) {
  for (uint64_t off = 0; off < size; off += kPage) {
    const uint64_t* leaf = LeafIfPresent(gva + off);
    if (leaf != nullptr && Load(leaf) != 0) {
      return absl::AlreadyExistsError(
          absl::StrFormat("kvm: MapRegion: gva 0x%x is already mapped", gva + off));
    }
  }
  for (uint64_t off = 0; off < size; off += kPage) {
    absl::StatusOr<uint64_t*> leaf = Leaf(gva + off, /*create=*/true);
    if (!leaf.ok()) {
      bool restricted = false;
      Unmap(gva, off, &restricted);
      return leaf.status();
    }
    Store(*leaf, Restricted(gva + off, LeafEntry(gpa + off, prot, user)));
  }
  return absl::OkStatus();
}

void PageTables::Unmap(uint64_t gva, uint64_t size, bool* restricted) {
  const uint64_t end = gva + size;
  uint64_t addr = gva;
  uint64_t last_pruned = ~0ull;
  while (addr < end) {
    // Skip whole absent subtrees: munmap of a large sparse range must not walk every page.
    uint64_t* table = Table(root_);
    int level = 3;
    for (; level >= 1; --level) {
      const uint64_t e = Load(&table[Index(addr, level)]);
      if (!(e & kPresent)) break;
      table = Table(e & kAddrMask);
    }
    if (level >= 1) {
      const uint64_t span = 1ull << (12 + 9 * level);
      addr = (addr & ~(span - 1)) + span;
      continue;
    }
    uint64_t* leaf = &table[Index(addr, 0)];
    const uint64_t old = Load(leaf);
    if (old & kPresent) *restricted = true;
    if (old != 0) Store(leaf, 0);
    const uint64_t next = addr + kPage;
    const uint64_t pt_span = 1ull << 21;
    if (next >= end || (next & (pt_span - 1)) == 0) {
      const uint64_t pt_base = addr & ~(pt_span - 1);
      if (pt_base != last_pruned) {
        // A freed table may be reused for other addresses, so translations cached through it
        // must go too.
        if (PruneEmpty(addr)) *restricted = true;
        last_pruned = pt_base;
      }
    }
    addr = next;
  }
}

bool PageTables::PruneEmpty(uint64_t gva) {
  uint64_t* entries[4];  // entries[level]: the entry at that level pointing to the table below
  uint64_t* table = Table(root_);
  for (int level = 3; level >= 1; --level) {
    entries[level] = &table[Index(gva, level)];
    const uint64_t e = Load(entries[level]);
    if (!(e & kPresent)) return false;
    table = Table(e & kAddrMask);
  }
  bool freed = false;
  for (int level = 1; level <= 3; ++level) {
    const uint64_t child = Load(entries[level]) & kAddrMask;
    if (!TableEmpty(Table(child))) break;
    Store(entries[level], 0);
    pool_.Free(child);
    freed = true;
  }
  return freed;
}

absl::Status PageTables::Protect(uint64_t gva, uint64_t size, uint32_t prot, bool* restricted) {
  for (uint64_t off = 0; off < size; off += kPage) {
    const uint64_t* leaf = LeafIfPresent(gva + off);
    if (leaf == nullptr || !(Load(leaf) & kMapped)) {
      return absl::FailedPreconditionError(
          absl::StrFormat("kvm: ProtectRegion: gva 0x%x is not mapped", gva + off));
    }
  }
  for (uint64_t off = 0; off < size; off += kPage) {
    uint64_t* leaf = LeafIfPresent(gva + off);
    const uint64_t old = Load(leaf);
    const uint64_t now =
        Restricted(gva + off, LeafEntry(old & kAddrMask, prot, (old & kUser) != 0));
    if (old & kPresent) {
      if (!(now & kPresent) || ((old & kWritable) && !(now & kWritable)) ||
          (!(old & kNoExec) && (now & kNoExec))) {
        *restricted = true;
      }
    }
    if (now != old) Store(leaf, now);
  }
  return absl::OkStatus();
}

bool PageTables::UserAccessAllowed(uint64_t gva, uint64_t pf_error_code) const {
  const uint64_t* leaf = LeafIfPresent(gva);
  if (leaf == nullptr) return false;
  const uint64_t e = Load(leaf);
  if (!(e & kPresent) || !(e & kUser)) return false;
  if ((pf_error_code & kPfWrite) && !(e & kWritable)) return false;
  if ((pf_error_code & kPfFetch) && (e & kNoExec)) return false;
  return true;
}

uint64_t PageTables::Restricted(uint64_t gva, uint64_t entry) const {
  auto it = restrictions_.find(gva & ~(kPage - 1));
  if (it == restrictions_.end()) return entry;
  switch (it->second) {
    case PageRestriction::kNone:
      return entry;
    case PageRestriction::kNoWrite:
      return entry & ~kWritable;
    case PageRestriction::kNoAccess:
      return entry & ~(kPresent | kWritable);
  }
  return entry;
}

void PageTables::Restrict(uint64_t page, PageRestriction restriction, bool* restricted) {
  if (restriction == PageRestriction::kNone) {
    restrictions_.erase(page);
  } else {
    restrictions_[page] = restriction;
  }
  uint64_t* leaf = LeafIfPresent(page);
  if (leaf == nullptr) return;
  const uint64_t old = Load(leaf);
  if (!(old & kMapped)) return;
  uint64_t own = old & ~(kPresent | kWritable);
  if (old & kOwnPresent) own |= kPresent;
  if (old & kOwnWritable) own |= kWritable;
  const uint64_t now = Restricted(page, own);
  if ((old & kPresent) && (!(now & kPresent) || ((old & kWritable) && !(now & kWritable)))) {
    *restricted = true;
  }
  if (now != old) Store(leaf, now);
}

bool PageTables::RestrictionFault(uint64_t gva, uint64_t pf_error_code) const {
  if (!restrictions_.contains(gva & ~(kPage - 1))) return false;
  const uint64_t* leaf = LeafIfPresent(gva);
  if (leaf == nullptr) return false;
  const uint64_t e = Load(leaf);
  if (!(e & kMapped) || !(e & kUser) || !(e & kOwnPresent)) return false;
  if ((pf_error_code & kPfWrite) && !(e & kOwnWritable)) return false;
  if ((pf_error_code & kPfFetch) && (e & kNoExec)) return false;
  return true;
}

uint8_t* PageTables::UserHost(uint64_t gva) const {
  const uint64_t* leaf = LeafIfPresent(gva);
  if (leaf == nullptr) return nullptr;
  const uint64_t e = Load(leaf);
  if (!(e & kMapped) || !(e & kUser) || !(e & kOwnPresent)) return nullptr;
  return pool_.Host((e & kAddrMask) + (gva & (kPage - 1)));
}

}  // namespace km::kvm
