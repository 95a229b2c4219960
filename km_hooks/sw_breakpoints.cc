#include "km_hooks/sw_breakpoints.h"

#include <cstring>

#include "absl/strings/str_format.h"

namespace km_hooks {
namespace {
constexpr uint8_t kInt3 = 0xcc;
}

absl::Status SwBreakpoints::Insert(uint64_t addr) {
  absl::MutexLock lock(&mu_);
  if (original_.contains(addr)) return absl::OkStatus();
  uint8_t byte;
  if (mem_.ReadIgnoringProt(addr, &byte, 1) != 1) {
    return absl::InvalidArgumentError(
        absl::StrFormat("cannot insert breakpoint at 0x%x: address not mapped", addr));
  }
  if (mem_.WriteIgnoringProt(addr, &kInt3, 1) != 1) {
    return absl::InternalError(absl::StrFormat("cannot write int3 at 0x%x", addr));
  }
  engine_.CodeModified(addr, 1);
  original_[addr] = byte;
  return absl::OkStatus();
}

absl::Status SwBreakpoints::Remove(uint64_t addr) {
  absl::MutexLock lock(&mu_);
  auto it = original_.find(addr);
  if (it == original_.end()) {
    return absl::NotFoundError(absl::StrFormat("no breakpoint at 0x%x", addr));
  }
  // The page may have been unmapped since; then there is nothing left to restore.
  mem_.WriteIgnoringProt(addr, &it->second, 1);
  engine_.CodeModified(addr, 1);
  original_.erase(it);
  suspended_.erase(addr);
  return absl::OkStatus();
}

void SwBreakpoints::RemoveAll() {
  absl::MutexLock lock(&mu_);
  for (const auto& [addr, byte] : original_) {
    mem_.WriteIgnoringProt(addr, &byte, 1);
    engine_.CodeModified(addr, 1);
  }
  original_.clear();
  suspended_.clear();
}

void SwBreakpoints::Suspend(uint64_t addr) {
  absl::MutexLock lock(&mu_);
  auto it = original_.find(addr);
  if (it == original_.end() || !suspended_.insert(addr).second) return;
  mem_.WriteIgnoringProt(addr, &it->second, 1);
  engine_.CodeModified(addr, 1);
}

void SwBreakpoints::Unsuspend(uint64_t addr) {
  absl::MutexLock lock(&mu_);
  if (suspended_.erase(addr) == 0 || !original_.contains(addr)) return;
  mem_.WriteIgnoringProt(addr, &kInt3, 1);
  engine_.CodeModified(addr, 1);
}

bool SwBreakpoints::Contains(uint64_t addr) const {
  absl::ReaderMutexLock lock(&mu_);
  return original_.contains(addr);
}

uint64_t SwBreakpoints::Read(uint64_t addr, void* dst, uint64_t len) const {
  absl::ReaderMutexLock lock(&mu_);
  uint64_t n = mem_.ReadIgnoringProt(addr, dst, len);
  auto* out = static_cast<uint8_t*>(dst);
  for (const auto& [bp, byte] : original_) {
    if (bp >= addr && bp - addr < n) out[bp - addr] = byte;
  }
  return n;
}

uint64_t SwBreakpoints::Write(uint64_t addr, const void* src, uint64_t len) {
  absl::MutexLock lock(&mu_);
  uint64_t n = mem_.WriteIgnoringProt(addr, src, len);
  const auto* in = static_cast<const uint8_t*>(src);
  for (auto& [bp, byte] : original_) {
    if (bp >= addr && bp - addr < n) {
      byte = in[bp - addr];
      if (!suspended_.contains(bp)) mem_.WriteIgnoringProt(bp, &kInt3, 1);
    }
  }
  if (n > 0) engine_.CodeModified(addr, n);
  return n;
}

}  // namespace km_hooks
