// The breakpoints and watchpoints gdb has inserted. gdb removes every one of them at each stop
// and inserts them again before it resumes; passing that through would cost two RPCs per
// breakpoint per step. Removals are therefore deferred until the next resume (but for a
// breakpoint whose commands persist, which km would keep after the session), and an insert
// of something still in km costs nothing, unless gdb sends other conditions or commands with
// it: then km gets the insert again, which replaces them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "agent/target.h"

namespace agent {

class BreakpointTable {
 public:
  explicit BreakpointTable(Target& target) : target_(target) {}

  absl::Status Insert(BreakpointKind kind, uint64_t addr, uint64_t len,
                      const BreakpointActions& actions);
  // Deferred: the breakpoint stays in km until Flush, but no longer counts as gdb's.
  absl::Status Remove(BreakpointKind kind, uint64_t addr, uint64_t len);
  // Takes out of km everything gdb removed; call before the target runs. keep_software_at: a
  // software breakpoint removed there stays in km, still to be taken out at a later Flush.
  absl::Status Flush(std::optional<uint64_t> keep_software_at = std::nullopt);
  // Non-stop: threads run while gdb removes a breakpoint, and gdb no longer removes and
  // re-inserts them at each stop, so removals reach km at once (after a Flush of the deferred).
  absl::Status StopDeferring();

  // gdb has a breakpoint of this kind at addr.
  bool Has(BreakpointKind kind, uint64_t addr) const;
  // gdb has a watchpoint covering addr.
  bool WatchCovers(uint64_t addr) const;

  // km dropped everything (the session ended): forget it all without RPCs.
  void Clear();

 private:
  using Key = std::tuple<BreakpointKind, uint64_t, uint64_t>;  // kind, addr, len
  Target& target_;
  std::map<Key, BreakpointActions> active_;    // gdb's, with the actions km has
  std::map<Key, BreakpointActions> deferred_;  // removed by gdb, still in km
  bool defer_ = true;
};

}  // namespace agent
