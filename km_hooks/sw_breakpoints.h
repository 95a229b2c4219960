// Software breakpoints: km owns each int3 it puts in guest memory and the byte it replaced, so
// that the debugger's reads see the original bytes and its writes never lose an int3.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "km/engine.h"
#include "km/guest_memory.h"

namespace km_hooks {

class SwBreakpoints {
 public:
  SwBreakpoints(km::GuestMemory& mem, km::Engine& engine) : mem_(mem), engine_(engine) {}

  // Inserting twice at one address is one breakpoint (gdb re-inserts freely).
  absl::Status Insert(uint64_t addr);
  absl::Status Remove(uint64_t addr);
  // Restores every original byte but those of keep: what detach and a dead client leave
  // behind (keep: breakpoints whose commands outlive the session).
  void RemoveAll(const std::vector<uint64_t>& keep = {});
  bool Contains(uint64_t addr) const;
  // The byte the int3 at addr replaced, for a step past it (Vcpu::StepOverBreakpoint, which
  // keeps the int3 in place for every other thread).
  std::optional<uint8_t> Original(uint64_t addr) const;

  // Debugger memory access that hides the int3s: reads return original bytes, writes update the
  // saved byte where a breakpoint sits and leave the int3 in place.
  uint64_t Read(uint64_t addr, void* dst, uint64_t len) const;
  uint64_t Write(uint64_t addr, const void* src, uint64_t len);

 private:
  // Puts the original byte back where the int3 still is.
  void RestoreLocked(uint64_t addr, uint8_t original) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  km::GuestMemory& mem_;
  km::Engine& engine_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, uint8_t> original_ ABSL_GUARDED_BY(mu_);
};

}  // namespace km_hooks
