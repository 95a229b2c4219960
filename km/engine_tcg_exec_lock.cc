#include "km/engine_tcg_exec_lock.h"

#include <algorithm>

namespace km::tcg {

void ExecLock::GrantLocked(std::atomic<uint32_t>* attention) {
  held_ = true;
  granted_at_ = absl::Now();
  holder_attention_ = attention;
}

bool ExecLock::Acquire(std::atomic<uint32_t>* attention) {
  absl::MutexLock lock(&mu_);
  if (!held_ && queue_.empty()) {
    GrantLocked(attention);
    return true;
  }
  Waiter me{attention};
  queue_.push_back(&me);
  while (!me.granted) {
    if (attention->load(std::memory_order_relaxed) & kAttentionStop) {
      const bool was_front = queue_.front() == &me;
      queue_.erase(std::find(queue_.begin(), queue_.end(), &me));
      // The next in line may be asleep without a deadline, counting on this waiter to keep
      // time: unless it wakes, nobody asks the holder to yield, and it runs on alone.
      if (was_front) cv_.SignalAll();
      return false;
    }
    // Only the next in line keeps time, so a holder is asked to yield once per slice, not once
    // per waiter.
    if (queue_.front() != &me || holder_attention_ == nullptr) {
      cv_.Wait(&mu_);
      continue;
    }
    const absl::Time deadline = granted_at_ + slice_;
    if (absl::Now() < deadline) {
      cv_.WaitWithDeadline(&mu_, deadline);
    } else {
      holder_attention_->fetch_or(kAttentionPreempt, std::memory_order_relaxed);
      cv_.Wait(&mu_);
    }
  }
  return true;
}

void ExecLock::AcquireUrgent() {
  absl::MutexLock lock(&mu_);
  if (!held_ && queue_.empty()) {
    GrantLocked(nullptr);
    return;
  }
  Waiter me{nullptr};
  queue_.push_front(&me);
  if (holder_attention_ != nullptr) {
    holder_attention_->fetch_or(kAttentionPreempt, std::memory_order_relaxed);
  }
  while (!me.granted) cv_.Wait(&mu_);
}

void ExecLock::Release() {
  absl::MutexLock lock(&mu_);
  if (holder_attention_ != nullptr) {
    holder_attention_->fetch_and(~kAttentionPreempt, std::memory_order_relaxed);
  }
  if (queue_.empty()) {
    held_ = false;
    holder_attention_ = nullptr;
    return;
  }
  // Handing the lock over directly keeps the releasing thread from taking it straight back.
  Waiter* next = queue_.front();
  queue_.pop_front();
  next->granted = true;
  GrantLocked(next->attention);
  cv_.SignalAll();
}

void ExecLock::WakeWaiters() {
  absl::MutexLock lock(&mu_);
  cv_.SignalAll();
}

}  // namespace km::tcg
