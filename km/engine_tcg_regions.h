// The tcg engine's copy of the guest address space: which guest-virtual ranges are mapped, to
// which guest-physical bytes, with what protection. Unicorn keeps its own list inside each
// uc_engine; this one lets a vCPU created later map everything, and splits exactly where
// Unicorn splits, so both agree on how many regions exist (Unicorn aborts near 4,000).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

namespace km::tcg {

struct TcgRegion {
  uint64_t gva = 0;
  uint64_t size = 0;
  uint64_t gpa = 0;
  uint32_t prot = 0;
  uint64_t end() const { return gva + size; }
};

class RegionTable {
 public:
  bool Overlaps(uint64_t gva, uint64_t size) const;
  void Insert(const TcgRegion& region);
  // The mapped parts of [gva, gva + size), clipped to it, in address order.
  std::vector<TcgRegion> Pieces(uint64_t gva, uint64_t size) const;
  void Remove(uint64_t gva, uint64_t size);
  void Protect(uint64_t gva, uint64_t size, uint32_t prot);
  // Whether addr lies in a region with every bit of prot.
  bool Allows(uint64_t addr, uint32_t prot) const;
  std::vector<TcgRegion> All() const;
  size_t count() const { return regions_.size(); }

 private:
  // Splits the region strictly containing addr, if any, at addr.
  void SplitAt(uint64_t addr);

  std::map<uint64_t, TcgRegion> regions_;  // by gva
};

}  // namespace km::tcg
