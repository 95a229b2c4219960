// gdb's dprintf with `set dprintf-style agent`: gdb sends the printf as a breakpoint command
// (BreakpointCommands+) and km prints it at each hit on its standard output, with no stop and
// no round trip to gdb. What km prints is checked against what gdb's own dprintf
// (`set dprintf-style gdb`) prints for the same breakpoint.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engines.h"
#include "tests/gdb/harness.h"

namespace km_gdb_test {
namespace {

using ::testing::ContainsRegex;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// The lines of out that start with prefix, in order.
std::vector<std::string> LinesStartingWith(const std::string& out, absl::string_view prefix) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    if (absl::StartsWith(line, prefix)) lines.emplace_back(line);
  }
  return lines;
}

// Stop replies gdb received (set debug remote 1): T and S packets; the exit's W is not one.
int StopReplies(const std::string& gdb_out) {
  int n = 0;
  for (const char* needle : {"Packet received: T", "Packet received: S"}) {
    for (size_t at = gdb_out.find(needle); at != std::string::npos;
         at = gdb_out.find(needle, at + 1)) {
      ++n;
    }
  }
  return n;
}

class DprintfTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    km_test::EngineInfo engine = km_test::FindEngine(GetParam());
    if (!engine.available) GTEST_SKIP() << engine.skip_reason;
  }

  SessionResult Run(const std::string& payload, std::vector<std::string> args,
                    std::vector<std::string> commands) {
    SessionOptions options;
    options.engine = GetParam();
    options.payload = payload;
    options.payload_args = std::move(args);
    options.gdb_commands = std::move(commands);
    absl::StatusOr<SessionResult> r = RunSession(options);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : SessionResult{};
  }
};

TEST_P(DprintfTest, KmPrintsWhatGdbsOwnDprintfPrintsWithoutAStop) {
  auto session = [&](const char* style) {
    return Run("fastpath", {"40", "10"},
               {absl::StrCat("set dprintf-style ", style),
                R"(dprintf visit,"visit i=%d *p=%d p=%p %#lx\n", i, *p, p, (long)i << 33)",
                "set debug remote 1", "continue"});
  };
  SessionResult agent = session("agent");
  SessionResult gdb = session("gdb");
  SCOPED_TRACE(agent.Describe());
  SCOPED_TRACE(gdb.Describe());
  // gdb sent the printf as a command, persisting by default (disconnected-dprintf on).
  EXPECT_THAT(agent.gdb_out, ContainsRegex("Sending packet: \\$Z0,[0-9a-f]+,1;cmds:1,X"));
  const std::vector<std::string> printed_by_gdb = LinesStartingWith(gdb.gdb_out, "visit i=");
  ASSERT_EQ(printed_by_gdb.size(), 40u);
  EXPECT_THAT(printed_by_gdb[5], ContainsRegex("^visit i=5 \\*p=42 p=0x[0-9a-f]+ 0xa00000000$"));
  EXPECT_THAT(LinesStartingWith(agent.km_out, "visit i="), ElementsAreArray(printed_by_gdb));
  EXPECT_THAT(LinesStartingWith(agent.gdb_out, "visit i="), IsEmpty());
  // No hit reached gdb: the only stop reply after `continue` would be one.
  EXPECT_EQ(StopReplies(agent.gdb_out), 0);
  EXPECT_GE(StopReplies(gdb.gdb_out), 40);  // a stop at each hit (and one for its step off)
  EXPECT_THAT(agent.gdb_out,
              ContainsRegex("\\[Inferior 1 \\(process [0-9]+\\) exited normally\\]"));
  EXPECT_THAT(agent.km_out, HasSubstr("total "));
  EXPECT_EQ(agent.km_status, 0);
}

// A condition on the dprintf is evaluated in km too: the printf runs only when it is true.
TEST_P(DprintfTest, AConditionDecidesWhichHitsPrint) {
  SessionResult r = Run("fastpath", {"200", "10"},
                        {"set dprintf-style agent", R"(dprintf visit,"hit %d\n", i)",
                         "condition 1 i % 50 == 0", "set debug remote 1", "continue"});
  SCOPED_TRACE(r.Describe());
  EXPECT_THAT(r.gdb_out, ContainsRegex("Z0,[0-9a-f]+,1;X[0-9a-f]+,[0-9a-f]+;cmds:1,X"));
  EXPECT_THAT(LinesStartingWith(r.km_out, "hit "),
              ElementsAreArray({"hit 0", "hit 50", "hit 100", "hit 150"}));
  EXPECT_EQ(StopReplies(r.gdb_out), 0);
  EXPECT_EQ(r.km_status, 0);
}

// Strings are read from the guest; every thread's hits print, a worker's as well as main's.
TEST_P(DprintfTest, StringsAndThreads) {
  SessionResult r = Run("gdb_demo", {"threads"},
                        {"set dprintf-style agent",
                         R"(dprintf add,"%s: %d+%d [%-8.3s]\n", origin.label, a, b, origin.label)",
                         "continue"});
  SCOPED_TRACE(r.Describe());
  EXPECT_THAT(LinesStartingWith(r.km_out, "origin: "),
              ElementsAreArray({"origin: 3+4 [ori     ]", "origin: 2+40 [ori     ]"}));
  EXPECT_EQ(r.km_status, 3);
}

// A printf km cannot complete (a %s at an unmapped address), or a condition on it that km
// cannot evaluate, says why on km's output, once per hit, and the payload runs on as if nothing
// were there: a dprintf never stops it.
TEST_P(DprintfTest, AFailingPrintfOrConditionSaysWhyAndThePayloadRunsOn) {
  auto session = [&](std::vector<std::string> dprintf) {
    dprintf.insert(dprintf.begin(), "set dprintf-style agent");
    dprintf.push_back("set debug remote 1");
    dprintf.push_back("continue");
    return Run("fastpath", {"3", "10"}, dprintf);
  };
  SessionResult printf = session({R"(dprintf visit,"at %d: %s\n", i, nowhere)"});
  SessionResult condition =
      session({R"(dprintf visit,"at %d\n", i)", "condition 1 *nowhere == 5"});
  for (const SessionResult* r : {&printf, &condition}) {
    SCOPED_TRACE(r->Describe());
    const std::vector<std::string> failures = LinesStartingWith(
        r->km_out, r == &printf ? "km: breakpoint command at " : "km: breakpoint condition at ");
    ASSERT_EQ(failures.size(), 3u) << r->km_out;
    EXPECT_THAT(failures[0], HasSubstr("reads unmapped memory at 0x1000"));
    EXPECT_THAT(LinesStartingWith(r->km_out, "at "), IsEmpty());
    EXPECT_EQ(StopReplies(r->gdb_out), 0);
    EXPECT_THAT(r->gdb_out,
                ContainsRegex("\\[Inferior 1 \\(process [0-9]+\\) exited normally\\]"));
    EXPECT_THAT(r->km_out, HasSubstr("total "));
    EXPECT_EQ(r->km_status, 0);
  }
}

// gdb's detach leaves a dprintf inserted when its commands persist (gdb's disconnected-dprintf,
// on by default): with breakpoints kept inserted (`always-inserted on`), it goes on printing in
// km with nobody attached, and only then.
TEST_P(DprintfTest, ADprintfOutlivesADetachOnlyWhenItPersists) {
  auto session = [&](bool persist) {
    return Run("fastpath", {"30", "10"},
               {"set breakpoint always-inserted on", "set dprintf-style agent",
                absl::StrCat("set disconnected-dprintf ", persist ? "on" : "off"),
                "break main", "continue", R"(dprintf visit,"left %d\n", i)", "delete 1",
                "detach"});
  };
  SessionResult kept = session(true);
  SessionResult dropped = session(false);
  SCOPED_TRACE(kept.Describe());
  SCOPED_TRACE(dropped.Describe());
  EXPECT_EQ(LinesStartingWith(kept.km_out, "left ").size(), 30u);
  EXPECT_THAT(kept.km_out, HasSubstr("left 29\n"));
  EXPECT_THAT(LinesStartingWith(dropped.km_out, "left "), IsEmpty());
  EXPECT_EQ(kept.km_status, 0);
  EXPECT_EQ(dropped.km_status, 0);
}

// With gdb's default (breakpoints out of the target while it is stopped), gdb removed the
// dprintf at the last stop; the agent holds most removals back until the next resume, but not
// this one, or the persistent dprintf would print on after the detach.
TEST_P(DprintfTest, ADprintfGdbRemovedAtAStopPrintsNoMoreAfterADetach) {
  SessionResult r = Run("fastpath", {"30", "10"},
                        // At visit's first instruction, apart from the breakpoint in its body
                        // (at one address, gdb would evaluate the dprintf itself).
                        {"set dprintf-style agent", R"(dprintf *visit,"seen %ld\n", total)",
                         absl::StrCat("break fastpath.c:", SourceLine("fastpath", "visit-body"),
                                      " if i == 10"),
                         "continue", "detach"});
  SCOPED_TRACE(r.Describe());
  const std::vector<std::string> seen = LinesStartingWith(r.km_out, "seen ");
  ASSERT_EQ(seen.size(), 11u) << r.km_out;
  EXPECT_EQ(seen.back(), "seen 87");  // 0 + ... + 9, and 42 at i = 5
  EXPECT_THAT(r.km_out, HasSubstr("total "));
  EXPECT_EQ(r.km_status, 0);
}

INSTANTIATE_TEST_SUITE_P(Engines, DprintfTest, ::testing::Values("kvm", "tcg"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace km_gdb_test
