// What kmctl decides without km: option and argument handling, and how answers print.
#include "tools/kmctl/commands.h"

#include <sstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/kmctl/errors.h"
#include "tools/kmctl/format.h"

namespace kmctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A command run with no connection to km and no session: what it printed, or why it failed.
absl::Status RunAlone(const std::vector<std::string>& words, std::string* printed = nullptr) {
  AddressResolver resolver;
  Commands commands(/*stub=*/nullptr, &resolver, /*session=*/nullptr);
  std::ostringstream out;
  absl::Status s = commands.Run(words, Options(), out);
  if (printed != nullptr) *printed = out.str();
  return s;
}

TEST(RecordTest, MaxIsAnOptionLikeTheOthers) {
  std::vector<std::string> words = {"record", "on", "--max", "5000"};
  Options options;
  ASSERT_TRUE(TakeOptions(words, options).ok());
  EXPECT_THAT(words, ElementsAre("record", "on"));
  EXPECT_EQ(options.max, "5000");
  words = {"record", "on", "--max=7"};
  ASSERT_TRUE(TakeOptions(words, options).ok());
  EXPECT_EQ(options.max, "7");
  words = {"record", "on", "--max"};
  EXPECT_EQ(ExitCodeFor(TakeOptions(words, options)), kExitUsage);
}

TEST(RecordTest, TurningRecordingOnOrOffNeedsASession) {
  absl::Status s = RunAlone({"record", "on"});
  EXPECT_EQ(ExitCodeFor(s), kExitUsage);
  EXPECT_THAT(s.message(), HasSubstr("'record on' needs a debug session"));
  EXPECT_THAT(RunAlone({"record", "off"}).message(), HasSubstr("'record off' needs a debug session"));
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"record"}, {"record", "sideways"}, {"record", "on", "5"}}) {
    s = RunAlone(bad);
    EXPECT_EQ(ExitCodeFor(s), kExitUsage) << bad.size();
    EXPECT_THAT(s.message(), HasSubstr("usage: record on [--max N] | record off | record status"));
  }
}

TEST(ReverseTest, ReverseResumesNeedASession) {
  for (const char* c : {"reverse-step", "reverse-continue"}) {
    absl::Status s = RunAlone({c, "7"});
    EXPECT_EQ(ExitCodeFor(s), kExitUsage) << c;
    EXPECT_THAT(s.message(), HasSubstr(absl::StrCat("'", c, "' needs a debug session"))) << c;
  }
  EXPECT_THAT(Usage(), HasSubstr("reverse-step TID  reverse-continue"));
}

TEST(FormatTest, AStopAtTheHistorysBeginningSaysSo) {
  v1::StopEvent stop;
  stop.set_tid(7);
  stop.mutable_reason()->set_kind(v1::STOP_KIND_HISTORY_BEGIN);
  stop.mutable_reason()->set_signal(5);
  stop.set_rip(0x401000);
  stop.set_rsp(0x7ff0);
  EXPECT_EQ(FormatStop(stop), "thread 7 stopped: history begin at rip 0x401000 (rsp 0x7ff0)\n");
  stop.mutable_reason()->set_kind(v1::STOP_KIND_STEP);
  EXPECT_EQ(FormatStop(stop), "thread 7 stopped: step at rip 0x401000 (rsp 0x7ff0)\n");
}

TEST(FormatTest, RecordingStatus) {
  v1::RecordingStatus r;
  EXPECT_EQ(FormatRecording(r), "recording: off\n");
  r.set_enabled(true);
  r.set_instructions(1234);
  r.set_max_instructions(200000);
  EXPECT_EQ(FormatRecording(r), "recording: on, 1234 instructions kept (at most 200000)\n");
  r.set_replay_position(34);
  EXPECT_EQ(FormatRecording(r),
            "recording: on, 1234 instructions kept (at most 200000)\n"
            "replaying 34 instructions back from the end\n");
}

TEST(FormatTest, StatusSaysWhetherTheEngineRecords) {
  v1::Target t;
  t.mutable_engine()->set_name("tcg");
  t.mutable_engine()->set_recording(true);
  EXPECT_THAT(FormatStatus(t), HasSubstr("engine     tcg (avx no, data watchpoints no, hw breakpoints 0, recording yes)"));
  t.mutable_engine()->set_recording(false);
  EXPECT_THAT(FormatStatus(t), HasSubstr("recording no)"));
}

}  // namespace
}  // namespace kmctl
