#include "km/runtime/program_break.h"

#include "km/engine.h"

namespace km {
namespace {

uint64_t PageUp(uint64_t x) { return (x + kPageSize - 1) & ~(kPageSize - 1); }

}  // namespace

uint64_t ProgramBreak::Brk(uint64_t requested) {
  absl::MutexLock lock(&mu_);
  // The top of user space bounds the break, and keeps PageUp from wrapping.
  if (requested < start_ || requested > (1ull << 47)) return current_;
  const uint64_t mapped_end = PageUp(current_);
  const uint64_t wanted_end = PageUp(requested);
  if (wanted_end > mapped_end) {
    // Fails if anything (an mmap) sits in the way, as Linux's brk does.
    if (!mem_.Map(mapped_end, wanted_end - mapped_end, kProtRead | kProtWrite, RegionKind::kHeap,
                  "[heap]")
             .ok()) {
      return current_;
    }
  } else if (wanted_end < mapped_end) {
    if (!mem_.Unmap(wanted_end, mapped_end - wanted_end).ok()) return current_;
  }
  current_ = requested;
  return current_;
}

uint64_t ProgramBreak::current() {
  absl::MutexLock lock(&mu_);
  return current_;
}

}  // namespace km
