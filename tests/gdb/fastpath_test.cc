// The two protocol fast paths, driven by stock gdb: range stepping (vCont;r, km steps inside
// the line's range without a round trip per instruction) and breakpoint conditions evaluated in
// km (gdb sends them as agent expressions with Z0; a false hit costs no stop reply). Each test
// checks that gdb ends up exactly where the plain path (range-stepping off, conditions
// evaluated by gdb) takes it, and counts the packets to show the fast path was taken.
#include <regex>

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
using ::testing::HasSubstr;
using ::testing::Not;

std::string At(absl::string_view tag) {
  return absl::StrCat("fastpath.c:", SourceLine("fastpath", tag));
}

// How often gdb's remote debug log (set debug remote 1) shows a packet starting with prefix
// going out (sent) or coming in.
int Packets(const std::string& out, absl::string_view prefix, bool sent) {
  const std::string needle =
      absl::StrCat(sent ? "Sending packet: $" : "Packet received: ", prefix);
  int n = 0;
  for (size_t at = out.find(needle); at != std::string::npos; at = out.find(needle, at + 1)) ++n;
  return n;
}

// What gdb told the user about where it stopped: source lines, frame lines, rip and printed
// values, in order (the remote debug log left out).
std::vector<std::string> Landings(const std::string& out) {
  static const std::regex kInteresting(
      R"(^([0-9]+\t.*|rip .*|Breakpoint [0-9]+, .*|Temporary breakpoint .*|\$[0-9]+ = .*|[a-z_]+ \(.*\) at .*)$)");
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    const std::string s(line);
    if (std::regex_match(s, kInteresting)) lines.push_back(s);
  }
  return lines;
}

class FastPathTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    km_test::EngineInfo engine = km_test::FindEngine(GetParam());
    if (!engine.available) GTEST_SKIP() << engine.skip_reason;
  }

  SessionResult Run(std::vector<std::string> args, std::vector<std::string> commands) {
    SessionOptions options;
    options.engine = GetParam();
    options.payload = "fastpath";
    options.payload_args = std::move(args);
    options.gdb_commands = std::move(commands);
    absl::StatusOr<SessionResult> r = RunSession(options);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : SessionResult{};
  }
};

TEST_P(FastPathTest, RangeSteppedNextAndStepLandWhereSingleStepsDo) {
  auto session = [&](bool range_stepping) {
    return Run({"20", "300"},
               {absl::StrCat("set range-stepping ", range_stepping ? "on" : "off"),
                absl::StrCat("break ", At("calls")), "continue", "set debug remote 1",
                // Into visit, out again, then over the rest of the calls line (its 19 calls).
                "step", "info registers rip", "next", "next", "info registers rip",
                "print total", "delete",
                // Over the heavy line: some 2,400 instructions.
                "next", "set debug remote 0", "info registers rip", "print acc", "next",
                "info registers rip", "kill"});
  };
  SessionResult plain = session(false);
  SessionResult fast = session(true);
  SCOPED_TRACE(plain.Describe());
  SCOPED_TRACE(fast.Describe());
  const std::vector<std::string> landed = Landings(fast.gdb_out);
  EXPECT_EQ(landed, Landings(plain.gdb_out));
  // Where the session went: into visit, back to the loop, over the heavy line.
  EXPECT_THAT(fast.gdb_out, ContainsRegex("visit \\(i=0, p=0x[0-9a-f]+ <values>\\) at .*" +
                                          At("visit-body")));
  EXPECT_THAT(fast.gdb_out, HasSubstr(absl::StrCat("\n", SourceLine("fastpath", "heavy"), "\t")));
  EXPECT_THAT(fast.gdb_out, HasSubstr("$2 = 134550"));  // 3 * (0 + 1 + ... + 299)
  EXPECT_THAT(fast.gdb_out,
              HasSubstr(absl::StrCat("\n", SourceLine("fastpath", "after-heavy"), "\t")));
  // The fast session handed gdb's ranges to km; the plain one stepped one instruction a time,
  // each a stop reply of its own (the heavy line alone is some 2400 instructions).
  EXPECT_GT(Packets(fast.gdb_out, "vCont;r", /*sent=*/true), 0);
  EXPECT_EQ(Packets(plain.gdb_out, "vCont;r", /*sent=*/true), 0);
  const int fast_stops = Packets(fast.gdb_out, "T05", /*sent=*/false);
  const int plain_stops = Packets(plain.gdb_out, "T05", /*sent=*/false);
  EXPECT_LT(fast_stops, 100);
  EXPECT_GT(plain_stops, 2000);
}

// A stepi costs one round trip to km: the stop comes back inside the Resume call, with the
// stack bytes gdb unwinds from and the thread list gdb reads after every stop.
TEST_P(FastPathTest, AStepiCostsOneCallToKm) {
  SessionOptions options;
  options.engine = GetParam();
  options.payload = "fastpath";
  options.payload_args = {"3", "10"};
  options.agent_args = {"--verbose"};  // logs every packet and every call to km
  options.gdb_commands = {absl::StrCat("break ", At("visit-body")), "continue", "delete"};
  constexpr int kSteps = 10;  // all inside visit (its 11th instruction is its ret)
  for (int i = 0; i < kSteps; ++i) options.gdb_commands.push_back("stepi");
  options.gdb_commands.push_back("info registers rip");
  options.gdb_commands.push_back("kill");
  absl::StatusOr<SessionResult> r = RunSession(options);
  ASSERT_TRUE(r.ok()) << r.status();
  SCOPED_TRACE(r->Describe());
  ASSERT_THAT(r->gdb_out, HasSubstr("rip"));
  // From gdb's first step to its kill: what gdb sent and what the agent asked km for.
  const size_t from = r->agent_err.find("<- vCont;s");
  const size_t to = r->agent_err.find("<- vKill");
  ASSERT_NE(from, std::string::npos);
  ASSERT_NE(to, std::string::npos);
  int steps = 0, resumes = 0, reads = 0, lists = 0;
  for (absl::string_view line : absl::StrSplit(r->agent_err.substr(from, to - from), '\n')) {
    steps += absl::StrContains(line, "<- vCont;s");
    resumes += absl::EndsWith(line, "rpc Resume");
    reads += absl::EndsWith(line, "rpc ReadMemory");
    lists += absl::EndsWith(line, "rpc ListThreads");
  }
  EXPECT_EQ(steps, kSteps);
  EXPECT_EQ(resumes, kSteps);
  EXPECT_EQ(reads, 0) << "gdb's unwinding reads went to km";
  EXPECT_EQ(lists, 0) << "gdb's thread list reads went to km";
}

// gdb continues from a breakpoint by stepping off it alone with the breakpoint taken out, then
// putting it back: the agent leaves it in km (km steps over its own int3), so each continue
// costs km two Resume calls and nothing else, and every hit is still reported.
TEST_P(FastPathTest, AContinueFromABreakpointCostsTwoResumes) {
  SessionOptions options;
  options.engine = GetParam();
  options.payload = "fastpath";
  options.payload_args = {"6", "10"};
  options.agent_args = {"--verbose"};
  options.gdb_commands = {"break visit", "continue"};
  constexpr int kContinues = 4;
  for (int i = 0; i < kContinues; ++i) options.gdb_commands.push_back("continue");
  options.gdb_commands.push_back("print i");
  options.gdb_commands.push_back("kill");
  absl::StatusOr<SessionResult> r = RunSession(options);
  ASSERT_TRUE(r.ok()) << r.status();
  SCOPED_TRACE(r->Describe());
  EXPECT_THAT(r->gdb_out, HasSubstr(absl::StrCat("$1 = ", kContinues)));
  const size_t from = r->agent_err.find("<- vCont;s");  // the first step off the breakpoint
  const size_t to = r->agent_err.find("<- vKill");
  ASSERT_NE(from, std::string::npos);
  ASSERT_NE(to, std::string::npos);
  int steps = 0, resumes = 0, others = 0;
  for (absl::string_view line : absl::StrSplit(r->agent_err.substr(from, to - from), '\n')) {
    steps += absl::StrContains(line, "<- vCont;s");
    resumes += absl::EndsWith(line, "rpc Resume");
    others += absl::StrContains(line, "rpc ") && !absl::EndsWith(line, "rpc Resume");
  }
  EXPECT_EQ(steps, kContinues);
  EXPECT_EQ(resumes, 2 * kContinues);
  EXPECT_EQ(others, 0) << "a continue from the breakpoint asked km for more than Resume";
}

// All-stop with several threads running: km stops the others at the first stop before it
// answers, so a breakpoint hit or a stepi that let the other threads run costs one call too, with
// no Stop call after it and the stack and thread list still good for gdb.
TEST_P(FastPathTest, AStopAmongRunningThreadsCostsOneCallToKm) {
  SessionOptions options;
  options.engine = GetParam();
  options.payload = "workers";
  // Three workers and the lead, until quit is set.
  options.payload_args = {"4", "0", "200"};
  options.agent_args = {"--verbose"};
  // Worker 3 is the last thread main creates: once it is at checkpoint, no thread is being born
  // (a birth queued on the event stream ahead of a stop sends that stop on the stream instead,
  // and the agent then stops the others itself).
  // Then only worker 1 stops (km evaluates the condition), as the workers keep pace with each
  // other: two stopping at once would have one's stop held back and reported with no call.
  options.gdb_commands = {"break checkpoint if index == 3", "continue", "info threads", "delete",
                          "break checkpoint if index == 1"};
  constexpr int kHits = 8, kSteps = 3;  // checkpoint is 9 instructions: three stay inside it
  for (int i = 0; i < kHits; ++i) options.gdb_commands.push_back("continue");
  for (int i = 0; i < kSteps; ++i) options.gdb_commands.push_back("stepi");
  for (const char* c : {"bt", "info threads", "delete", "set var quit = 1", "continue"}) {
    options.gdb_commands.push_back(c);
  }
  absl::StatusOr<SessionResult> r = RunSession(options);
  ASSERT_TRUE(r.ok()) << r.status();
  SCOPED_TRACE(r->Describe());
  EXPECT_THAT(r->gdb_out, ContainsRegex("#0  0x[0-9a-f]+ in checkpoint \\(index=1\\) at .*"
                                        "\n#1  0x[0-9a-f]+ in worker \\(arg=0x1\\) at "));
  EXPECT_THAT(r->gdb_out, ContainsRegex("\\* [0-9]+ +Thread [0-9.]+ \"worker-1\" +"
                                        "0x[0-9a-f]+ in checkpoint \\(index=1\\)"));
  EXPECT_THAT(r->gdb_out,
              ContainsRegex("Thread [0-9.]+ \"lead\" +(0x[0-9a-f]+ in )?lead \\(arg=0x0\\)"));
  EXPECT_THAT(r->km_out, ContainsRegex("workers=3 rounds=[0-9]+ checkpoints=[0-9]+ expected="
                                       "[0-9]+ ok"));
  EXPECT_EQ(r->km_status, 0);
  // gdb's resumes from its step off worker 3's first checkpoint to its last stepi, one by one:
  // those that let every thread run (vCont;c, and gdb's stepi: vCont;s:T;c) and that km
  // answered, and what else each cost.
  const size_t from = r->agent_err.find("<- vCont;s");
  const size_t to = r->agent_err.rfind("<- vCont;s");
  ASSERT_NE(from, std::string::npos);
  ASSERT_NE(to, std::string::npos);
  int all_ran = 0, all_stopped_by_km = 0, one_call = 0;
  std::string others;
  const std::vector<std::string> segments =
      absl::StrSplit(r->agent_err.substr(from, to - from), "<- vCont;");
  for (const std::string& segment : segments) {
    if (!absl::StartsWith(segment, "c") && !absl::StrContains(segment.substr(0, 40), ";c")) {
      continue;
    }
    ++all_ran;
    // A stop that comes after the agent's 20 ms wait in km (a loaded machine, a sanitizer)
    // comes on the stream, and the agent stops the others itself: not what this counts.
    if (!absl::StrContains(segment, "answered in the call, the others stopped by km")) continue;
    ++all_stopped_by_km;
    int calls = 0;
    for (absl::string_view line : absl::StrSplit(segment, '\n')) {
      if (!absl::StrContains(line, "rpc ")) continue;
      // gdb puts its breakpoints back before each resume and takes them out after the stop.
      if (absl::EndsWith(line, "rpc InsertBreakpoint") ||
          absl::EndsWith(line, "rpc RemoveBreakpoint")) {
        continue;
      }
      ++calls;
      if (!absl::EndsWith(line, "rpc Resume")) absl::StrAppend(&others, line, "\n");
    }
    one_call += calls == 1;
  }
  // gdb's first stepi, off the breakpoint, steps that thread alone; the last one's stop is left
  // out (bt and info threads read more after it).
  EXPECT_EQ(all_ran, kHits + kSteps - 2);
  EXPECT_GE(all_stopped_by_km, 3) << "km stopped the others at too few of gdb's resumes";
  EXPECT_EQ(one_call, all_stopped_by_km) << "calls other than Resume:\n" << others;
  std::cerr << "resumes that let every thread run: " << all_ran << ", with the others stopped by "
            << "km: " << all_stopped_by_km << "\n";
}

// The stop that matters is the first true hit; the 9,000 false ones before it never reach gdb.
TEST_P(FastPathTest, ConditionFalse9000TimesCostsOneStopReply) {
  SessionResult r = Run({}, {"break visit if i == 9000", "set debug remote 1", "continue",
                             "set debug remote 0", "print i", "print total", "delete",
                             "continue"});
  SCOPED_TRACE(r.Describe());
  const std::string& out = r.gdb_out;
  // gdb sent the condition as bytecode with the breakpoint.
  EXPECT_THAT(out, ContainsRegex("Sending packet: \\$Z0,[0-9a-f]+,1;X[0-9a-f]+,[0-9a-f]+#"));
  EXPECT_THAT(out, ContainsRegex("Breakpoint 1, visit \\(i=9000, p=0x[0-9a-f]+ <values\\+32>\\)"));
  EXPECT_THAT(out, HasSubstr("$1 = 9000"));
  // 0 + ... + 8999, plus 42 for each of the 563 values of i below 9000 that are 5 mod 16.
  EXPECT_THAT(out, HasSubstr("$2 = 40519146"));
  EXPECT_EQ(Packets(out, "T05", /*sent=*/false), 1);
  EXPECT_THAT(out, ContainsRegex("\\[Inferior 1 \\(process [0-9]+\\) exited normally\\]"));
  EXPECT_EQ(r.km_status, 0);
}

// Host evaluation is the reference: km's evaluation stops at the same hit, with the same state.
TEST_P(FastPathTest, TargetAndHostEvaluationStopAtTheSameHit) {
  auto session = [&](const char* where) {
    return Run({"400", "10"},
               {absl::StrCat("set breakpoint condition-evaluation ", where),
                "break visit if i * 3 > 700 && (i & 1) == 1", "set debug remote 1", "continue",
                "set debug remote 0", "print i", "print total", "info registers rip", "kill"});
  };
  SessionResult host = session("host");
  SessionResult target = session("target");
  SCOPED_TRACE(host.Describe());
  SCOPED_TRACE(target.Describe());
  EXPECT_EQ(Landings(target.gdb_out), Landings(host.gdb_out));
  EXPECT_THAT(target.gdb_out, HasSubstr("$1 = 235"));
  EXPECT_THAT(target.gdb_out, ContainsRegex("Z0,[0-9a-f]+,1;X"));
  EXPECT_THAT(host.gdb_out, Not(ContainsRegex("Z0,[0-9a-f]+,1;X")));
  EXPECT_EQ(Packets(target.gdb_out, "T05", /*sent=*/false), 1);
  EXPECT_GE(Packets(host.gdb_out, "T05", /*sent=*/false), 236);  // i = 0..235
}

TEST_P(FastPathTest, ConditionsReadMemoryAndRegistersAndCanBeReplaced) {
  SessionResult r = Run({"1000", "10"},
                        {// p points into values[], where only [5] holds 42; rdi still holds i.
                         "break visit if *p == 42 && $rdi > 100", "continue", "print i",
                         // gdb re-sends Z0 with the new condition; km replaces the old one.
                         "condition 1 i == 700", "continue", "print i",
                         "condition 1", "continue", "print i", "kill"});
  SCOPED_TRACE(r.Describe());
  EXPECT_THAT(r.gdb_out, HasSubstr("$1 = 101\n"));  // 101 = 6 * 16 + 5
  EXPECT_THAT(r.gdb_out, HasSubstr("$2 = 700\n"));
  EXPECT_THAT(r.gdb_out, HasSubstr("$3 = 701\n"));
}

// A condition km cannot evaluate (here: it reads unmapped memory) stops, as with gdbserver;
// gdb then evaluates it itself, fails the same way, and stops there too.
TEST_P(FastPathTest, ConditionReadingUnmappedMemoryStops) {
  auto session = [&](const char* where) {
    return Run({"50", "10"}, {absl::StrCat("set breakpoint condition-evaluation ", where),
                              "break visit if *nowhere == 5", "continue", "print i", "kill"});
  };
  SessionResult host = session("host");
  SessionResult target = session("target");
  SCOPED_TRACE(host.Describe());
  SCOPED_TRACE(target.Describe());
  EXPECT_THAT(host.gdb_out, HasSubstr("Cannot access memory at address 0x1000"));
  EXPECT_THAT(target.gdb_out, HasSubstr("$1 = 0"));
  EXPECT_EQ(Landings(target.gdb_out), Landings(host.gdb_out));
}

INSTANTIATE_TEST_SUITE_P(Engines, FastPathTest, ::testing::Values("kvm", "tcg"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace km_gdb_test
