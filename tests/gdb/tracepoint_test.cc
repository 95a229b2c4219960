// gdb's tracepoints (`trace`, `actions`, `tstart`, `tfind`): km collects at each hit with no
// stop and no round trip to gdb, keeps the frames, and the agent serves gdb's reads from the
// frame gdb looks at. What gdb shows of a frame is checked against what the payload computes.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engines.h"
#include "tests/gdb/harness.h"

namespace km_gdb_test {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

// Stop replies gdb received (set debug remote 1): T and S packets with a signal number; the
// exit's W is not one, nor qTStatus's "T1;...".
int StopReplies(const std::string& gdb_out) {
  static const std::regex kStopReply("Packet received: [TS][0-9a-f]{2}");
  return std::distance(std::sregex_iterator(gdb_out.begin(), gdb_out.end(), kStopReply),
                       std::sregex_iterator());
}

class TracepointTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    km_test::EngineInfo engine = km_test::FindEngine(GetParam());
    if (!engine.available) GTEST_SKIP() << engine.skip_reason;
  }

  // gdb reads `actions` blocks from its input, so the commands go through a script it sources.
  SessionResult Run(const std::string& payload, std::vector<std::string> args,
                    const std::vector<std::string>& script) {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '_');
    const std::string path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name, ".gdb");
    std::ofstream(path) << absl::StrJoin(script, "\n") << "\n";
    SessionOptions options;
    options.engine = GetParam();
    options.payload = payload;
    options.payload_args = std::move(args);
    options.gdb_commands = {absl::StrCat("source ", path)};
    absl::StatusOr<SessionResult> r = RunSession(options);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : SessionResult{};
  }
};

TEST_P(TracepointTest, FramesHoldWhatEachHitCollectedAndNothingElse) {
  SessionResult r = Run(
      "fastpath", {"40", "10"},
      {absl::StrCat("break fastpath.c:", SourceLine("fastpath", "after-heavy")),
       "trace visit", "actions", "collect i, *p, $regs", "end",
       "set debug remote 1", "tstart", "continue", "set debug remote 0",
       "tstop", "tstatus",
       "tfind start", "p i", "p *p", "p total", "info symbol $pc",
       "tfind 5", "p i", "p *p",
       "tfind pc $pc", "p i",
       "tfind none", "p total", "continue"});
  SCOPED_TRACE(r.Describe());
  EXPECT_THAT(r.gdb_out, HasSubstr("Collected 40 trace frames."));
  EXPECT_THAT(r.gdb_out, HasSubstr("Trace stopped by a tstop command"));
  // The only stop while tracing was the breakpoint after the loop.
  EXPECT_EQ(StopReplies(r.gdb_out), 1);
  // Tracepoint 2: breakpoint 1 took the first number. A global nobody collected is unavailable.
  EXPECT_THAT(r.gdb_out, ContainsRegex("Found trace frame 0, tracepoint 2\n"
                                       "(.*\n)?\\$1 = 0\n\\$2 = 0\n\\$3 = <unavailable>\n"
                                       "visit \\+ [0-9]+ in section \\.text\n"));
  EXPECT_THAT(r.gdb_out, ContainsRegex("Found trace frame 5, tracepoint 2\n"
                                       "(.*\n)?\\$4 = 5\n\\$5 = 42\n"));
  // `tfind pc` searches on from the frame gdb looks at.
  EXPECT_THAT(r.gdb_out, ContainsRegex("Found trace frame 6, tracepoint 2\n(.*\n)?\\$6 = 6\n"));
  // Live again: total is the program's sum after the loop.
  EXPECT_THAT(r.gdb_out, ContainsRegex("\\$7 = [0-9]+\n"));
  EXPECT_THAT(r.gdb_out, ContainsRegex("\\[Inferior 1 \\(process [0-9]+\\) exited normally\\]"));
  EXPECT_THAT(r.km_out, HasSubstr("total "));
  EXPECT_EQ(r.km_status, 0);
}

TEST_P(TracepointTest, AConditionAPassCountAndTraceStateVariables) {
  SessionResult r = Run(
      "fastpath", {"100", "10"},
      {absl::StrCat("break fastpath.c:", SourceLine("fastpath", "after-heavy")),
       "tvariable $seen = 100", "trace visit if i % 10 == 0", "passcount 3", "actions",
       "teval $seen = $seen + 1", "collect $seen, i, $trace_timestamp", "end",
       "tstart", "continue", "tstatus",
       "tfind start", "p i", "p $seen", "tfind", "p i", "p $seen", "tfind", "p i", "p $seen",
       "tfind", "tfind none", "p $seen", "tfind start", "p $trace_timestamp", "tfind none",
       "continue"});
  SCOPED_TRACE(r.Describe());
  EXPECT_THAT(r.gdb_out, HasSubstr("Trace stopped by tracepoint 2."));
  EXPECT_THAT(r.gdb_out, HasSubstr("Collected 3 trace frames."));
  EXPECT_THAT(r.gdb_out, ContainsRegex("\\$1 = 0\n\\$2 = 101\n"));
  EXPECT_THAT(r.gdb_out, ContainsRegex("\\$3 = 10\n\\$4 = 102\n"));
  EXPECT_THAT(r.gdb_out, ContainsRegex("\\$5 = 20\n\\$6 = 103\n"));
  // Live, the variable holds what the last hit left.
  EXPECT_THAT(r.gdb_out, ContainsRegex("\\$7 = 103\n"));
  // km's clock at the first hit, in microseconds since 1970 (gdb learns of the variable from
  // the agent, as from gdbserver).
  EXPECT_THAT(r.gdb_out, ContainsRegex("\\$8 = 1[0-9]{15}\n"));
  EXPECT_THAT(r.gdb_out, ContainsRegex("\\[Inferior 1 \\(process [0-9]+\\) exited normally\\]"));
  EXPECT_EQ(r.km_status, 0);
}

// Every thread's hits are collected, and a breakpoint at the tracepoint's address stops as
// usual after the tracepoint collected; removing it leaves the tracepoint collecting.
TEST_P(TracepointTest, BesideABreakpointAndAcrossThreads) {
  SessionResult r = Run(
      "gdb_demo", {"threads"},
      {"trace add", "actions", "collect a, b", "end", "break add",
       absl::StrCat("break gdb_demo.c:", DemoLine("exit")), "tstart", "continue", "delete 2",
       "continue", "tstop", "tstatus", "tfind start", "p a + b", "tfind", "p a + b", "tfind none",
       "continue"});
  SCOPED_TRACE(r.Describe());
  EXPECT_THAT(r.gdb_out, HasSubstr("Breakpoint 2, add (a=3, b=4)"));
  EXPECT_THAT(r.gdb_out, HasSubstr("Collected 2 trace frames."));
  EXPECT_THAT(r.gdb_out, ContainsRegex("\\$1 = 7\n"));
  EXPECT_THAT(r.gdb_out, ContainsRegex("\\$2 = 42\n"));
  EXPECT_THAT(r.gdb_out,
              ContainsRegex("\\[Inferior 1 \\(process [0-9]+\\) exited with code 03\\]"));
  EXPECT_THAT(r.km_out, HasSubstr("total=52 counter=3 label=origin\n"));
  EXPECT_EQ(r.km_status, 3);
}

// A detach while tracing ends the run and takes its int3s out: the payload finishes as it
// would have without gdb.
TEST_P(TracepointTest, ADetachWhileTracingLeavesThePayloadIntact) {
  SessionResult r = Run("fastpath", {"40", "10"},
                        {"trace visit", "actions", "collect i", "end", "tstart", "detach"});
  SCOPED_TRACE(r.Describe());
  EXPECT_THAT(r.gdb_out, Not(HasSubstr("rror")));
  EXPECT_THAT(r.km_out, HasSubstr("total "));
  EXPECT_EQ(r.km_status, 0);
}

// A collection that fails at a hit ends the run, and tstatus says where and why; the payload
// is unharmed.
TEST_P(TracepointTest, AFailingCollectionIsToldByTstatus) {
  SessionResult r = Run(
      "fastpath", {"5", "5"},
      {absl::StrCat("break fastpath.c:", SourceLine("fastpath", "after-heavy")), "trace visit",
       "actions", "teval total / (i - i)", "end", "tstart", "continue", "tstatus", "continue"});
  SCOPED_TRACE(r.Describe());
  EXPECT_THAT(r.gdb_out, ContainsRegex("Trace stopped by an error \\(tracepoint collection at "
                                       "0x[0-9a-f]+: agent expression divides by zero, "
                                       "tracepoint 2\\)"));
  EXPECT_THAT(r.gdb_out, HasSubstr("Collected 0 trace frames."));
  EXPECT_THAT(r.km_out, HasSubstr("total "));
  EXPECT_EQ(r.km_status, 0);
}

// while-stepping: each hit leaves its own frame and one per step after it, each at the pc the
// step ended at, as with gdbserver (which gives the same 20 frames for this session natively).
TEST_P(TracepointTest, WhileSteppingLeavesAFramePerStep) {
  SessionResult r = Run(
      "fastpath", {"5", "5"},
      {absl::StrCat("break fastpath.c:", SourceLine("fastpath", "after-heavy")), "trace visit",
       "actions", "collect i", "while-stepping 3", "collect $regs", "end", "end", "tstart",
       "continue", "tstop", "tstatus", "tfind start", "p i", "p/x $pc", "tfind", "p i",
       "p/x $pc", "tfind", "p/x $pc", "tfind 4", "p i", "p/x $pc", "tfind none", "continue"});
  SCOPED_TRACE(r.Describe());
  EXPECT_THAT(r.gdb_out, HasSubstr("Collected 20 trace frames."));
  // The hit: i collected, at the tracepoint; then steps with every register but no i, each
  // further on; frame 4 is the next call's hit.
  std::smatch m;
  const std::regex frames(
      "Found trace frame 0, tracepoint 2\n(?:.*\n)?\\$1 = 0\n\\$2 = (0x[0-9a-f]+)\n"
      "Found trace frame 1, tracepoint 2\n(?:.*\n)?\\$3 = <unavailable>\n\\$4 = (0x[0-9a-f]+)\n"
      "Found trace frame 2, tracepoint 2\n(?:.*\n)?\\$5 = (0x[0-9a-f]+)\n"
      "Found trace frame 4, tracepoint 2\n(?:.*\n)?\\$6 = 1\n\\$7 = (0x[0-9a-f]+)\n");
  ASSERT_TRUE(std::regex_search(r.gdb_out, m, frames)) << r.gdb_out;
  const uint64_t hit = std::stoull(m[1], nullptr, 16);
  EXPECT_GT(std::stoull(m[2], nullptr, 16), hit);
  EXPECT_GT(std::stoull(m[3], nullptr, 16), std::stoull(m[2], nullptr, 16));
  EXPECT_EQ(std::stoull(m[4], nullptr, 16), hit);
  EXPECT_THAT(r.gdb_out, ContainsRegex("\\[Inferior 1 \\(process [0-9]+\\) exited normally\\]"));
  EXPECT_EQ(r.km_status, 0);
}

INSTANTIATE_TEST_SUITE_P(Engines, TracepointTest, ::testing::Values("kvm", "tcg"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace km_gdb_test
