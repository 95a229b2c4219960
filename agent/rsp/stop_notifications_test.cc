#include "agent/rsp/stop_notifications.h"

#include "agent/rsp/packet_writer.h"
#include "gtest/gtest.h"

namespace agent::rsp {
namespace {

TEST(StopNotificationsTest, OneOutstandingTheRestThroughVStopped) {
  StopNotifications n;
  EXPECT_EQ(n.TakeNotification(), std::nullopt);
  n.Push({1, "T05thread:1;"});
  n.Push({2, "T05thread:2;"});
  EXPECT_EQ(n.TakeNotification(), "T05thread:1;");
  // The sequence is under way: no second notification, even for a new stop.
  n.Push({3, "T00thread:3;"});
  EXPECT_EQ(n.TakeNotification(), std::nullopt);
  std::optional<int> acked;
  EXPECT_EQ(n.Acknowledge(&acked), "T05thread:2;");
  EXPECT_EQ(acked, 1);
  EXPECT_EQ(n.Acknowledge(&acked), "T00thread:3;");
  EXPECT_EQ(acked, 2);
  EXPECT_EQ(n.Acknowledge(&acked), "OK");
  EXPECT_EQ(acked, 3);
  // Over: the next stop is a notification again.
  n.Push({4, "W00"});
  EXPECT_EQ(n.TakeNotification(), "W00");
}

TEST(StopNotificationsTest, StrayVStoppedAcknowledgesNothing) {
  StopNotifications n;
  std::optional<int> acked = 7;
  EXPECT_EQ(n.Acknowledge(&acked), "OK");
  EXPECT_EQ(acked, std::nullopt);
}

TEST(StopNotificationsTest, QuestionMarkRestartsTheSequence) {
  StopNotifications n;
  n.Push({1, "T05thread:1;"});
  ASSERT_TRUE(n.TakeNotification());
  EXPECT_EQ(n.Restart({{1, "T05thread:1;"}, {2, "T00thread:2;"}}), "T05thread:1;");
  EXPECT_EQ(n.TakeNotification(), std::nullopt);
  std::optional<int> acked;
  EXPECT_EQ(n.Acknowledge(&acked), "T00thread:2;");
  EXPECT_EQ(n.Acknowledge(&acked), "OK");
  EXPECT_EQ(n.Restart({}), "OK");
}

TEST(StopNotificationsTest, NotificationFraming) {
  // '%', name, ':', event, '#', the checksum of "Stop:OK".
  EXPECT_EQ(FrameNotification("Stop", "OK"), "%Stop:OK#7a");
}

}  // namespace
}  // namespace agent::rsp
