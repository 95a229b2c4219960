#include "km/runtime/payload_timers.h"

#include <errno.h>
#include <signal.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "absl/time/time.h"
#include "km/runtime/process.h"
#include "km/runtime/signal_state.h"

namespace km {
namespace {

int64_t NowOn(clockid_t clock) {
  struct timespec ts;
  ::clock_gettime(clock, &ts);
  return ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t Monotonic() { return NowOn(CLOCK_MONOTONIC); }

bool ServedClock(clockid_t clock) {
  return clock == CLOCK_REALTIME || clock == CLOCK_MONOTONIC || clock == CLOCK_BOOTTIME;
}

}  // namespace

PayloadTimers::~PayloadTimers() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

int PayloadTimers::Create(clockid_t clock, const std::optional<Notify>& notify) {
  if (!ServedClock(clock)) return -EINVAL;
  if (notify && notify->how != SIGEV_NONE && (notify->signo < 1 || notify->signo > kMaxSignal)) {
    return -EINVAL;
  }
  absl::MutexLock lock(&mu_);
  if (timers_.size() >= kMaxTimers) return -EAGAIN;
  while (timers_.contains(next_id_)) next_id_ = (next_id_ + 1) % std::numeric_limits<int>::max();
  const int id = next_id_++;
  timers_[id] = Timer{.clock = clock,
                      .notify = notify.value_or(Notify{.value = static_cast<uint64_t>(id)})};
  return id;
}

int PayloadTimers::Delete(int id) {
  absl::MutexLock lock(&mu_);
  if (id < 0 || timers_.erase(id) == 0) return -EINVAL;
  return 0;
}

PayloadTimers::Setting PayloadTimers::Remaining(const Timer& timer, int64_t now) {
  if (timer.deadline == 0) return {};
  // An expired timer whose signal is still on its way reads as 1 ns, not as disarmed.
  return {std::max<int64_t>(1, timer.deadline - now), timer.interval};
}

PayloadTimers::Timer* PayloadTimers::FindLocked(int id) {
  auto it = id < 0 ? timers_.end() : timers_.find(id);
  return it == timers_.end() ? nullptr : &it->second;
}

void PayloadTimers::ArmLocked(Timer& timer, int64_t deadline, int64_t interval) {
  timer.deadline = deadline;
  timer.interval = deadline == 0 ? 0 : interval;
  timer.overrun = 0;
  if (deadline != 0 && !thread_.joinable()) thread_ = std::thread([this] { Loop(); });
}

int PayloadTimers::Set(int id, bool absolute, const Setting& next, Setting* old) {
  absl::MutexLock lock(&mu_);
  Timer* found = FindLocked(id);
  if (found == nullptr) return -EINVAL;
  Timer& timer = *found;
  const int64_t now = Monotonic();
  *old = Remaining(timer, now);
  int64_t deadline = 0;
  if (next.value != 0) {
    const int64_t after = absolute ? next.value - NowOn(timer.clock) : next.value;
    // A time already past fires at once.
    deadline = now + std::max<int64_t>(1, after);
  }
  ArmLocked(timer, deadline, next.interval);
  return 0;
}

int PayloadTimers::Get(int id, Setting* now) {
  absl::MutexLock lock(&mu_);
  const Timer* timer = FindLocked(id);
  if (timer == nullptr) return -EINVAL;
  *now = Remaining(*timer, Monotonic());
  return 0;
}

int PayloadTimers::Overrun(int id) {
  absl::MutexLock lock(&mu_);
  const Timer* timer = FindLocked(id);
  return timer == nullptr ? -EINVAL : timer->overrun;
}

PayloadTimers::Setting PayloadTimers::SetReal(const Setting& next) {
  absl::MutexLock lock(&mu_);
  Timer& timer = timers_[kRealTimer];
  timer.notify = Notify{.how = SIGEV_SIGNAL, .signo = SIGALRM};
  const int64_t now = Monotonic();
  const Setting old = Remaining(timer, now);
  ArmLocked(timer, next.value == 0 ? 0 : now + next.value, next.interval);
  return old;
}

PayloadTimers::Setting PayloadTimers::GetReal() {
  absl::MutexLock lock(&mu_);
  auto it = timers_.find(kRealTimer);
  return it == timers_.end() ? Setting{} : Remaining(it->second, Monotonic());
}

void PayloadTimers::Loop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    const int64_t now = Monotonic();
    int64_t earliest = std::numeric_limits<int64_t>::max();
    std::vector<std::pair<int, Timer>> due;
    for (auto& [id, timer] : timers_) {
      if (timer.deadline == 0) continue;
      if (timer.deadline <= now) {
        if (timer.interval == 0) {
          timer.overrun = 0;
          timer.deadline = 0;
        } else {
          // Expirations this thread woke too late for are counted, not signalled.
          const int64_t missed = (now - timer.deadline) / timer.interval;
          timer.overrun =
              static_cast<int>(std::min<int64_t>(missed, std::numeric_limits<int>::max()));
          timer.deadline += (missed + 1) * timer.interval;
        }
        due.emplace_back(id, timer);
      }
      if (timer.deadline != 0) earliest = std::min(earliest, timer.deadline);
    }
    if (!due.empty()) {
      // Sending takes thread locks; nothing here may be held meanwhile.
      mu_.Unlock();
      for (const auto& [id, timer] : due) Fire(id, timer);
      mu_.Lock();
      continue;
    }
    // A timer set meanwhile may be due sooner: Set and SetReal change timers_ under mu_, which
    // wakes this wait (the Condition is re-evaluated on every unlock).
    auto changed = [this, earliest]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      if (stopping_) return true;
      for (const auto& [id, timer] : timers_) {
        if (timer.deadline != 0 && timer.deadline < earliest) return true;
      }
      return false;
    };
    if (earliest == std::numeric_limits<int64_t>::max()) {
      mu_.Await(absl::Condition(&changed));
    } else {
      mu_.AwaitWithTimeout(absl::Condition(&changed), absl::Nanoseconds(earliest - now));
    }
  }
}

void PayloadTimers::Fire(int id, const Timer& timer) {
  const Notify& notify = timer.notify;
  if (notify.how == SIGEV_NONE) return;
  SignalInfo info;
  info.signo = notify.signo;
  if (id == kRealTimer) {
    info.code = SI_KERNEL;
  } else {
    info.code = SI_TIMER;
    info.timer_id = id;
    info.overrun = timer.overrun;
    info.value = notify.value;
  }
  if (notify.how == SIGEV_THREAD_ID) {
    if (std::shared_ptr<GuestThread> thread = process_.FindThread(notify.tid)) {
      thread->SendSignal(info);
    }
    return;
  }
  process_.SendSignal(info);
}

}  // namespace km
