#include "km_hooks/sw_breakpoints.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_format.h"
#include "km/code_patch.h"

namespace km_hooks {

using km::kInt3;

absl::Status SwBreakpoints::Insert(uint64_t addr, Holder holder) {
  absl::MutexLock lock(&mu_);
  if (auto it = int3s_.find(addr); it != int3s_.end()) {
    it->second.holders |= static_cast<uint8_t>(holder);
    return absl::OkStatus();
  }
  uint8_t byte;
  if (mem_.ReadIgnoringProt(addr, &byte, 1) != 1) {
    return absl::InvalidArgumentError(
        absl::StrFormat("cannot insert breakpoint at 0x%x: address not mapped", addr));
  }
  uint64_t written = 0;
  engine_.WriteCode(addr, 1, [&] { written = mem_.WriteIgnoringProt(addr, &kInt3, 1); });
  if (written != 1) {
    return absl::InternalError(absl::StrFormat("cannot write int3 at 0x%x", addr));
  }
  int3s_[addr] = Int3{byte, static_cast<uint8_t>(holder)};
  return absl::OkStatus();
}

absl::Status SwBreakpoints::Remove(uint64_t addr, Holder holder) {
  absl::MutexLock lock(&mu_);
  auto it = int3s_.find(addr);
  const uint8_t bit = static_cast<uint8_t>(holder);
  if (it == int3s_.end() || !(it->second.holders & bit)) {
    return absl::NotFoundError(absl::StrFormat("no breakpoint at 0x%x", addr));
  }
  it->second.holders &= ~bit;
  if (it->second.holders != 0) return absl::OkStatus();
  km::RestoreInt3(engine_, mem_, addr, it->second.original);
  int3s_.erase(it);
  return absl::OkStatus();
}

void SwBreakpoints::RemoveAll(const std::vector<uint64_t>& keep) {
  absl::MutexLock lock(&mu_);
  for (auto it = int3s_.begin(); it != int3s_.end();) {
    if (std::find(keep.begin(), keep.end(), it->first) != keep.end()) {
      it->second.holders = static_cast<uint8_t>(Holder::kDebugger);
      ++it;
      continue;
    }
    km::RestoreInt3(engine_, mem_, it->first, it->second.original);
    int3s_.erase(it++);
  }
}

bool SwBreakpoints::Contains(uint64_t addr) const {
  absl::ReaderMutexLock lock(&mu_);
  return int3s_.contains(addr);
}

bool SwBreakpoints::HeldBy(uint64_t addr, Holder holder) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = int3s_.find(addr);
  return it != int3s_.end() && (it->second.holders & static_cast<uint8_t>(holder));
}

std::vector<std::pair<uint64_t, uint8_t>> SwBreakpoints::Originals() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<uint64_t, uint8_t>> out;
  out.reserve(int3s_.size());
  for (const auto& [addr, int3] : int3s_) out.emplace_back(addr, int3.original);
  return out;
}

std::optional<uint8_t> SwBreakpoints::Original(uint64_t addr) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = int3s_.find(addr);
  if (it == int3s_.end()) return std::nullopt;
  return it->second.original;
}

uint64_t SwBreakpoints::Read(uint64_t addr, void* dst, uint64_t len) const {
  absl::ReaderMutexLock lock(&mu_);
  uint64_t n = mem_.ReadIgnoringProt(addr, dst, len);
  auto* out = static_cast<uint8_t*>(dst);
  for (const auto& [bp, int3] : int3s_) {
    if (bp >= addr && bp - addr < n) out[bp - addr] = int3.original;
  }
  return n;
}

uint64_t SwBreakpoints::Write(uint64_t addr, const void* src, uint64_t len) {
  absl::MutexLock lock(&mu_);
  // The int3s stay in what is stored, so that no thread ever runs past one while it is written.
  std::string bytes(static_cast<const char*>(src), len);
  for (const auto& [bp, int3] : int3s_) {
    if (bp >= addr && bp - addr < len) bytes[bp - addr] = static_cast<char>(kInt3);
  }
  uint64_t n = 0;
  engine_.WriteCode(addr, len, [&] { n = mem_.WriteIgnoringProt(addr, bytes.data(), len); });
  const auto* in = static_cast<const uint8_t*>(src);
  for (auto& [bp, int3] : int3s_) {
    if (bp >= addr && bp - addr < n) int3.original = in[bp - addr];
  }
  return n;
}

}  // namespace km_hooks
