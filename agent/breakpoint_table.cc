#include "agent/breakpoint_table.h"

namespace agent {

absl::Status BreakpointTable::Insert(BreakpointKind kind, uint64_t addr, uint64_t len,
                                     const BreakpointActions& actions) {
  const Key key{kind, addr, len};
  const BreakpointActions* in_km = nullptr;
  if (auto it = active_.find(key); it != active_.end()) {
    in_km = &it->second;
  } else if (auto d = deferred_.find(key); d != deferred_.end()) {
    in_km = &d->second;
  }
  if (in_km == nullptr || *in_km != actions) {
    absl::Status s = target_.InsertBreakpoint(kind, addr, len, actions);
    if (!s.ok()) return s;
  }
  deferred_.erase(key);
  active_[key] = actions;
  return absl::OkStatus();
}

absl::Status BreakpointTable::Remove(BreakpointKind kind, uint64_t addr, uint64_t len) {
  const Key key{kind, addr, len};
  auto it = active_.find(key);
  if (it == active_.end()) return absl::OkStatus();
  // km keeps a breakpoint whose commands persist past the session's end (a dprintf): one gdb
  // removed must leave km now, whatever becomes of the agent.
  if (!defer_ || it->second.persist_commands) {
    active_.erase(it);
    return target_.RemoveBreakpoint(kind, addr, len);
  }
  deferred_[key] = std::move(it->second);
  active_.erase(it);
  return absl::OkStatus();
}

absl::Status BreakpointTable::Flush(std::optional<uint64_t> keep_software_at) {
  absl::Status first_error;
  for (auto it = deferred_.begin(); it != deferred_.end();) {
    const auto& [kind, addr, len] = it->first;
    if (kind == BreakpointKind::kSoftware && addr == keep_software_at) {
      ++it;
      continue;
    }
    absl::Status s = target_.RemoveBreakpoint(kind, addr, len);
    if (!s.ok() && !absl::IsNotFound(s) && first_error.ok()) first_error = s;
    it = deferred_.erase(it);
  }
  return first_error;
}

absl::Status BreakpointTable::StopDeferring() {
  defer_ = false;
  return Flush();
}

bool BreakpointTable::Has(BreakpointKind kind, uint64_t addr) const {
  auto it = active_.lower_bound(Key{kind, addr, 0});
  return it != active_.end() && std::get<0>(it->first) == kind && std::get<1>(it->first) == addr;
}

bool BreakpointTable::WatchCovers(uint64_t addr) const {
  for (const auto& [key, actions] : active_) {
    const auto& [kind, start, len] = key;
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
