#include "km/engine_tcg_regions.h"

#include <algorithm>

namespace km::tcg {

bool RegionTable::Overlaps(uint64_t gva, uint64_t size) const { return !Pieces(gva, size).empty(); }

void RegionTable::Insert(const TcgRegion& region) { regions_[region.gva] = region; }

std::vector<TcgRegion> RegionTable::Pieces(uint64_t gva, uint64_t size) const {
  std::vector<TcgRegion> pieces;
  const uint64_t end = gva + size;
  auto it = regions_.upper_bound(gva);
  if (it != regions_.begin()) --it;
  for (; it != regions_.end() && it->second.gva < end; ++it) {
    const TcgRegion& r = it->second;
    const uint64_t lo = std::max(r.gva, gva);
    const uint64_t hi = std::min(r.end(), end);
    if (lo >= hi) continue;
    pieces.push_back(TcgRegion{lo, hi - lo, r.gpa + (lo - r.gva), r.prot});
  }
  return pieces;
}

void RegionTable::SplitAt(uint64_t addr) {
  auto it = regions_.upper_bound(addr);
  if (it == regions_.begin()) return;
  --it;
  TcgRegion& r = it->second;
  if (r.gva >= addr || r.end() <= addr) return;
  TcgRegion tail{addr, r.end() - addr, r.gpa + (addr - r.gva), r.prot};
  r.size = addr - r.gva;
  regions_[addr] = tail;
}

void RegionTable::Remove(uint64_t gva, uint64_t size) {
  SplitAt(gva);
  SplitAt(gva + size);
  regions_.erase(regions_.lower_bound(gva), regions_.lower_bound(gva + size));
}

void RegionTable::Protect(uint64_t gva, uint64_t size, uint32_t prot) {
  SplitAt(gva);
  SplitAt(gva + size);
  for (auto it = regions_.lower_bound(gva); it != regions_.lower_bound(gva + size); ++it) {
    it->second.prot = prot;
  }
}

bool RegionTable::Allows(uint64_t addr, uint32_t prot) const {
  auto it = regions_.upper_bound(addr);
  if (it == regions_.begin()) return false;
  --it;
  return addr < it->second.end() && (it->second.prot & prot) == prot;
}

std::vector<TcgRegion> RegionTable::All() const {
  std::vector<TcgRegion> all;
  all.reserve(regions_.size());
  for (const auto& [gva, r] : regions_) all.push_back(r);
  return all;
}

}  // namespace km::tcg
