// Guest timespecs: Linux's validity rule and conversions to and from nanoseconds.
#pragma once

#include <time.h>

#include <cstdint>
#include <limits>

namespace km {

inline constexpr int64_t kNanosPerSecond = 1000000000;

// What Linux accepts as a timeout or an interval (EINVAL otherwise).
inline bool ValidTimespec(const timespec& t) {
  return t.tv_sec >= 0 && t.tv_nsec >= 0 && t.tv_nsec < kNanosPerSecond;
}
inline int64_t Nanos(const timespec& t) { return t.tv_sec * kNanosPerSecond + t.tv_nsec; }
inline timespec ToTimespec(int64_t ns) { return {ns / kNanosPerSecond, ns % kNanosPerSecond}; }

// now + a valid relative time: a deadline. It saturates at the largest timespec, which the
// kernel takes as "never" (`sleep infinity` asks for {LONG_MAX, 999999999}).
inline timespec DeadlineAfter(const timespec& now, const timespec& rel) {
  timespec at{0, now.tv_nsec + rel.tv_nsec};
  const time_t carry = at.tv_nsec >= kNanosPerSecond ? 1 : 0;
  at.tv_nsec -= carry * kNanosPerSecond;
  if (__builtin_add_overflow(now.tv_sec, rel.tv_sec, &at.tv_sec) ||
      __builtin_add_overflow(at.tv_sec, carry, &at.tv_sec)) {
    return {std::numeric_limits<time_t>::max(), kNanosPerSecond - 1};
  }
  return at;
}

// How long from now until a deadline (zero once it passed).
inline timespec TimeLeft(const timespec& now, const timespec& deadline) {
  if (deadline.tv_sec < now.tv_sec ||
      (deadline.tv_sec == now.tv_sec && deadline.tv_nsec <= now.tv_nsec)) {
    return {0, 0};
  }
  timespec left{deadline.tv_sec - now.tv_sec, deadline.tv_nsec - now.tv_nsec};
  if (left.tv_nsec < 0) {
    left.tv_sec--;
    left.tv_nsec += kNanosPerSecond;
  }
  return left;
}

}  // namespace km
