// The conditions gdb attached to its breakpoints (agent expressions, see agent_expr.h), and the
// decision at a hit: report the stop, or let the thread run on because every condition is
// false. Deciding in km saves the event, the agent's stop handling and gdb's round trips for
// each false hit.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "km/runtime/guest_thread.h"
#include "km_hooks/sw_breakpoints.h"

namespace km_hooks {

// More than gdb ever sends for one address (one per breakpoint location there).
inline constexpr size_t kMaxConditionsPerBreakpoint = 64;

class BreakpointConditions {
 public:
  // Memory is read as the debugger sees it: breakpoint bytes read as the original code.
  explicit BreakpointConditions(const SwBreakpoints& memory) : memory_(memory) {}

  // Checks every expression (InvalidArgument if one is malformed) before anything changes.
  static absl::Status Validate(const std::vector<std::string>& conditions);
  // Replaces the conditions of the breakpoint at addr; none makes it unconditional.
  void Set(bool hardware, uint64_t addr, std::vector<std::string> conditions);
  void Clear(bool hardware, uint64_t addr);
  void ClearAll();

  // At a hit on the breakpoint at addr by a thread outside Run(): true to report the stop,
  // which is when it has no conditions, one is true, or one cannot be evaluated (gdb then
  // evaluates it itself, as it does with gdbserver).
  bool ShouldStop(bool hardware, uint64_t addr, km::GuestThread& thread);

 private:
  using Key = std::pair<bool, uint64_t>;
  using List = std::shared_ptr<const std::vector<std::string>>;

  const SwBreakpoints& memory_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<Key, List> conditions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace km_hooks
