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

TEST(FormatTest, AnExecStopNamesTheProgram) {
  v1::StopEvent stop;
  stop.set_tid(7);
  stop.mutable_reason()->set_kind(v1::STOP_KIND_EXEC);
  stop.mutable_reason()->set_exec_path("/bin/prog");
  stop.set_rip(0x401000);
  stop.set_rsp(0x7ff0);
  EXPECT_EQ(FormatStop(stop), "thread 7 stopped: exec /bin/prog at rip 0x401000 (rsp 0x7ff0)\n");
}

TEST(FormatTest, AForkNamesTheChild) {
  v1::Event ev;
  ev.mutable_forked()->set_tid(7);
  ev.mutable_forked()->set_child_pid(99);
  EXPECT_EQ(FormatEvent(ev), "thread 7 forked child process 99\n");
  ev.mutable_forked()->set_vfork(true);
  EXPECT_EQ(FormatEvent(ev), "thread 7 vforked child process 99\n");
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

TEST(TraceTest, BadArgumentsAreUsageErrorsBeforeAnyCall) {
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"trace"}, {"trace", "start"}, {"trace", "status", "1"},
        {"trace", "frame"}, {"trace", "frame", "1", "2"}}) {
    absl::Status s = RunAlone(bad);
    EXPECT_EQ(ExitCodeFor(s), kExitUsage) << bad.size();
    EXPECT_THAT(s.message(), HasSubstr("usage: trace status | trace frame N"));
  }
  absl::Status s = RunAlone({"trace", "frame", "-1"});
  EXPECT_EQ(ExitCodeFor(s), kExitUsage);
  EXPECT_THAT(s.message(), HasSubstr("frame number: '-1' is not a number"));
  EXPECT_THAT(Usage(), HasSubstr("trace status "));
  EXPECT_THAT(Usage(), HasSubstr("trace frame N "));
}

TEST(FormatTest, TraceStatusSaysWhyTheRunStopped) {
  v1::TraceStatus t;
  EXPECT_EQ(FormatTraceStatus(t), "trace: never run\n");
  t.set_ever_run(true);
  t.set_running(true);
  t.set_frames(2);
  t.set_frames_created(5);
  t.set_buffer_size(4096);
  t.set_buffer_free(1000);
  t.set_circular(true);
  v1::TracepointStatus* tp = t.add_tracepoints();
  tp->set_number(2);
  tp->set_address(0x401136);
  tp->set_hits(5);
  tp->set_bytes(3096);
  tp = t.add_tracepoints();
  tp->set_number(10);
  tp->set_address(0x40200a);
  v1::TraceVariableValue* v = t.add_variables();
  v->set_number(1);
  v->set_value(-3);
  EXPECT_EQ(FormatTraceStatus(t),
            "trace: running\n"
            "frames: 2 in the buffer, 5 created\n"
            "buffer: 3096 of 4096 bytes used, circular\n"
            "TRACEPOINT  ADDRESS   HITS  BYTES\n"
            "2           0x401136  5     3096\n"
            "10          0x40200a  0     0\n"
            "VARIABLE  VALUE\n"
            "1         -3\n");
  t.set_running(false);
  t.set_circular(false);
  t.clear_tracepoints();
  t.clear_variables();
  const std::vector<std::pair<v1::TraceStopReason, std::string>> reasons = {
      {v1::TRACE_STOP_REASON_REQUESTED, "trace: stopped by request\n"},
      {v1::TRACE_STOP_REASON_PASS_COUNT,
       "trace: stopped, tracepoint 2 reached its pass count\n"},
      {v1::TRACE_STOP_REASON_BUFFER_FULL, "trace: stopped, the buffer is full\n"},
      {v1::TRACE_STOP_REASON_DISCONNECTED, "trace: stopped, the session ended\n"},
      {v1::TRACE_STOP_REASON_ERROR,
       "trace: stopped by an error at tracepoint 2: tracepoint collection at 0x401144: agent "
       "expression divides by zero\n"}};
  t.set_stopping_tracepoint(2);
  t.set_error("tracepoint collection at 0x401144: agent expression divides by zero");
  for (const auto& [reason, first_line] : reasons) {
    t.set_stop_reason(reason);
    EXPECT_EQ(FormatTraceStatus(t), first_line +
                                        "frames: 2 in the buffer, 5 created\n"
                                        "buffer: 3096 of 4096 bytes used, not circular\n")
        << v1::TraceStopReason_Name(reason);
  }
}

TEST(FormatTest, TraceFrameShowsWhatWasCollected) {
  v1::TraceFrame f;
  f.set_found(true);
  f.set_number(3);
  f.set_tracepoint(2);
  f.set_tid(41);
  f.set_pc(0x401136);
  v1::MemoryBlock* m = f.add_memory();
  m->set_address(0x404010);
  m->set_data(std::string("\x01\0\0\0\x02\0\0\0", 8));
  v1::TraceVariableValue* v = f.add_variables();
  v->set_number(1);
  v->set_value(7);
  EXPECT_EQ(FormatTraceFrame(f),
            "frame 3: tracepoint 2, thread 41, pc 0x401136\n"
            "registers: not collected\n"
            "memory:\n"
            "0x0000000000404010  01 00 00 00 02 00 00 00                           |........|\n"
            "VARIABLE  VALUE\n"
            "1         7\n");
  f.mutable_registers()->set_rdi(3);
  f.mutable_registers()->set_rip(0x401136);
  f.clear_memory();
  f.clear_variables();
  const std::string text = FormatTraceFrame(f);
  EXPECT_THAT(text, testing::StartsWith("frame 3: tracepoint 2, thread 41, pc 0x401136\n"
                                        "registers:\n"
                                        "rax       0x0000000000000000  0\n"));
  EXPECT_THAT(text, HasSubstr("\nrdi       0x0000000000000003  3\n"));
  EXPECT_THAT(text, HasSubstr("\nrip       0x0000000000401136  4198710\n"));
  EXPECT_THAT(text, testing::EndsWith("orig_rax  0x0000000000000000  0\n"));
  EXPECT_EQ(text.substr(text.find("rax")), *FormatRegisters(f.registers(), {}))
      << "the same layout as regs";
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
