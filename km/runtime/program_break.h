// The program break (brk): the heap grows up from the first page past the payload's image as one
// "[heap]" region of guest memory.
#pragma once

#include <cstdint>

#include "absl/synchronization/mutex.h"
#include "km/guest_memory.h"

namespace km {

class ProgramBreak {
 public:
  ProgramBreak(GuestMemory& mem, uint64_t start) : mem_(mem), start_(start), current_(start) {}

  // brk(requested): moves the break and returns the new one, or, as Linux does, the unchanged
  // break if requested is below the start or the memory cannot be had (0 asks for the current
  // break).
  uint64_t Brk(uint64_t requested);
  uint64_t current();

 private:
  GuestMemory& mem_;
  const uint64_t start_;
  absl::Mutex mu_;
  uint64_t current_ ABSL_GUARDED_BY(mu_);
};

}  // namespace km
