// gdb moves a thread off a software breakpoint by removing it, stepping that one thread and
// inserting it again: z0, vCont;s, Z0, two RPCs on every continue from a breakpoint and every
// false conditional hit. km steps over a breakpoint under a resumed thread's pc by itself, so
// while only that thread steps from that address the removal changes nothing: it is held back,
// and the insertion that follows cancels it. Anything else that resumes the target first makes
// the held-back removals happen.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "agent/target.h"

namespace agent {

class StepOverRemovals {
 public:
  // Where a stopped thread stands; a resumed thread's pc is unknown until its next stop.
  void Stopped(int tid, uint64_t rip) { rips_[tid] = rip; }
  void Resumed(const std::vector<ThreadAction>& actions);
  void Exited(int tid) { rips_.erase(tid); }

  // What km has: software breakpoints inserted and removed through RPCs; none after a detach.
  void Inserted(uint64_t addr) { inserted_.insert(addr); }
  void Removed(uint64_t addr) { inserted_.erase(addr); }
  void Detached();

  // A software breakpoint's removal. True: held back, nothing to do now.
  bool Hold(uint64_t addr);
  // A software breakpoint's insertion. True: it cancels a held-back removal, nothing to do now.
  bool Cancel(uint64_t addr) { return held_.erase(addr) != 0; }
  // Before the target resumes: the removals to do first (all of them, unless the resume only
  // steps one thread standing on the one held-back address).
  std::vector<uint64_t> TakeBefore(const std::vector<ThreadAction>& actions);

 private:
  std::map<int, uint64_t> rips_;
  std::set<uint64_t> inserted_;
  std::set<uint64_t> held_;
};

}  // namespace agent
