#include "agent/rsp/framer.h"

#include "agent/rsp/packet_writer.h"
#include "gtest/gtest.h"

namespace agent::rsp {
namespace {

using Kind = FramedItem::Kind;

std::vector<FramedItem> FeedAll(Framer& f, absl::string_view bytes) {
  std::vector<FramedItem> out;
  f.Feed(bytes, out);
  return out;
}

TEST(FramerTest, OnePacket) {
  Framer f(1024);
  auto items = FeedAll(f, Frame("qSupported:multiprocess+"));
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].kind, Kind::kPacket);
  EXPECT_EQ(items[0].body, "qSupported:multiprocess+");
  EXPECT_FALSE(f.mid_packet());
}

TEST(FramerTest, PacketSplitAcrossReads) {
  Framer f(1024);
  const std::string wire = Frame("m401000,40");
  std::vector<FramedItem> items;
  for (char c : wire) f.Feed(absl::string_view(&c, 1), items);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].body, "m401000,40");
}

TEST(FramerTest, AcksInterruptsAndGarbageBetweenPackets) {
  Framer f(1024);
  auto items = FeedAll(f, "+noise\x03-" + Frame("g") + "\r\n" + Frame("?"));
  ASSERT_EQ(items.size(), 5u);
  EXPECT_EQ(items[0].kind, Kind::kAck);
  EXPECT_EQ(items[1].kind, Kind::kInterrupt);
  EXPECT_EQ(items[2].kind, Kind::kNack);
  EXPECT_EQ(items[3].body, "g");
  EXPECT_EQ(items[4].body, "?");
}

TEST(FramerTest, BadChecksumIsReportedNotDelivered) {
  Framer f(1024);
  auto items = FeedAll(f, "$g#00");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].kind, Kind::kBadPacket);
  EXPECT_NE(items[0].error.find("checksum"), std::string::npos);
  items = FeedAll(f, "$g#zz");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].kind, Kind::kBadPacket);
}

TEST(FramerTest, NoAckModeSkipsTheChecksum) {
  Framer f(1024);
  f.set_check_checksums(false);
  auto items = FeedAll(f, "$g#00");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].kind, Kind::kPacket);
}

TEST(FramerTest, OversizedPacketIsRefusedAndTheNextOneStillWorks) {
  Framer f(8);
  auto items = FeedAll(f, Frame("0123456789abcdef") + Frame("OK"));
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].kind, Kind::kBadPacket);
  EXPECT_NE(items[0].error.find("longer than 8"), std::string::npos);
  EXPECT_EQ(items[1].body, "OK");
}

TEST(FramerTest, TruncatedPacketIsNotDelivered) {
  Framer f(1024);
  auto items = FeedAll(f, "$m4010");
  EXPECT_TRUE(items.empty());
  EXPECT_TRUE(f.mid_packet());
}

TEST(FramerTest, RestartInsideAPacketDropsThePartialOne) {
  Framer f(1024);
  auto items = FeedAll(f, "$m40" + Frame("g"));
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].body, "g");
}

TEST(FramerTest, InterruptByteInsideAPacketIsData) {
  Framer f(1024);
  // Binary X data may hold 0x03: it is only an interrupt between packets.
  auto items = FeedAll(f, Frame("X0,1:\x03"));
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].body, "X0,1:\x03");
}

TEST(PacketWriterTest, FrameAndConsoleOutput) {
  EXPECT_EQ(Frame("OK"), "$OK#9a");
  EXPECT_EQ(Frame(""), "$#00");
  EXPECT_EQ(ConsoleOutput("hi\n"), "O68690a");
}

}  // namespace
}  // namespace agent::rsp
