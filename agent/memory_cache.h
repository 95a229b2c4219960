// Guest memory as gdb sees it during one stop. At every step gdb reads the bytes at pc twice
// and a function's prologue once more; each read would be an RPC. While everything is stopped
// memory changes only through the agent's own writes, so whole pages are fetched once and
// served from here until the target runs again.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/target.h"

namespace agent {

class MemoryCache {
 public:
  static constexpr uint64_t kPageSize = 4096;

  explicit MemoryCache(Target& target) : target_(target) {}

  // Like Target::ReadMemory: short at the end of mapped memory, an error if nothing is readable.
  absl::StatusOr<std::string> Read(uint64_t addr, uint64_t len);
  absl::Status Write(uint64_t addr, absl::string_view data);
  // Bytes the target sent with the stop (the stack around rsp): reads inside them cost no RPC.
  void Seed(uint64_t addr, std::string bytes) {
    if (!enabled_) return;
    seed_addr_ = addr;
    seed_ = std::move(bytes);
  }
  // The target ran (or may have): nothing here holds any more.
  void Invalidate() {
    pages_.clear();
    seed_.clear();
  }
  // Non-stop: some thread may be running at any read, so nothing is kept at all.
  void Disable() {
    enabled_ = false;
    Invalidate();
  }

 private:
  Target& target_;
  std::map<uint64_t, std::string> pages_;  // page address -> its readable prefix
  uint64_t seed_addr_ = 0;
  std::string seed_;
  bool enabled_ = true;
};

}  // namespace agent
