#include "km/engine_tcg_exec_lock.h"

#include <atomic>
#include <thread>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace km::tcg {
namespace {

// Polls attention for kAttentionPreempt, for up to five seconds.
bool AskedToYield(const std::atomic<uint32_t>& attention) {
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (absl::Now() < deadline) {
    if (attention.load() & kAttentionPreempt) return true;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return false;
}

TEST(ExecLockTest, AsksTheHolderToYieldOnceItsSliceIsOverAndHandsTheLockToTheWaiter) {
  ExecLock lock(absl::Milliseconds(10));
  std::atomic<uint32_t> holder{0};
  std::atomic<uint32_t> waiter{0};
  ASSERT_TRUE(lock.Acquire(&holder));
  std::atomic<bool> granted{false};
  std::thread t([&] {
    granted = lock.Acquire(&waiter);
    lock.Release();
  });
  EXPECT_TRUE(AskedToYield(holder));
  EXPECT_FALSE(granted);
  lock.Release();
  t.join();
  EXPECT_TRUE(granted);
  EXPECT_EQ(holder.load() & kAttentionPreempt, 0u) << "a released holder's request to yield stays";
}

TEST(ExecLockTest, AWaiterToldToStopLeavesWithoutTheLock) {
  ExecLock lock(absl::Seconds(60));
  std::atomic<uint32_t> holder{0};
  std::atomic<uint32_t> waiter{0};
  ASSERT_TRUE(lock.Acquire(&holder));
  std::atomic<int> result{-1};
  std::thread t([&] { result = lock.Acquire(&waiter); });
  absl::SleepFor(absl::Milliseconds(30));
  waiter.fetch_or(kAttentionStop);
  lock.WakeWaiters();
  t.join();
  EXPECT_EQ(result, 0);
  lock.Release();
}

// The front waiter keeps time for the queue. When it leaves because its vCPU was told to stop,
// the next one must take over, or the holder runs on alone while every other vCPU waits (a
// running thread stood still and a step never ended, under sanitizers' timing).
TEST(ExecLockTest, TheNextInLineKeepsTimeWhenTheFrontWaiterLeaves) {
  ExecLock lock(absl::Milliseconds(300));
  std::atomic<uint32_t> holder{0};
  std::atomic<uint32_t> front{0};
  std::atomic<uint32_t> next{0};
  ASSERT_TRUE(lock.Acquire(&holder));
  std::atomic<int> front_result{-1};
  std::thread front_thread([&] { front_result = lock.Acquire(&front); });
  absl::SleepFor(absl::Milliseconds(50));
  std::atomic<int> next_result{-1};
  std::thread next_thread([&] {
    next_result = lock.Acquire(&next);
    lock.Release();
  });
  absl::SleepFor(absl::Milliseconds(50));
  // Not woken: the front waiter sees this only when its slice deadline passes, and leaves then.
  front.fetch_or(kAttentionStop);
  front_thread.join();
  EXPECT_EQ(front_result, 0);
  EXPECT_TRUE(AskedToYield(holder)) << "nobody asked the holder to yield";
  lock.Release();
  next_thread.join();
  EXPECT_EQ(next_result, 1);
}

}  // namespace
}  // namespace km::tcg
