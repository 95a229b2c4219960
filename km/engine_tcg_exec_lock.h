// The tcg engine's execution lock. Unicorn engines sharing host memory see each other's stores,
// but their lock-prefixed instructions are not atomic against each other, so only one vCPU of an
// Engine may execute guest code at a time. This lock decides which, fairly: waiters are served
// in arrival order, and a holder that has run for a time slice while others wait is asked (through
// its attention word, which its vCPU checks at every translated-block boundary) to step aside.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace km::tcg {

// Bits of a vCPU's attention word.
inline constexpr uint32_t kAttentionStop = 1;     // RequestStop() was called
inline constexpr uint32_t kAttentionPreempt = 2;  // others wait for the execution lock

class ExecLock {
 public:
  explicit ExecLock(absl::Duration slice) : slice_(slice) {}
  ExecLock(const ExecLock&) = delete;
  ExecLock& operator=(const ExecLock&) = delete;

  // Waits for the caller's turn (first come, first served). attention is the caller's attention
  // word: kAttentionPreempt is set in it when it should release the lock. Returns false, without
  // the lock, if kAttentionStop appears in it while waiting (a stop must not wait for others'
  // time slices).
  bool Acquire(std::atomic<uint32_t>* attention);
  // For changes to every vCPU's address space: goes ahead of the queue and preempts the holder
  // at once, since such changes are short and a vCPU thread is usually waiting for them.
  void AcquireUrgent();
  void Release();
  // Lets a waiter whose attention word just got kAttentionStop notice it.
  void WakeWaiters();

 private:
  struct Waiter {
    std::atomic<uint32_t>* attention;
    bool granted = false;
  };
  void GrantLocked(std::atomic<uint32_t>* attention) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const absl::Duration slice_;
  absl::Mutex mu_;
  absl::CondVar cv_;
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time granted_at_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint32_t>* holder_attention_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::deque<Waiter*> queue_ ABSL_GUARDED_BY(mu_);
};

// Holds an ExecLock taken with AcquireUrgent() for the scope.
class UrgentExecHold {
 public:
  explicit UrgentExecHold(ExecLock* lock) : lock_(lock) { lock_->AcquireUrgent(); }
  ~UrgentExecHold() { lock_->Release(); }
  UrgentExecHold(const UrgentExecHold&) = delete;
  UrgentExecHold& operator=(const UrgentExecHold&) = delete;

 private:
  ExecLock* lock_;
};

}  // namespace km::tcg
