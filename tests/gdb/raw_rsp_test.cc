// The agent as a raw RSP peer sees it, against real km: acks and no-ack mode, a corrupt packet
// and noise on the line, ^C as a raw 0x03 byte and as vCtrlC, a second controller refused,
// vKill.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/rsp/encoding.h"
#include "agent/rsp/packet_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engines.h"
#include "tests/gdb/harness.h"

namespace km_gdb_test {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// A minimal gdb stand-in: sends packets, reads acks and replies.
class RspClient {
 public:
  explicit RspClient(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RspClient() { close(fd_); }

  bool connected() const { return connected_; }
  void SendRaw(absl::string_view bytes) { (void)!write(fd_, bytes.data(), bytes.size()); }
  void Send(absl::string_view payload) { SendRaw(agent::rsp::Frame(payload)); }

  // The next ack character, or 0 if none came in time.
  char NextAck(absl::Duration timeout = absl::Seconds(10)) {
    while (true) {
      for (size_t i = 0; i < buf_.size(); ++i) {
        if (buf_[i] == '+' || buf_[i] == '-') {
          const char c = buf_[i];
          buf_.erase(0, i + 1);
          return c;
        }
        if (buf_[i] == '$') return 0;
      }
      if (!Fill(timeout)) return 0;
    }
  }

  // The next packet's payload (acks before it skipped), or "<timeout>" / "<closed>".
  std::string NextPacket(absl::Duration timeout = absl::Seconds(10)) {
    while (true) {
      const size_t start = buf_.find('$');
      const size_t hash = start == std::string::npos ? std::string::npos : buf_.find('#', start);
      if (hash != std::string::npos && buf_.size() >= hash + 3) {
        const std::string body = buf_.substr(start + 1, hash - start - 1);
        buf_.erase(0, hash + 3);
        absl::StatusOr<std::string> decoded = agent::rsp::RunLengthDecode(body);
        return decoded.ok() ? *decoded : "<bad run-length data>";
      }
      if (!Fill(timeout)) return closed_ ? "<closed>" : "<timeout>";
    }
  }

  bool WaitClosed(absl::Duration timeout) {
    while (!closed_) {
      if (!Fill(timeout)) return closed_;
    }
    return true;
  }

 private:
  bool Fill(absl::Duration timeout) {
    pollfd p = {fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) <= 0) return false;
    char chunk[4096];
    const ssize_t n = read(fd_, chunk, sizeof chunk);
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    buf_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_;
  bool connected_ = false;
  bool closed_ = false;
  std::string buf_;
};

class RawRspTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    km_test::EngineInfo engine = km_test::FindEngine(GetParam());
    if (!engine.available) GTEST_SKIP() << engine.skip_reason;
  }
};

TEST_P(RawRspTest, AcksInterruptsRefusalAndKill) {
  absl::StatusOr<Running> r = StartKmAndAgent(GetParam(), "gdb_demo", {"spin"}, /*agent_once=*/true);
  ASSERT_TRUE(r.ok()) << r.status();
  auto client = std::make_unique<RspClient>(r->port);
  RspClient& gdb = *client;
  ASSERT_TRUE(gdb.connected());

  // Noise, then a packet with a wrong checksum: the agent asks for it again.
  gdb.SendRaw("noise\r\n$qSupported#00");
  EXPECT_EQ(gdb.NextAck(), '-');
  gdb.Send("qSupported:multiprocess+;swbreak+");
  EXPECT_EQ(gdb.NextAck(), '+');
  EXPECT_THAT(gdb.NextPacket(), HasSubstr("PacketSize=20000"));
  gdb.Send("QStartNoAckMode");
  EXPECT_EQ(gdb.NextAck(), '+');
  EXPECT_EQ(gdb.NextPacket(), "OK");

  // --debug-wait held the main thread at the entry point.
  const std::string main_thread = absl::StrFormat("thread:p%x.%x;", r->km.pid(), r->km.pid());
  EXPECT_THAT(gdb.NextPacket(absl::Milliseconds(1)), "<timeout>");
  gdb.Send("?");
  std::string stop = gdb.NextPacket();
  EXPECT_THAT(stop, StartsWith("T05"));
  EXPECT_THAT(stop, HasSubstr(main_thread));

  // Running: nothing comes back until ^C.
  gdb.Send("vCont;c");
  EXPECT_EQ(gdb.NextPacket(absl::Milliseconds(300)), "<timeout>");
  gdb.SendRaw("\x03");
  stop = gdb.NextPacket();
  EXPECT_THAT(stop, StartsWith("T02"));
  EXPECT_THAT(stop, HasSubstr(main_thread));

  gdb.Send("vCont;c");
  EXPECT_EQ(gdb.NextPacket(absl::Milliseconds(300)), "<timeout>");
  gdb.Send("vCtrlC");
  EXPECT_EQ(gdb.NextPacket(), "OK");
  EXPECT_THAT(gdb.NextPacket(), StartsWith("T02"));

  // A second agent on the same km is refused control while this one holds it.
  int second_port = 0;
  absl::StatusOr<Child> second = StartAgent(r->socket, /*once=*/true, &second_port);
  ASSERT_TRUE(second.ok()) << second.status();
  {
    RspClient other(second_port);
    ASSERT_TRUE(other.connected());
    EXPECT_TRUE(other.WaitClosed(absl::Seconds(10)));
  }
  EXPECT_EQ(second->Wait(absl::Seconds(10)), 1);
  EXPECT_THAT(second->Err(), HasSubstr("already being debugged by 'km-gdb-agent'"));

  // Registers and memory still answer for the first client.
  gdb.Send("g");
  EXPECT_EQ(gdb.NextPacket().size(), (17 * 8 + 7 * 4) * 2u);

  gdb.Send(absl::StrFormat("vKill;%x", r->km.pid()));
  EXPECT_EQ(gdb.NextPacket(), "OK");
  EXPECT_EQ(r->km.Wait(absl::Seconds(20)), 128 + SIGKILL) << r->km.Err();
  // gdb hangs up after a kill; with the payload gone the agent has nothing left to serve.
  client.reset();
  EXPECT_EQ(r->agent.Wait(absl::Seconds(10)), 0) << r->agent.Err();
}

INSTANTIATE_TEST_SUITE_P(Engines, RawRspTest, ::testing::Values("kvm", "tcg"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace km_gdb_test
