// Software breakpoints: km owns each int3 it puts in guest memory and the byte it replaced, so
// that the debugger's reads see the original bytes and its writes never lose an int3.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "km/engine.h"
#include "km/guest_memory.h"

namespace km_hooks {

// Who wants an int3 at an address: the debugger's breakpoints and the trace run's tracepoints
// come and go independently, and the int3 stays while either holds it.
enum class Holder : uint8_t { kDebugger = 1, kTrace = 2 };

class SwBreakpoints {
 public:
  SwBreakpoints(km::GuestMemory& mem, km::Engine& engine) : mem_(mem), engine_(engine) {}

  // Inserting twice at one address is one breakpoint (gdb re-inserts freely).
  absl::Status Insert(uint64_t addr, Holder holder = Holder::kDebugger);
  // NotFound if holder holds no int3 there.
  absl::Status Remove(uint64_t addr, Holder holder = Holder::kDebugger);
  // Restores every original byte but those of keep: what detach and a dead client leave
  // behind (keep: the debugger's breakpoints whose commands outlive the session).
  void RemoveAll(const std::vector<uint64_t>& keep = {});
  // Whether an int3 of km's is at addr, whoever holds it.
  bool Contains(uint64_t addr) const;
  bool HeldBy(uint64_t addr, Holder holder) const;
  // The byte the int3 at addr replaced, for a step past it (Vcpu::StepOverBreakpoint, which
  // keeps the int3 in place for every other thread).
  std::optional<uint8_t> Original(uint64_t addr) const;
  // Every int3 in place, with the byte it replaced.
  std::vector<std::pair<uint64_t, uint8_t>> Originals() const;

  // Debugger memory access that hides the int3s: reads return original bytes, writes update the
  // saved byte where a breakpoint sits and leave the int3 in place.
  uint64_t Read(uint64_t addr, void* dst, uint64_t len) const;
  uint64_t Write(uint64_t addr, const void* src, uint64_t len);

 private:
  km::GuestMemory& mem_;
  km::Engine& engine_;
  mutable absl::Mutex mu_;
  struct Int3 {
    uint8_t original;
    uint8_t holders;  // Holder bits
  };
  absl::flat_hash_map<uint64_t, Int3> int3s_ ABSL_GUARDED_BY(mu_);
};

}  // namespace km_hooks
