#include "km_hooks/breakpoint_conditions.h"

#include <optional>

#include "absl/strings/str_format.h"
#include "km/regs.h"
#include "km_hooks/agent_expr.h"

namespace km_hooks {
namespace {

// gdb's remote register numbers for amd64 (the agent's target description), as far as km's
// general registers reach.
std::optional<uint64_t> RegisterByGdbNumber(const km::Regs& r, int regnum) {
  const uint64_t gpr[] = {r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp,
                          r.r8,  r.r9,  r.r10, r.r11, r.r12, r.r13, r.r14, r.r15};
  if (regnum >= 0 && regnum < 16) return gpr[regnum];
  switch (regnum) {
    case 16: return r.rip;
    case 17: return r.rflags;
    case 18: return r.cs;
    case 19: return r.ss;
    case 20: return r.ds;
    case 21: return r.es;
    case 22: return r.fs;
    case 23: return r.gs;
    case 58: return r.fs_base;
    case 59: return r.gs_base;
    default: return std::nullopt;
  }
}

}  // namespace

absl::Status BreakpointConditions::Validate(const std::vector<std::string>& conditions) {
  if (conditions.size() > kMaxConditionsPerBreakpoint) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%d conditions: at most %d per breakpoint", conditions.size(), kMaxConditionsPerBreakpoint));
  }
  for (const std::string& c : conditions) {
    if (absl::Status s = ValidateAgentExpr(c); !s.ok()) return s;
  }
  return absl::OkStatus();
}

void BreakpointConditions::Set(bool hardware, uint64_t addr, std::vector<std::string> conditions) {
  absl::MutexLock lock(&mu_);
  if (conditions.empty()) {
    conditions_.erase(Key{hardware, addr});
    return;
  }
  conditions_[Key{hardware, addr}] =
      std::make_shared<const std::vector<std::string>>(std::move(conditions));
}

void BreakpointConditions::Clear(bool hardware, uint64_t addr) {
  absl::MutexLock lock(&mu_);
  conditions_.erase(Key{hardware, addr});
}

void BreakpointConditions::ClearAll() {
  absl::MutexLock lock(&mu_);
  conditions_.clear();
}

bool BreakpointConditions::ShouldStop(bool hardware, uint64_t addr, km::GuestThread& thread) {
  List list;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = conditions_.find(Key{hardware, addr});
    if (it == conditions_.end()) return true;
    list = it->second;
  }
  km::Regs regs;
  if (!thread.GetRegs(&regs).ok()) return true;
  auto reg = [&regs](int regnum) { return RegisterByGdbNumber(regs, regnum); };
  auto read = [this](uint64_t a, void* dst, size_t len) { return memory_.Read(a, dst, len) == len; };
  const AgentExprEnv env{reg, read};
  for (const std::string& condition : *list) {
    absl::StatusOr<uint64_t> value = EvalAgentExpr(condition, env);
    if (!value.ok() || *value != 0) return true;
  }
  return false;
}

}  // namespace km_hooks
