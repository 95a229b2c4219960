#include "agent/step_over_removals.h"

namespace agent {

void StepOverRemovals::Resumed(const std::vector<ThreadAction>& actions) {
  for (const ThreadAction& a : actions) {
    if (a.tid == 0) {
      rips_.clear();
      return;
    }
    rips_.erase(a.tid);
  }
}

void StepOverRemovals::Detached() {
  rips_.clear();
  inserted_.clear();
  held_.clear();
}

bool StepOverRemovals::Hold(uint64_t addr) {
  // A removal km would refuse goes to km, for its error. Worth holding only when a thread
  // stands on it: that is the step-over about to happen.
  if (inserted_.count(addr) == 0) return false;
  for (const auto& [tid, rip] : rips_) {
    if (rip == addr) {
      held_.insert(addr);
      return true;
    }
  }
  return false;
}

std::vector<uint64_t> StepOverRemovals::TakeBefore(const std::vector<ThreadAction>& actions) {
  if (held_.empty()) return {};
  if (actions.size() == 1 && actions[0].tid != 0 && actions[0].mode == ResumeMode::kStep &&
      actions[0].linux_signal == 0 && held_.size() == 1) {
    auto it = rips_.find(actions[0].tid);
    if (it != rips_.end() && it->second == *held_.begin()) return {};
  }
  std::vector<uint64_t> out(held_.begin(), held_.end());
  for (uint64_t addr : out) inserted_.erase(addr);
  held_.clear();
  return out;
}

}  // namespace agent
