// Non-stop debugging with stock gdb (`set non-stop on`): threads stop one at a time while the
// others run on. gdb is driven interactively (InteractiveGdb), each command sent once the output
// it waits for is there, over real km and km-gdb-agent, on the workers payload: its threads count
// their rounds in progress[], so a test sees which ones run.
#include <map>
#include <regex>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engines.h"
#include "tests/gdb/harness.h"
#include "tests/gdb/interactive_gdb.h"

namespace km_gdb_test {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kLeadHit[] = R"(Thread (\d+) "lead" hit Breakpoint 1, lead_mark \(round=(\d+)\))";

class NonStopTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    km_test::EngineInfo engine = km_test::FindEngine(GetParam());
    if (!engine.available) GTEST_SKIP() << engine.skip_reason;
  }

  // km with the workers payload (THREADS ROUNDS EVERY) or another, the agent, and gdb in
  // non-stop mode connected to it, the main thread held at its first instruction.
  void Start(const std::vector<std::string>& args, const std::string& payload = "workers") {
    absl::StatusOr<Running> r = StartKmAndAgent(GetParam(), payload, args, /*agent_once=*/true);
    ASSERT_TRUE(r.ok()) << r.status();
    running_.emplace(*std::move(r));
    absl::StatusOr<InteractiveGdb> gdb = InteractiveGdb::Start(
        {"set non-stop on"}, absl::StrCat("target remote 127.0.0.1:", running_->port));
    ASSERT_TRUE(gdb.ok()) << gdb.status();
    gdb_.emplace(*std::move(gdb));
    ASSERT_TRUE(gdb_->WaitFor(R"(in _start \(\))")) << Describe();
  }

  // What gdb prints for an integer expression.
  long Print(const std::string& expr) {
    std::optional<std::vector<std::string>> m = gdb_->Run("print " + expr, R"(\$\d+ = (-?\d+)\n)");
    EXPECT_TRUE(m.has_value()) << expr << "\n" << Describe();
    return m ? std::stol((*m)[1]) : -1;
  }

  // gdb's thread number of the lead once it stopped at lead_mark.
  int WaitForLeadHit() {
    std::optional<std::vector<std::string>> hit = gdb_->WaitFor(kLeadHit);
    EXPECT_TRUE(hit.has_value()) << Describe();
    return hit ? std::stoi((*hit)[1]) : -1;
  }

  // progress[index] once that worker has started counting.
  long WaitForProgress(int index) {
    long value = 0;
    for (int i = 0; i < 500 && value == 0; ++i) {
      value = Print(absl::StrCat("progress[", index, "]"));
      if (value == 0) absl::SleepFor(absl::Milliseconds(20));
    }
    EXPECT_GT(value, 0) << "worker " << index << " never ran\n" << Describe();
    return value;
  }

  // gdb's number for the thread the payload named so.
  int ThreadNumber(const std::string& name) {
    const std::string list = InfoThreads();
    std::smatch m;
    const std::regex re(absl::StrCat(R"((\d+) +Thread [0-9.]+ ")", name, "\""));
    EXPECT_TRUE(std::regex_search(list, m, re)) << name << "\n" << list;
    return m.empty() ? -1 : std::stoi(m[1].str());
  }

  // Every thread gdb lists, and whether it runs.
  std::string InfoThreads() {
    EXPECT_TRUE(gdb_->Run("info threads", R"(  Id   Target Id)")) << Describe();
    // The list ends at the next prompt.
    std::optional<std::vector<std::string>> list = gdb_->WaitFor(R"(([\s\S]*?)\(gdb\) )");
    return list ? (*list)[1] : "";
  }

  // Closes gdb; km must then end by itself (exit status), its output in *km_out.
  int FinishKm(std::string* km_out, absl::Duration timeout = absl::Seconds(30)) {
    gdb_->Quit();
    const int status = running_->km.Wait(timeout);
    if (status < 0) running_->km.Kill();
    *km_out = running_->km.Out();
    return status;
  }

  // Deletes the breakpoints, tells the workers to quit, continues everything and expects a
  // normal exit whose output contains km_says.
  void EndNormally(absl::string_view km_says) {
    gdb_->Run("delete", R"(\(gdb\) )");
    gdb_->Run("set var quit = 1", R"(\(gdb\) )");
    gdb_->Send("continue -a");
    EXPECT_TRUE(gdb_->WaitFor(R"(exited normally)")) << Describe();
    std::string km_out;
    EXPECT_EQ(FinishKm(&km_out), 0) << Describe();
    EXPECT_THAT(km_out, HasSubstr(std::string(km_says)));
  }

  std::string Describe() {
    return absl::StrFormat("--- gdb ---\n%s\n--- km ---\n%s%s\n--- agent ---\n%s",
                           gdb_ ? gdb_->Output() : "", running_ ? running_->km.Out() : "",
                           running_ ? running_->km.Err() : "", running_ ? running_->agent.Err() : "");
  }

  std::optional<Running> running_;
  std::optional<InteractiveGdb> gdb_;
};

// A worker stops at a breakpoint; the others go on: their counters grow while gdb inspects it.
TEST_P(NonStopTest, OneThreadStopsOthersRun) {
  Start({"3", "0", "1000"});
  gdb_->Run("break lead_mark", "Breakpoint 1 at");
  gdb_->Send("continue -a &");
  const int lead = WaitForLeadHit();
  ASSERT_GT(lead, 0);
  // The stopped thread is inspectable while the rest run.
  gdb_->Run(absl::StrCat("thread ", lead), "Switching to thread");
  EXPECT_TRUE(gdb_->Run("backtrace", R"(#0  lead_mark \(round=0\) at .*workers.c)")) << Describe();
  const long lead_before = Print("progress[0]");
  const long worker_before = WaitForProgress(2);
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_GT(Print("progress[2]"), worker_before) << Describe();
  EXPECT_GT(Print("progress[1]"), 0) << Describe();
  EXPECT_EQ(Print("progress[0]"), lead_before) << "the stopped lead moved\n" << Describe();
  const std::string threads = InfoThreads();
  EXPECT_THAT(threads, ContainsRegex(absl::StrCat(lead, R"( +Thread [0-9.]+ "lead" +lead_mark)")))
      << threads;
  EXPECT_THAT(threads, ContainsRegex(R"(Thread [0-9.]+ "worker-1" +\(running\))")) << threads;

  gdb_->Run("set var quit = 1", R"(\(gdb\) )");
  gdb_->Send("continue -a");
  EXPECT_TRUE(gdb_->WaitFor(R"(\[Inferior 1 \(process \d+\) exited normally\])")) << Describe();
  std::string km_out;
  EXPECT_EQ(FinishKm(&km_out), 0) << Describe();
  EXPECT_THAT(km_out, HasSubstr(" ok\n"));
}

// An agent-style dprintf in non-stop mode: km prints each worker's checkpoints while every
// thread runs; nothing stops.
TEST_P(NonStopTest, ADprintfPrintsWhileEveryThreadRuns) {
  Start({"3", "1000", "100"});
  gdb_->Run("set dprintf-style agent", R"(\(gdb\) )");
  gdb_->Run(R"(dprintf checkpoint,"cp %d\n", index)", "Dprintf 1 at");
  gdb_->Send("continue -a");
  EXPECT_TRUE(gdb_->WaitFor(R"(\[Inferior 1 \(process \d+\) exited normally\])")) << Describe();
  std::string km_out;
  EXPECT_EQ(FinishKm(&km_out), 0) << Describe();
  std::map<std::string, int> lines;
  const std::regex line(R"(cp \d+\n)");
  for (std::sregex_iterator it(km_out.begin(), km_out.end(), line), end; it != end; ++it) {
    ++lines[it->str()];
  }
  EXPECT_EQ(lines, (std::map<std::string, int>{{"cp 1\n", 10}, {"cp 2\n", 10}})) << km_out;
  EXPECT_THAT(gdb_->Output(), Not(HasSubstr("hit Dprintf")));
}

TEST_P(NonStopTest, ContinueOneThreadContinueAllStepOneThread) {
  Start({"3", "0", "1000"});
  gdb_->Run("break lead_mark", "Breakpoint 1 at");
  gdb_->Send("continue -a &");
  const int lead = WaitForLeadHit();
  ASSERT_GT(lead, 0);
  // `continue` resumes the selected thread alone: the lead comes back 1000 rounds later.
  gdb_->Run(absl::StrCat("thread ", lead), "Switching to thread");
  gdb_->Send("continue &");
  std::optional<std::vector<std::string>> again = gdb_->WaitFor(kLeadHit);
  ASSERT_TRUE(again.has_value()) << Describe();
  EXPECT_EQ((*again)[2], "1000");
  // Step the lead, line by line, while the workers run.
  const long worker_before = WaitForProgress(1);
  EXPECT_TRUE(gdb_->Run("next", R"(lead \(arg=0x0\) at .*workers.c)")) << Describe();
  EXPECT_TRUE(gdb_->Run("next", R"((\d+)\t +progress\[0\]\+\+;)")) << Describe();
  EXPECT_TRUE(gdb_->Run("stepi", R"(\(gdb\) )")) << Describe();
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_GT(Print("progress[1]"), worker_before) << Describe();
  // `continue -a` resumes the lead too: it stops at its next lead_mark.
  gdb_->Send("continue -a &");
  again = gdb_->WaitFor(kLeadHit);
  ASSERT_TRUE(again.has_value()) << Describe();
  EXPECT_EQ((*again)[2], "2000");
  EndNormally(" ok\n");
}

// interrupt stops the selected thread alone; interrupt -a stops them all. Memory reads and
// thread lists work while every thread runs.
TEST_P(NonStopTest, InterruptOneAndAllReadWhileRunning) {
  Start({"3", "0", "1000"});
  gdb_->Send("continue -a &");
  const long worker = WaitForProgress(2);
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_GT(Print("progress[2]"), worker) << Describe();
  std::string threads = InfoThreads();
  for (const char* name : {"workers", "lead", "worker-1", "worker-2"}) {
    EXPECT_THAT(threads, ContainsRegex(absl::StrCat("Thread [0-9.]+ \"", name, R"(" +\(running\))")))
        << threads;
  }

  const int worker1 = ThreadNumber("worker-1");
  gdb_->Run(absl::StrCat("thread ", worker1), "Switching to thread");
  gdb_->Send("interrupt");
  EXPECT_TRUE(gdb_->WaitFor(absl::StrCat("Thread ", worker1, R"( "worker-1" stopped\.)"))) << Describe();
  threads = InfoThreads();
  EXPECT_THAT(threads, ContainsRegex(absl::StrCat(R"(\* )", worker1, R"( +Thread [0-9.]+ "worker-1" +(0x[0-9a-f]+ in )?worker \(arg=0x1\))")))
      << threads;
  EXPECT_THAT(threads, ContainsRegex(R"(Thread [0-9.]+ "worker-2" +\(running\))")) << threads;
  const long stopped_worker = Print("progress[1]");
  const long other_worker = Print("progress[2]");
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(Print("progress[1]"), stopped_worker) << Describe();
  EXPECT_GT(Print("progress[2]"), other_worker) << Describe();

  gdb_->Send("interrupt -a");
  for (const char* name : {"workers", "lead", "worker-2"}) {
    EXPECT_TRUE(gdb_->WaitFor(absl::StrCat(R"(Thread \d+ ")", name, R"(" stopped\.)"))) << name << Describe();
  }
  threads = InfoThreads();
  EXPECT_THAT(threads, Not(HasSubstr("(running)"))) << threads;
  const long total = Print("total");
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(Print("total"), total) << "something still runs\n" << Describe();

  gdb_->Run("set var quit = 1", R"(\(gdb\) )");
  gdb_->Send("continue -a");
  EXPECT_TRUE(gdb_->WaitFor(R"(exited normally)")) << Describe();
  std::string km_out;
  EXPECT_EQ(FinishKm(&km_out), 0) << Describe();
}

// Every worker reaches checkpoint() at its round 0 at about the same time: each stop is
// reported, none lost.
TEST_P(NonStopTest, SimultaneousBreakpointsAllReported) {
  Start({"5", "0", "1000000000"});
  gdb_->Run("break checkpoint", "Breakpoint 1 at");
  gdb_->Send("continue -a &");
  std::set<int> threads;
  for (int i = 0; i < 4; ++i) {
    std::optional<std::vector<std::string>> hit =
        gdb_->WaitFor(R"(Thread (\d+) "worker-\d" hit Breakpoint 1, checkpoint \(index=(\d)\))");
    ASSERT_TRUE(hit.has_value()) << i << "\n" << Describe();
    threads.insert(std::stoi((*hit)[1]));
  }
  EXPECT_EQ(threads.size(), 4u);
  const std::string list = InfoThreads();
  for (int t : threads) {
    EXPECT_THAT(list, ContainsRegex(absl::StrCat(t, R"( +Thread [0-9.]+ "worker-[0-9]" +checkpoint)")))
        << list;
  }
  EndNormally("checkpoints=4 expected=4 ok");
}

// The lead sits at a breakpoint while the workers finish their rounds and exit, and main
// ends the process without waiting for the lead.
TEST_P(NonStopTest, ThreadsAndProcessExitWhileOneIsStopped) {
  Start({"3", "20000", "1000"});
  gdb_->Run("break lead_mark", "Breakpoint 1 at");
  gdb_->Send("continue -a &");
  ASSERT_GT(WaitForLeadHit(), 0);
  EXPECT_TRUE(gdb_->WaitFor(R"(\[Inferior 1 \(process \d+\) exited normally\])")) << Describe();
  std::string km_out;
  EXPECT_EQ(FinishKm(&km_out), 0) << Describe();
  EXPECT_THAT(km_out, HasSubstr("workers=2 rounds=40000 checkpoints=40 expected=40 ok"));
}

// Detach with one thread at a breakpoint and another interrupted: both run again and the
// payload finishes (main joins every thread, the stopped ones included).
TEST_P(NonStopTest, DetachResumesEveryStoppedThread) {
  Start({"3", "0", "1000"});
  gdb_->Run("break lead_mark", "Breakpoint 1 at");
  gdb_->Send("continue -a &");
  ASSERT_GT(WaitForLeadHit(), 0);
  WaitForProgress(1);
  const int worker1 = ThreadNumber("worker-1");
  gdb_->Run(absl::StrCat("thread ", worker1), "Switching to thread");
  gdb_->Send("interrupt");
  EXPECT_TRUE(gdb_->WaitFor(absl::StrCat("Thread ", worker1, R"( "worker-1" stopped\.)"))) << Describe();
  gdb_->Run("set var quit = 1", R"(\(gdb\) )");
  EXPECT_TRUE(gdb_->Run("detach", R"(Detaching from program)")) << Describe();
  std::string km_out;
  EXPECT_EQ(FinishKm(&km_out), 0) << Describe();
  EXPECT_THAT(km_out, HasSubstr(" ok\n"));
}

// An execve in non-stop mode is followed as in all-stop: gdb is told of the new program, loads
// it, and `break main` stops in the new main.
TEST_P(NonStopTest, AnExecIsFollowedIntoTheNewProgram) {
  const std::string hello = km_test::Runfile("tests/payloads/bin/hello");
  Start({"--exec-only", hello}, "spawn");
  gdb_->Run("break main", "Breakpoint 1 at");
  gdb_->Send("continue");
  EXPECT_TRUE(gdb_->WaitFor(R"(Breakpoint 1, main \(argc=3, [^\n]*spawn\.c)")) << Describe();
  gdb_->Send("continue");
  EXPECT_TRUE(gdb_->WaitFor(absl::StrCat("is executing new program: ", hello))) << Describe();
  EXPECT_TRUE(gdb_->WaitFor(R"(Breakpoint 1, main \(argc=3, [^\n]*hello\.c)")) << Describe();
  EXPECT_EQ(Print("argc"), 3);
  gdb_->Send("continue");
  EXPECT_TRUE(gdb_->WaitFor(R"(\[Inferior 1 \(process \d+\) exited with code 011\])")) << Describe();
  std::string km_out;
  EXPECT_EQ(FinishKm(&km_out), 9) << Describe();
  EXPECT_THAT(km_out, HasSubstr("argv[2]=replaced\n"));
}

// Many threads hit one breakpoint over and over, each hit resumed by its breakpoint commands:
// gdb sees every hit exactly once (its printf per hit), and the program's result is right.
TEST_P(NonStopTest, StressManyThreadsRepeatedHits) {
  constexpr int kWorkers = 7, kRounds = 3000, kEvery = 100, kHitsEach = kRounds / kEvery;
  Start({std::to_string(kWorkers + 1), std::to_string(kRounds), std::to_string(kEvery)});
  gdb_->Run("break checkpoint", "Breakpoint 1 at");
  gdb_->Send("commands 1\nsilent\nprintf \"hit %d\\n\", index\ncontinue\nend");
  gdb_->Send("continue -a &");
  EXPECT_TRUE(gdb_->WaitFor(R"(\[Inferior 1 \(process \d+\) exited normally\])", absl::Seconds(120)))
      << Describe();
  const std::string out = gdb_->Output();
  std::map<int, int> hits;
  const std::regex hit(R"(hit (\d+)\n)");
  for (auto it = std::sregex_iterator(out.begin(), out.end(), hit); it != std::sregex_iterator(); ++it) {
    hits[std::stoi((*it)[1])]++;
  }
  for (int w = 1; w <= kWorkers; ++w) EXPECT_EQ(hits[w], kHitsEach) << "worker " << w;
  EXPECT_EQ(hits.size(), static_cast<size_t>(kWorkers));
  std::string km_out;
  EXPECT_EQ(FinishKm(&km_out), 0) << Describe();
  EXPECT_THAT(km_out, HasSubstr(absl::StrFormat("workers=%d rounds=%d checkpoints=%d expected=%d ok",
                                                kWorkers, kWorkers * kRounds, kWorkers * kHitsEach,
                                                kWorkers * kHitsEach)));
}

INSTANTIATE_TEST_SUITE_P(Engines, NonStopTest, ::testing::Values("kvm", "tcg"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace km_gdb_test
