// Extended mode over fake targets: what gdb is told with no process, and how run, attach and
// kill switch the process a connection debugs.
#include "agent/handlers/extended_mode.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "agent/rsp/encoding.h"
#include "agent/testing/fake_target.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace agent {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

class FakeSource : public ProcessSource {
 public:
  absl::StatusOr<std::unique_ptr<Target>> Launch(const std::vector<std::string>& argv,
                                                 const std::vector<std::string>& env) override {
    launched_argv.push_back(argv);
    last_env = env;
    launched.insert(testing::FakeTarget::kPid);
    return std::make_unique<testing::FakeTarget>();
  }
  absl::StatusOr<std::unique_ptr<Target>> Attach(int pid) override {
    if (pid != testing::FakeTarget::kPid) return absl::NotFoundError("not km");
    return std::make_unique<testing::FakeTarget>();
  }
  bool Launched(int pid) const override { return launched.count(pid) != 0; }
  std::vector<AttachableProcess> List() override {
    return {{testing::FakeTarget::kPid, "me", "km --accel=tcg prog"}};
  }
  void Ended(int pid) override {
    ended.push_back(pid);
    launched.erase(pid);
  }

  std::vector<std::vector<std::string>> launched_argv;
  std::vector<std::string> last_env;
  std::set<int> launched;
  std::vector<int> ended;
};

std::string Hex(absl::string_view text) { return rsp::HexEncode(text); }

class ExtendedModeTest : public ::testing::Test {
 protected:
  std::string Send(absl::string_view packet) {
    Response r = mode_.Handle(packet);
    return r.packets.empty() ? "<none>" : r.packets.back();
  }

  FakeSource source_;
  ExtendedMode mode_{&source_};
};

TEST_F(ExtendedModeTest, WithoutProcessGdbHearsThereIsNone) {
  EXPECT_EQ(Send("!"), "OK");
  EXPECT_EQ(Send("?"), "W00");
  EXPECT_EQ(Send("qAttached"), "E01");
  EXPECT_EQ(Send("g"), "E01");
  EXPECT_EQ(Send("m401000,4"), "E01");
  EXPECT_EQ(Send("Hg0"), "OK");
  EXPECT_EQ(Send("qfThreadInfo"), "l");
  EXPECT_EQ(Send("vMustReplyEmpty"), "");
  EXPECT_EQ(Send("qTStatus"), "T0;tnotrun:0");
  EXPECT_EQ(Send("k"), "<none>");
  EXPECT_EQ(Send("bc"), "E01");
  EXPECT_EQ(mode_.event_fd(), -1);
  EXPECT_FALSE(mode_.running());
}

TEST_F(ExtendedModeTest, QSupportedAddsExtendedFeatures) {
  const std::string reply = Send("qSupported:multiprocess+;swbreak+");
  EXPECT_THAT(reply, HasSubstr("multiprocess+"));
  EXPECT_THAT(reply, HasSubstr("qXfer:osdata:read+"));
  EXPECT_THAT(reply, HasSubstr("QEnvironmentHexEncoded+"));
}

// gdb asks once per connection: before a process, the one it will run may record; an attached
// one whose engine cannot is not offered reverse execution.
TEST_F(ExtendedModeTest, ReverseExecutionIsOfferedUnlessTheProcessCannotRecord) {
  EXPECT_THAT(Send("qSupported:multiprocess+"), HasSubstr("ReverseStep+;ReverseContinue+;"));
  EXPECT_THAT(Send("vAttach;64"), StartsWith("T05"));
  EXPECT_THAT(Send("qSupported:multiprocess+"), Not(HasSubstr("Reverse")));
}

TEST_F(ExtendedModeTest, RunStartsTheProgramWithGdbsArgumentsAndEnvironment) {
  setenv("KM_EXTENDED_TEST_GONE", "x", 1);
  Send("!");
  EXPECT_EQ(Send("QEnvironmentReset"), "OK");
  EXPECT_EQ(Send(absl::StrCat("QEnvironmentHexEncoded:", Hex("FOO=bar baz"))), "OK");
  EXPECT_EQ(Send(absl::StrCat("QEnvironmentUnset:", Hex("KM_EXTENDED_TEST_GONE"))), "OK");
  EXPECT_EQ(Send(absl::StrCat("QEnvironmentHexEncoded:", Hex("novalue"))), "E01");
  EXPECT_THAT(Send(absl::StrCat("vRun;", Hex("/bin/prog"), ";", Hex("a b"), ";", Hex("c"))),
              StartsWith("T05"));
  ASSERT_EQ(source_.launched_argv.size(), 1u);
  EXPECT_THAT(source_.launched_argv[0], ElementsAre("/bin/prog", "a b", "c"));
  EXPECT_THAT(source_.last_env, Contains("FOO=bar baz"));
  EXPECT_THAT(source_.last_env, Not(Contains("KM_EXTENDED_TEST_GONE=x")));
  EXPECT_EQ(Send("qAttached"), "0");
  unsetenv("KM_EXTENDED_TEST_GONE");
}

TEST_F(ExtendedModeTest, KillEndsTheProcessAndRunWithoutProgramRepeatsTheLast) {
  EXPECT_EQ(Send("vRun;"), "E01");  // nothing ran before: gdb must name the program
  Send(absl::StrCat("vRun;", Hex("/bin/prog"), ";", Hex("1")));
  EXPECT_EQ(Send("vKill;64"), "OK");
  EXPECT_THAT(source_.ended, ElementsAre(testing::FakeTarget::kPid));
  EXPECT_EQ(Send("?"), "W00");
  EXPECT_EQ(Send("qAttached"), "E01");
  EXPECT_EQ(mode_.Disconnect(), SessionEnd::kPayloadGone);
  EXPECT_THAT(Send(absl::StrCat("vRun;;", Hex("2"))), StartsWith("T05"));
  ASSERT_EQ(source_.launched_argv.size(), 2u);
  // The program that ran last, with the new arguments.
  EXPECT_THAT(source_.launched_argv[1], ElementsAre("/bin/prog", "2"));
}

TEST_F(ExtendedModeTest, RRestartsTheLastProgramWithoutReply) {
  Send("!");
  Send(absl::StrCat("vRun;", Hex("/bin/prog"), ";", Hex("x")));
  EXPECT_EQ(Send("R00"), "<none>");  // gdb asks '?' next
  EXPECT_THAT(source_.ended, ElementsAre(testing::FakeTarget::kPid));
  ASSERT_EQ(source_.launched_argv.size(), 2u);
  EXPECT_THAT(source_.launched_argv[1], ElementsAre("/bin/prog", "x"));
  EXPECT_THAT(Send("?"), StartsWith("T05"));
}

TEST_F(ExtendedModeTest, AttachDebugsARunningKmAndDetachLetsItGo) {
  EXPECT_EQ(Send("vAttach;1"), "E01");  // not a km
  EXPECT_THAT(Send("vAttach;64"), StartsWith("T05"));
  EXPECT_EQ(Send("qAttached:64"), "1");
  EXPECT_EQ(Send("vAttach;64"), "E01");  // one process at a time
  EXPECT_EQ(Send("D;64"), "OK");
  EXPECT_TRUE(source_.ended.empty());  // detached, not gone
  EXPECT_EQ(Send("?"), "W00");
  EXPECT_EQ(mode_.Disconnect(), SessionEnd::kGdbLeft);
}

TEST_F(ExtendedModeTest, ProcessListForInfoOsAndMonitor) {
  const std::string xml = Send("qXfer:osdata:read:processes:0,fff");
  EXPECT_THAT(xml, StartsWith("l"));
  EXPECT_THAT(xml, HasSubstr("<column name=\"pid\">100</column>"));
  EXPECT_THAT(xml, HasSubstr("km --accel=tcg prog"));
  EXPECT_THAT(Send("qXfer:osdata:read::0,fff"), HasSubstr("processes"));
  Response monitor = mode_.Handle(absl::StrCat("qRcmd,", Hex("processes")));
  ASSERT_EQ(monitor.packets.size(), 2u);
  EXPECT_THAT(monitor.packets[0], StartsWith("O"));
  EXPECT_THAT(*rsp::HexDecode(monitor.packets[0].substr(1)), HasSubstr("100      me"));
}

TEST(ExtendedModeWithoutSourceTest, RunAndAttachAreRefused) {
  ExtendedMode mode(nullptr);
  EXPECT_EQ(mode.Handle(absl::StrCat("vRun;", Hex("/bin/prog"))).packets, std::vector<std::string>{"E01"});
  EXPECT_EQ(mode.Handle("vAttach;64").packets, std::vector<std::string>{"E01"});
}

}  // namespace
}  // namespace agent
