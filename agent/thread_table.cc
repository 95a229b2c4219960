#include "agent/thread_table.h"

#include <csignal>

#include "absl/strings/str_format.h"

namespace agent {

int FatalSignal(const std::vector<ThreadAction>& actions) {
  for (const ThreadAction& a : actions) {
    const int s = a.linux_signal;
    if (s != 0 && s != SIGCHLD && s != SIGURG && s != SIGWINCH && s != SIGCONT) return s;
  }
  return 0;
}

std::vector<int> ThreadTable::Threads() const {
  std::vector<int> out;
  for (const auto& [tid, t] : records_) out.push_back(tid);
  return out;
}

absl::StatusOr<ThreadRecord*> ThreadTable::FindStopped(int tid) {
  auto it = records_.find(tid);
  if (it == records_.end()) return absl::NotFoundError(absl::StrFormat("no thread %d", tid));
  if (it->second.running || !it->second.stop) {
    return absl::FailedPreconditionError(absl::StrFormat("thread %d is running", tid));
  }
  return &it->second;
}

absl::StatusOr<amd64::Registers> ThreadTable::Registers(int tid, bool fpu) {
  absl::StatusOr<ThreadRecord*> t = FindStopped(tid);
  if (!t.ok()) return t.status();
  if (fpu && !(*t)->fpu) {
    absl::StatusOr<amd64::Registers> full = target_->ReadRegisters(tid, /*fpu=*/true);
    if (!full.ok()) return full.status();
    (*t)->fpu = full->fpu;
  }
  return amd64::Registers{(*t)->stop->regs, (*t)->fpu};
}

absl::Status ThreadTable::SetRegisters(int tid, const amd64::Registers& regs) {
  absl::StatusOr<ThreadRecord*> t = FindStopped(tid);
  if (!t.ok()) return t.status();
  absl::Status s = target_->WriteRegisters(tid, regs);
  if (!s.ok()) return s;
  (*t)->stop->regs = regs.general;
  if (regs.fpu) (*t)->fpu = regs.fpu;
  return absl::OkStatus();
}

}  // namespace agent
