#include "agent/memory_cache.h"

namespace agent {

absl::StatusOr<std::string> MemoryCache::Read(uint64_t addr, uint64_t len) {
  if (len != 0 && addr >= seed_addr_ && addr - seed_addr_ <= seed_.size() &&
      len <= seed_.size() - (addr - seed_addr_)) {
    return seed_.substr(addr - seed_addr_, len);
  }
  const uint64_t page = addr & ~(kPageSize - 1);
  const uint64_t offset = addr - page;
  // Only reads within one page are cached; bigger ones are rare (x/1000x) and go straight on.
  if (!enabled_ || len == 0 || offset + len > kPageSize) return target_.ReadMemory(addr, len);
  auto it = pages_.find(page);
  if (it == pages_.end()) {
    absl::StatusOr<std::string> data = target_.ReadMemory(page, kPageSize);
    // Unreadable from the page start (a mapping may begin inside it): ask for just the range.
    if (!data.ok()) return target_.ReadMemory(addr, len);
    it = pages_.emplace(page, *std::move(data)).first;
  }
  const std::string& bytes = it->second;
  if (offset >= bytes.size()) return target_.ReadMemory(addr, len);
  return bytes.substr(offset, len);
}

absl::Status MemoryCache::Write(uint64_t addr, absl::string_view data) {
  absl::Status s = target_.WriteMemory(addr, data);
  // Even a failed write may have written a part.
  Invalidate();
  return s;
}

}  // namespace agent
