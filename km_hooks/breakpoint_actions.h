// What gdb asks km to do at its breakpoints' hits instead of stopping for it: the conditions
// (agent expressions, see agent_expr.h) that decide whether a hit stops the thread, and the
// commands (a dprintf's printf with `set dprintf-style agent`) that km runs at a hit instead of
// reporting it. Deciding in km saves the event, the agent's stop handling and gdb's round trips
// for each such hit.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "km/regs.h"
#include "km_hooks/sw_breakpoints.h"

namespace km_hooks {

// More than gdb ever sends for one address (one per breakpoint location there).
inline constexpr size_t kMaxConditionsPerBreakpoint = 64;
inline constexpr size_t kMaxCommandsPerBreakpoint = 64;

struct BreakpointActions {
  std::vector<std::string> conditions;
  std::vector<std::string> commands;
  // The commands go on running after the debugger's session ends (gdb's disconnected-dprintf):
  // km keeps such a breakpoint until a new session starts.
  bool persist = false;
};

class BreakpointActionTable {
 public:
  // Memory is read as the debugger sees it: breakpoint bytes read as the original code. print
  // takes what the commands printed, and the one-line reason when a command fails.
  BreakpointActionTable(const SwBreakpoints& memory, std::function<void(absl::string_view)> print)
      : memory_(memory), print_(std::move(print)) {}

  // Checks every expression (InvalidArgument if one is malformed) before anything changes.
  static absl::Status Validate(const BreakpointActions& actions);
  // Replaces the actions of the breakpoint at addr; none makes it a plain breakpoint.
  void Set(bool hardware, uint64_t addr, BreakpointActions actions);
  void Clear(bool hardware, uint64_t addr);
  void ClearAll();
  // The breakpoints whose commands persist (hardware, address).
  std::vector<std::pair<bool, uint64_t>> Persistent() const;
  // Drops the actions of every other breakpoint.
  void KeepPersistent();

  // At a hit on the breakpoint at addr by a thread outside Run(): true to report the stop,
  // which is when it has no actions, or a condition is true or cannot be evaluated (gdb then
  // evaluates it itself, as it does with gdbserver) and there are no commands. When the
  // conditions allow and there are commands, they run and the thread goes on; with commands,
  // a condition that cannot be evaluated prints why instead, and the thread goes on too.
  // regs: the thread's (tid's), rip at the breakpoint.
  bool OnHit(bool hardware, uint64_t addr, const km::Regs& regs, int tid);

 private:
  using Key = std::pair<bool, uint64_t>;
  using Entry = std::shared_ptr<const BreakpointActions>;

  const SwBreakpoints& memory_;
  const std::function<void(absl::string_view)> print_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<Key, Entry> actions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace km_hooks
