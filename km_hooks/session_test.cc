#include "km_hooks/session.h"

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace km_hooks {
namespace {

class SessionsTest : public ::testing::Test {
 protected:
  absl::Time now_ = absl::FromUnixSeconds(1000);
  Sessions sessions_{absl::Seconds(30), [this] { return now_; }};
};

TEST_F(SessionsTest, OneControllerAtATimeAndTheOtherIsToldWho) {
  absl::StatusOr<std::string> first = sessions_.Attach("gdb");
  ASSERT_TRUE(first.ok());
  absl::StatusOr<std::string> second = sessions_.Attach("script");
  EXPECT_TRUE(absl::IsFailedPrecondition(second.status()));
  EXPECT_NE(second.status().message().find("'gdb'"), std::string::npos);
  EXPECT_TRUE(sessions_.Check(*first).ok());
  EXPECT_TRUE(absl::IsPermissionDenied(sessions_.Check("s1-guess")));
  EXPECT_TRUE(sessions_.End(*first));
  EXPECT_TRUE(sessions_.Attach("script").ok());
}

TEST_F(SessionsTest, ASessionThatNeverOpenedItsStreamIsTakenOverAfterTheGrace) {
  absl::StatusOr<std::string> dead = sessions_.Attach("died before Events");
  ASSERT_TRUE(dead.ok());
  now_ += absl::Seconds(29);
  bool took_over = true;
  EXPECT_FALSE(sessions_.Attach("too early", &took_over).ok());
  EXPECT_FALSE(took_over);
  now_ += absl::Seconds(1);
  absl::StatusOr<std::string> next = sessions_.Attach("next", &took_over);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_TRUE(took_over);
  EXPECT_TRUE(absl::IsPermissionDenied(sessions_.Check(*dead)));
  EXPECT_TRUE(sessions_.Check(*next).ok());
  // The new session has its own grace.
  EXPECT_FALSE(sessions_.Attach("third").ok());
}

TEST_F(SessionsTest, ASessionWithItsStreamOpenIsNeverTakenOver) {
  absl::StatusOr<std::string> live = sessions_.Attach("gdb");
  ASSERT_TRUE(live.ok());
  sessions_.StreamOpened(*live);
  now_ += absl::Hours(24);
  bool took_over = true;
  EXPECT_FALSE(sessions_.Attach("script", &took_over).ok());
  EXPECT_FALSE(took_over);
  EXPECT_TRUE(sessions_.Check(*live).ok());
}

TEST_F(SessionsTest, AStreamOpenedWithAnotherSessionsIdProtectsNothing) {
  absl::StatusOr<std::string> held = sessions_.Attach("gdb");
  ASSERT_TRUE(held.ok());
  sessions_.StreamOpened("s9-0000000000000000");
  now_ += absl::Seconds(30);
  EXPECT_TRUE(sessions_.Attach("next").ok());
}

}  // namespace
}  // namespace km_hooks
