// Non-stop mode's stop reports: the RSP lets one Stop notification be outstanding at a time.
// The first stop goes out as "%Stop:..."; gdb acknowledges it with vStopped, and each vStopped
// is answered with the next queued stop or, when none is left, OK, which ends the sequence.
// '?' starts a new sequence from a fresh list of stops.
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace agent::rsp {

class StopNotifications {
 public:
  // A stop reply (T, W or X) for gdb, with the thread it is about (0 for an exit).
  struct Stop {
    int tid = 0;
    std::string reply;
  };

  void Push(Stop stop);

  // The event of the "%Stop" notification to send now: there is a queued stop and no sequence
  // is under way. Starts the sequence.
  std::optional<std::string> TakeNotification();

  // gdb's vStopped: the stop it saw is done with (its thread is in *acknowledged, when there
  // was one). The reply: the next stop, or OK.
  std::string Acknowledge(std::optional<int>* acknowledged);

  // '?': whatever was queued or under way is dropped for these stops (every stopped thread's,
  // or the exit); the reply is the first of them, or OK when there are none.
  std::string Restart(std::vector<Stop> stops);

  bool empty() const { return queue_.empty(); }

 private:
  std::deque<Stop> queue_;  // the front one is gdb's while a sequence is under way
  bool in_sequence_ = false;
};

}  // namespace agent::rsp
