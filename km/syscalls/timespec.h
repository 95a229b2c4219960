// Guest timespecs: Linux's validity rule and conversions to and from nanoseconds.
#pragma once

#include <time.h>

#include <cstdint>

namespace km {

inline constexpr int64_t kNanosPerSecond = 1000000000;

// What Linux accepts as a timeout or an interval (EINVAL otherwise).
inline bool ValidTimespec(const timespec& t) {
  return t.tv_sec >= 0 && t.tv_nsec >= 0 && t.tv_nsec < kNanosPerSecond;
}
inline int64_t Nanos(const timespec& t) { return t.tv_sec * kNanosPerSecond + t.tv_nsec; }
inline timespec ToTimespec(int64_t ns) { return {ns / kNanosPerSecond, ns % kNanosPerSecond}; }

}  // namespace km
