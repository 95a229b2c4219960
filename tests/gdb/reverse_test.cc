// Reverse execution as a gdb user does it: `monitor record on` where gdb's own `record` would
// go, then gdb's reverse commands, which km answers from its execution log (bs/bc packets).
// Engines that cannot record (kvm) say so and gdb says there is no history.
#include <regex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/child_process.h"
#include "tests/engines.h"
#include "tests/gdb/harness.h"

namespace km_gdb_test {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;

std::string At(absl::string_view tag) { return absl::StrCat("gdb_demo.c:", DemoLine(tag)); }

// What gdb prints for the same payload run natively under gdb's own `record full`.
std::string NativeGdb(const std::vector<std::string>& commands) {
  std::vector<std::string> argv = {"/usr/bin/gdb", "-batch", "-nx", "-iex", "set pagination off",
                                   "-iex", "set confirm off", "-iex", "set width 0", "-iex",
                                   absl::StrCat("directory ", km_test::Runfile("")),
                                   km_test::Runfile("tests/payloads/bin/gdb_demo")};
  for (const std::string& c : commands) argv.insert(argv.end(), {"-ex", c});
  const std::string out = absl::StrFormat("%s/native-gdb", getenv("TEST_TMPDIR"));
  absl::StatusOr<km_test::Child> gdb = km_test::Child::Start(argv, {}, out + ".out", out + ".err");
  if (!gdb.ok()) return gdb.status().ToString();
  gdb->Wait(absl::Seconds(60));
  return gdb->Out();
}

// From the line that starts with `from` up to the end of the line that starts with `to`, with
// stack addresses (which differ between km and Linux) blanked.
std::string Between(const std::string& out, const std::string& from, const std::string& to) {
  const size_t begin = out.find("\n" + from);
  const size_t last = out.find("\n" + to, begin == std::string::npos ? 0 : begin);
  if (begin == std::string::npos || last == std::string::npos) return "";
  const size_t end = out.find('\n', last + 1);
  return std::regex_replace(out.substr(begin + 1, end - begin),
                            std::regex("argv=0x[0-9a-f]+"), "argv=X");
}

class ReverseTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    km_test::EngineInfo engine = km_test::FindEngine(GetParam());
    if (!engine.available) GTEST_SKIP() << engine.skip_reason;
    if (GetParam() == "kvm") GTEST_SKIP() << "kvm: the kvm engine cannot record execution";
  }

  SessionResult Run(std::vector<std::string> commands) {
    SessionOptions options;
    options.engine = GetParam();
    options.gdb_commands = std::move(commands);
    absl::StatusOr<SessionResult> r = RunSession(options);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : SessionResult{};
  }
};

TEST_P(ReverseTest, ReverseContinueStopsAtWatchpointsBreakpointsAndTheHistorysBeginning) {
  SessionResult r = Run({
      "break add",
      "continue",
      "monitor record on",
      absl::StrCat("tbreak ", At("after-loop")),
      "continue",
      "print counter",
      "watch counter",
      "reverse-continue",
      "print counter",
      "delete 3",
      "reverse-continue",
      "reverse-continue",
      "monitor record",
      "continue",
  });
  const std::string& out = r.gdb_out;
  SCOPED_TRACE(r.Describe());
  EXPECT_THAT(out, HasSubstr("$1 = 3"));
  // Backwards, the last write to counter: bump's third increment, seen from after it.
  EXPECT_THAT(out, ContainsRegex("atchpoint 3: counter\n+Old value = 3\nNew value = 2\n"));
  EXPECT_THAT(out, ContainsRegex("bump \\(\\) at .*" + At("bump")));
  EXPECT_THAT(out, HasSubstr("$2 = 2"));
  EXPECT_THAT(out, ContainsRegex("Breakpoint 1, add \\(a=3, b=4\\) at .*" + At("add-body")));
  EXPECT_THAT(out, HasSubstr("No more reverse-execution history."));
  EXPECT_THAT(out, ContainsRegex("recording: on"));
  EXPECT_THAT(out, HasSubstr(absl::StrFormat("[Inferior 1 (process %d) exited with code 03]",
                                             r.km_pid)));
  // Forwards again through the replayed past to the present, then live: as without gdb.
  EXPECT_EQ(r.km_out, "total=10 counter=3 label=origin\n");
  EXPECT_EQ(r.km_status, 3);
}

TEST_P(ReverseTest, ReverseStepFinishAndStepiMoveBackThroughCalls) {
  SessionResult r = Run({
      absl::StrCat("tbreak ", At("main-add")),
      "continue",
      "monitor record on",
      "next",
      "next",
      "print counter",
      "reverse-step",
      "print counter",
      "reverse-finish",
      "print counter",
      "print $pc",
      "reverse-stepi",
      "print $pc",
      "stepi",
      "print $pc",
      "set var counter = 5",
      "continue",
  });
  const std::string& out = r.gdb_out;
  SCOPED_TRACE(r.Describe());
  EXPECT_THAT(out, HasSubstr("$1 = 3"));
  // Back into the last call of bump, after its increment...
  EXPECT_THAT(out, ContainsRegex("\nbump \\(\\) at .*gdb_demo.c:[0-9]+"));
  EXPECT_THAT(out, HasSubstr("$2 = 3"));
  // ...and out of it to the call in main, before it ran.
  EXPECT_THAT(out, ContainsRegex(absl::StrCat("\n0x[0-9a-f]+ in main \\(argc=1, argv=0x[0-9a-f]+\\) at ",
                                              ".*gdb_demo.c:", DemoLine("main-add") + 1, "\n")));
  EXPECT_THAT(out, HasSubstr("$3 = 2"));
  // One instruction back and forth lands where it started.
  std::smatch m;
  std::regex pcs("\\$4 = \\(void \\(\\*\\)\\(\\)\\) (0x[0-9a-f]+)[^\n]*\n(.|\n)*"
                 "\\$5 = \\(void \\(\\*\\)\\(\\)\\) (0x[0-9a-f]+)[^\n]*\n(.|\n)*"
                 "\\$6 = \\(void \\(\\*\\)\\(\\)\\) (0x[0-9a-f]+)");
  ASSERT_TRUE(std::regex_search(out, m, pcs)) << out;
  EXPECT_NE(m[1].str(), m[3].str());
  EXPECT_EQ(m[1].str(), m[5].str());
  // The past cannot be edited; the payload then goes on from its present.
  // Everything from the first print to the last is what gdb shows a native process recorded
  // by gdb itself.
  const std::string native = NativeGdb({absl::StrCat("tbreak ", At("main-add")), "run", "record",
                                        "next", "next", "print counter", "reverse-step",
                                        "print counter", "reverse-finish", "print counter",
                                        "print $pc", "reverse-stepi", "print $pc", "stepi",
                                        "print $pc"});
  const std::string ours = Between(out, "$1 = ", "$6 = ");
  EXPECT_FALSE(ours.empty());
  EXPECT_EQ(ours, Between(native, "$1 = ", "$6 = ")) << "native gdb:\n" << native;
  EXPECT_THAT(out, HasSubstr("Cannot access memory at address"));
  EXPECT_THAT(r.agent_err, HasSubstr("while replaying the recorded past"));
  EXPECT_EQ(r.km_out, "total=10 counter=3 label=origin\n");
  EXPECT_EQ(r.km_status, 3);
}

INSTANTIATE_TEST_SUITE_P(Engines, ReverseTest, ::testing::Values("kvm", "tcg"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace km_gdb_test
