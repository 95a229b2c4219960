#include "agent/breakpoint_table.h"

namespace agent {

absl::Status BreakpointTable::Insert(BreakpointKind kind, uint64_t addr, uint64_t len) {
  const Key key{kind, addr, len};
  if (active_.count(key) != 0) return absl::OkStatus();
  if (deferred_.erase(key) == 0) {
    absl::Status s = target_.InsertBreakpoint(kind, addr, len);
    if (!s.ok()) return s;
  }
  active_.insert(key);
  return absl::OkStatus();
}

absl::Status BreakpointTable::Remove(BreakpointKind kind, uint64_t addr, uint64_t len) {
  const Key key{kind, addr, len};
  if (active_.erase(key) == 0) return absl::OkStatus();
  if (!defer_) return target_.RemoveBreakpoint(kind, addr, len);
  deferred_.insert(key);
  return absl::OkStatus();
}

absl::Status BreakpointTable::Flush() {
  absl::Status first_error;
  for (const auto& [kind, addr, len] : deferred_) {
    absl::Status s = target_.RemoveBreakpoint(kind, addr, len);
    if (!s.ok() && !absl::IsNotFound(s) && first_error.ok()) first_error = s;
  }
  deferred_.clear();
  return first_error;
}

absl::Status BreakpointTable::StopDeferring() {
  defer_ = false;
  return Flush();
}

bool BreakpointTable::Has(BreakpointKind kind, uint64_t addr) const {
  auto it = active_.lower_bound(Key{kind, addr, 0});
  return it != active_.end() && std::get<0>(*it) == kind && std::get<1>(*it) == addr;
}

bool BreakpointTable::WatchCovers(uint64_t addr) const {
  for (const auto& [kind, start, len] : active_) {
    const bool watch = kind == BreakpointKind::kWatchWrite || kind == BreakpointKind::kWatchRead ||
                       kind == BreakpointKind::kWatchAccess;
    if (watch && addr >= start && addr - start < len) return true;
  }
  return false;
}

void BreakpointTable::Clear() {
  active_.clear();
  deferred_.clear();
}

}  // namespace agent
