// Runs the Python example (tools/python/break_at.py, generated stubs, Debian's grpcio) against a
// real km on every engine this machine has, and checks what it printed at the breakpoint.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/engines.h"
#include "tools/testing/held_payload.h"

extern char** environ;

namespace {

class BreakAtTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    km_test::EngineInfo engine = km_test::FindEngine(GetParam());
    if (!engine.available) GTEST_SKIP() << engine.skip_reason;
  }

  km_test::RunResult BreakAt(std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/python3",
                                     km_test::Runfile("tools/python/break_at.py"), "--km",
                                     km_test::Runfile("km/km"), "--accel", GetParam()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(km_test::Runfile("km_hooks/bin/target"));
    km_test::RunOptions options;
    for (char** e = environ; *e != nullptr; e++) options.env.emplace_back(*e);
    absl::StatusOr<km_test::RunResult> r = km_test::Run(argv, options);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : km_test::RunResult{};
  }

  std::map<std::string, uint64_t> syms_ = km_test::TargetSymbols();
};

TEST_P(BreakAtTest, StopsAtTouchPrintsItsStateAndRunsToTheEnd) {
  const uint64_t touch = syms_["touch"], watched = syms_["watched"], main = syms_["main"];
  ASSERT_NE(touch, 0u);
  km_test::RunResult r = BreakAt({"--break", "touch", "--mem", "watched:8"});
  ASSERT_EQ(r.status, 0) << km_test::Describe(r);
  const std::string& out = r.out;
  std::vector<std::string> lines = absl::StrSplit(out, '\n');
  EXPECT_TRUE(absl::StartsWith(lines[0], "km ")) << out;
  EXPECT_TRUE(absl::StrContains(lines[0], "on " + GetParam())) << out;
  const std::string km_pid = lines[0].substr(3, lines[0].find(' ', 3) - 3);
  EXPECT_EQ(lines[1], absl::StrFormat("breakpoint at touch (0x%x)", touch));
  EXPECT_TRUE(absl::StrContains(
      out, absl::StrFormat("thread %s stopped: STOP_KIND_BREAKPOINT at 0x%x\n", km_pid, touch)))
      << out;
  EXPECT_TRUE(absl::StrContains(out, absl::StrFormat("  rip      0x%016x\n", touch))) << out;
  EXPECT_TRUE(absl::StrContains(out, "  rdi      0x000000000000002a\n")) << "touch(42): " << out;
  // touch has not stored 42 yet.
  EXPECT_TRUE(absl::StrContains(out, absl::StrFormat("watched (8 bytes at 0x%x):\n"
                                                     "  0x%016x  00 00 00 00 00 00 00 00\n",
                                                     watched, watched)))
      << out;
  // The word at rsp is touch's return address, inside main.
  const size_t at_rsp = out.find("rsp (32 bytes at 0x");
  ASSERT_NE(at_rsp, std::string::npos) << out;
  std::vector<std::string> dump = absl::StrSplit(out.substr(out.find('\n', at_rsp) + 1, 80), ' ',
                                                 absl::SkipEmpty());
  ASSERT_GE(dump.size(), 9u) << out;
  uint64_t ret = 0;
  for (int i = 8; i >= 1; i--) ret = ret << 8 | std::stoul(dump[i], nullptr, 16);
  EXPECT_GT(ret, main) << out;
  EXPECT_LT(ret, main + 0x80) << out;
  EXPECT_TRUE(absl::StrContains(out, "done 3 42\n")) << out;
  EXPECT_TRUE(absl::StrContains(out, "process exited with 7\nkm exited with 7\n")) << out;
}

TEST_P(BreakAtTest, AnUnknownSymbolIsNamedAndKmIsNotLeftBehind) {
  km_test::RunResult r = BreakAt({"--break", "no_such_function"});
  EXPECT_EQ(r.status, 2) << km_test::Describe(r);
  EXPECT_TRUE(absl::StrContains(r.err, "no symbol 'no_such_function'")) << r.err;
  // km shares the script's stdout: Run() returning before its deadline means km has gone too.
  EXPECT_FALSE(r.timed_out);
}

INSTANTIATE_TEST_SUITE_P(Engines, BreakAtTest, ::testing::Values("kvm", "tcg"),
                         [](const auto& info) { return info.param; });

}  // namespace
