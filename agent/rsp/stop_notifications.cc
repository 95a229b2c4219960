#include "agent/rsp/stop_notifications.h"

namespace agent::rsp {

void StopNotifications::Push(Stop stop) { queue_.push_back(std::move(stop)); }

std::optional<std::string> StopNotifications::TakeNotification() {
  if (in_sequence_ || queue_.empty()) return std::nullopt;
  in_sequence_ = true;
  return queue_.front().reply;
}

std::string StopNotifications::Acknowledge(std::optional<int>* acknowledged) {
  acknowledged->reset();
  // A vStopped with no sequence under way (after '?' said OK, say) acknowledges nothing.
  if (in_sequence_ && !queue_.empty()) {
    *acknowledged = queue_.front().tid;
    queue_.pop_front();
  }
  if (queue_.empty()) {
    in_sequence_ = false;
    return "OK";
  }
  in_sequence_ = true;
  return queue_.front().reply;
}

std::string StopNotifications::Restart(std::vector<Stop> stops) {
  queue_.assign(std::make_move_iterator(stops.begin()), std::make_move_iterator(stops.end()));
  in_sequence_ = !queue_.empty();
  return queue_.empty() ? "OK" : queue_.front().reply;
}

}  // namespace agent::rsp
