#include "km_hooks/breakpoint_actions.h"

#include "absl/strings/str_format.h"
#include "km/regs.h"
#include "km_hooks/agent_expr.h"
#include "km_hooks/gdb_registers.h"

namespace km_hooks {
namespace {

bool Persists(const BreakpointActions& actions) {
  return actions.persist && !actions.commands.empty();
}

}  // namespace

absl::Status BreakpointActionTable::Validate(const BreakpointActions& actions) {
  if (actions.conditions.size() > kMaxConditionsPerBreakpoint) {
    return absl::InvalidArgumentError(absl::StrFormat("%d conditions: at most %d per breakpoint",
                                                      actions.conditions.size(),
                                                      kMaxConditionsPerBreakpoint));
  }
  if (actions.commands.size() > kMaxCommandsPerBreakpoint) {
    return absl::InvalidArgumentError(absl::StrFormat("%d commands: at most %d per breakpoint",
                                                      actions.commands.size(),
                                                      kMaxCommandsPerBreakpoint));
  }
  for (const auto* list : {&actions.conditions, &actions.commands}) {
    for (const std::string& expr : *list) {
      if (absl::Status s = ValidateAgentExpr(expr); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

void BreakpointActionTable::Set(bool hardware, uint64_t addr, BreakpointActions actions) {
  absl::MutexLock lock(&mu_);
  if (actions.conditions.empty() && actions.commands.empty()) {
    actions_.erase(Key{hardware, addr});
    return;
  }
  actions_[Key{hardware, addr}] = std::make_shared<const BreakpointActions>(std::move(actions));
}

void BreakpointActionTable::Clear(bool hardware, uint64_t addr) {
  absl::MutexLock lock(&mu_);
  actions_.erase(Key{hardware, addr});
}

void BreakpointActionTable::ClearAll() {
  absl::MutexLock lock(&mu_);
  actions_.clear();
}

std::vector<std::pair<bool, uint64_t>> BreakpointActionTable::Persistent() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<Key> kept;
  for (const auto& [key, actions] : actions_) {
    if (Persists(*actions)) kept.push_back(key);
  }
  return kept;
}

void BreakpointActionTable::KeepPersistent() {
  absl::MutexLock lock(&mu_);
  for (auto it = actions_.begin(); it != actions_.end();) {
    if (Persists(*it->second)) {
      ++it;
    } else {
      actions_.erase(it++);
    }
  }
}

bool BreakpointActionTable::OnHit(bool hardware, uint64_t addr, const km::Regs& regs,
                                  int tid) {
  Entry actions;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = actions_.find(Key{hardware, addr});
    if (it == actions_.end()) return true;
    actions = it->second;
  }
  auto reg = [&regs](int regnum) { return RegisterByGdbNumber(regs, regnum); };
  auto read = [this](uint64_t a, void* dst, size_t len) {
    return memory_.Read(a, dst, len) == len;
  };
  const AgentExprEnv env{reg, read};
  bool wanted = actions->conditions.empty();
  for (const std::string& condition : actions->conditions) {
    absl::StatusOr<uint64_t> value = EvalAgentExpr(condition, env);
    if (!value.ok()) {
      // gdb would evaluate it at the stop; a dprintf's hit, though, never stops the payload.
      if (actions->commands.empty()) return true;
      print_(absl::StrFormat("km: breakpoint condition at 0x%x (thread %d): %s\n", addr,
                             tid, value.status().message()));
      return false;
    }
    if (*value != 0) {
      wanted = true;
      break;
    }
  }
  if (!wanted) return false;
  if (actions->commands.empty()) return true;
  std::string out;
  for (const std::string& command : actions->commands) {
    absl::StatusOr<std::string> printed = RunAgentCommand(command, env);
    if (!printed.ok()) {
      absl::StrAppendFormat(&out, "km: breakpoint command at 0x%x (thread %d): %s\n", addr,
                            tid, printed.status().message());
      break;
    }
    out += *printed;
  }
  if (!out.empty()) print_(out);
  return false;
}

}  // namespace km_hooks
