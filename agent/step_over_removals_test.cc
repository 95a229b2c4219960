#include "agent/step_over_removals.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace agent {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr uint64_t kBp = 0x401148;

ThreadAction Step(int tid) { return ThreadAction{tid, ResumeMode::kStep, 0}; }
ThreadAction Continue(int tid) { return ThreadAction{tid, ResumeMode::kContinue, 0}; }

TEST(StepOverRemovals, GdbsStepOverCostsNothing) {
  StepOverRemovals r;
  r.Inserted(kBp);
  r.Stopped(7, kBp);
  EXPECT_TRUE(r.Hold(kBp));
  EXPECT_THAT(r.TakeBefore({Step(7)}), IsEmpty());
  r.Resumed({Step(7)});
  r.Stopped(7, kBp + 4);
  EXPECT_TRUE(r.Cancel(kBp));
  EXPECT_THAT(r.TakeBefore({Continue(0)}), IsEmpty());
}

TEST(StepOverRemovals, NoThreadOnTheAddressRemovesAtOnce) {
  StepOverRemovals r;
  r.Inserted(kBp);
  r.Stopped(7, kBp + 4);
  EXPECT_FALSE(r.Hold(kBp));
  EXPECT_FALSE(r.Cancel(kBp));
}

TEST(StepOverRemovals, ContinuingRemovesFirst) {
  StepOverRemovals r;
  r.Inserted(kBp);
  r.Stopped(7, kBp);
  ASSERT_TRUE(r.Hold(kBp));
  EXPECT_THAT(r.TakeBefore({Continue(0)}), ElementsAre(kBp));
  EXPECT_THAT(r.TakeBefore({Continue(0)}), IsEmpty());
  EXPECT_FALSE(r.Cancel(kBp));
  // Removed from km by then: removing it again is km's to refuse.
  r.Stopped(7, kBp);
  EXPECT_FALSE(r.Hold(kBp));
}

TEST(StepOverRemovals, NotInsertedGoesToKm) {
  StepOverRemovals r;
  r.Stopped(7, kBp);
  EXPECT_FALSE(r.Hold(kBp));
  r.Inserted(kBp);
  r.Removed(kBp);
  EXPECT_FALSE(r.Hold(kBp));
}

TEST(StepOverRemovals, DetachForgetsEverything) {
  StepOverRemovals r;
  r.Inserted(kBp);
  r.Stopped(7, kBp);
  ASSERT_TRUE(r.Hold(kBp));
  r.Detached();
  EXPECT_THAT(r.TakeBefore({Continue(0)}), IsEmpty());
  r.Stopped(7, kBp);
  EXPECT_FALSE(r.Hold(kBp));
}

TEST(StepOverRemovals, OtherThreadsRunningRemovesFirst) {
  StepOverRemovals r;
  r.Inserted(kBp);
  r.Stopped(7, kBp);
  r.Stopped(8, 0x1000);
  ASSERT_TRUE(r.Hold(kBp));
  EXPECT_THAT(r.TakeBefore({Step(7), Continue(0)}), ElementsAre(kBp));
}

TEST(StepOverRemovals, StepFromElsewhereRemovesFirst) {
  StepOverRemovals r;
  r.Inserted(kBp);
  r.Stopped(7, kBp);
  r.Stopped(8, 0x1000);
  ASSERT_TRUE(r.Hold(kBp));
  EXPECT_THAT(r.TakeBefore({Step(8)}), ElementsAre(kBp));
}

TEST(StepOverRemovals, StepWithASignalRemovesFirst) {
  StepOverRemovals r;
  r.Inserted(kBp);
  r.Stopped(7, kBp);
  ASSERT_TRUE(r.Hold(kBp));
  EXPECT_THAT(r.TakeBefore({ThreadAction{7, ResumeMode::kStep, 10}}), ElementsAre(kBp));
}

TEST(StepOverRemovals, SecondStepWithoutReinsertingRemovesFirst) {
  StepOverRemovals r;
  r.Inserted(kBp);
  r.Stopped(7, kBp);
  ASSERT_TRUE(r.Hold(kBp));
  ASSERT_THAT(r.TakeBefore({Step(7)}), IsEmpty());
  r.Resumed({Step(7)});
  r.Stopped(7, kBp + 4);
  EXPECT_THAT(r.TakeBefore({Step(7)}), ElementsAre(kBp));
}

TEST(StepOverRemovals, ExitedThreadForgotten) {
  StepOverRemovals r;
  r.Inserted(kBp);
  r.Stopped(7, kBp);
  r.Exited(7);
  EXPECT_FALSE(r.Hold(kBp));
}

}  // namespace
}  // namespace agent
