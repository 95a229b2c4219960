// The stop events waiting for the controlling client's Events stream.
#pragma once

#include <deque>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/km_debug.pb.h"

namespace km_hooks {

class EventQueue {
 public:
  void Push(::km::debug::v1::Event event) {
    absl::MutexLock lock(&mu_);
    events_.push_back(std::move(event));
  }
  // Waits up to timeout for an event; false if none came.
  bool Pop(::km::debug::v1::Event* out, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !events_.empty(); };
    if (!mu_.AwaitWithTimeout(absl::Condition(&ready), timeout)) return false;
    *out = std::move(events_.front());
    events_.pop_front();
    return true;
  }
  // Waits up to timeout until everything pushed so far has been popped.
  bool WaitDrained(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto drained = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return events_.empty(); };
    return mu_.AwaitWithTimeout(absl::Condition(&drained), timeout);
  }
  void Clear() {
    absl::MutexLock lock(&mu_);
    events_.clear();
  }

 private:
  absl::Mutex mu_;
  std::deque<::km::debug::v1::Event> events_ ABSL_GUARDED_BY(mu_);
};

}  // namespace km_hooks
