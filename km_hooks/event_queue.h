// The stop events waiting for the controlling client's Events stream, and the hand-off that
// lets a Resume call answer the stop it caused itself (ResumeRequest.wait_for_stop_ms).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/km_debug.pb.h"

namespace km_hooks {

class EventQueue {
 public:
  // A stop taken off the stream's way, and where on the stream it would have been.
  struct HandedStop {
    ::km::debug::v1::StopEvent stop;
    uint64_t stream_events_before = 0;
  };

  void Push(::km::debug::v1::Event event) {
    absl::MutexLock lock(&mu_);
    if (armed_) {
      armed_ = false;
      // Only a stop with nothing ahead of it: anything else keeps the stream's order by
      // staying on the stream.
      if (event.has_stop() && events_.empty()) {
        handed_ = HandedStop{std::move(*event.mutable_stop()), streamed_};
        return;
      }
    }
    events_.push_back(std::move(event));
    ++streamed_;
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
  // Forgets every event; a new stream starts after `initial` events sent outside the queue.
  void Restart(uint64_t initial) {
    absl::MutexLock lock(&mu_);
    events_.clear();
    streamed_ = initial;
    Disarm();
  }
  void Clear() { Restart(0); }

  // The next event pushed goes to TakeHanded instead of the stream, if it is a stop and the
  // stream has nothing queued then. Call before whatever may cause that stop. Returns the
  // hand-off's ticket, or 0 if another one is under way (one at a time).
  uint64_t Arm() {
    absl::MutexLock lock(&mu_);
    if (ticket_ != 0) return 0;
    armed_ = true;
    ticket_ = ++tickets_;
    return ticket_;
  }
  // Ends the hand-off Arm began: waits up to timeout for the next event, and returns the stop
  // if it was handed over.
  std::optional<HandedStop> TakeHanded(uint64_t ticket, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto decided = [this, ticket]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !armed_ || ticket_ != ticket;
    };
    mu_.AwaitWithTimeout(absl::Condition(&decided), timeout);
    if (ticket_ != ticket) return std::nullopt;  // a restart ended it
    std::optional<HandedStop> out = std::move(handed_);
    Disarm();
    return out;
  }
  // Ends the hand-off with nobody to answer: a stop already handed over goes on the stream.
  void GiveBack(uint64_t ticket) {
    absl::MutexLock lock(&mu_);
    if (ticket_ != ticket) return;
    if (handed_) {
      ::km::debug::v1::Event ev;
      *ev.mutable_stop() = std::move(handed_->stop);
      events_.push_front(std::move(ev));
      ++streamed_;
    }
    Disarm();
  }

 private:
  void Disarm() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    armed_ = false;
    ticket_ = 0;
    handed_.reset();
  }

  absl::Mutex mu_;
  std::deque<::km::debug::v1::Event> events_ ABSL_GUARDED_BY(mu_);
  uint64_t streamed_ ABSL_GUARDED_BY(mu_) = 0;  // events that went (or go) on the stream
  uint64_t tickets_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t ticket_ ABSL_GUARDED_BY(mu_) = 0;    // the hand-off under way, 0 if none
  bool armed_ ABSL_GUARDED_BY(mu_) = false;     // the next Push decides the hand-off
  std::optional<HandedStop> handed_ ABSL_GUARDED_BY(mu_);
};

}  // namespace km_hooks
