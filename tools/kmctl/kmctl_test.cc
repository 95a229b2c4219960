// Drives the built kmctl binary against a real km, on every engine this machine has.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "proto/km_debug.grpc.pb.h"
#include "proto/km_debug.pb.h"
#include "tests/engines.h"
#include "tools/kmctl/elf_symbols.h"
#include "tools/testing/held_payload.h"

namespace {

namespace v1 = ::km::debug::v1;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Parses kmctl's --json output back, as a script would.
template <typename M>
M FromJson(const std::string& json) {
  M message;
  auto s = google::protobuf::util::JsonStringToMessage(json, &message);
  EXPECT_TRUE(s.ok()) << s.ToString() << " in: " << json;
  return message;
}

class KmctlTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    km_test::EngineInfo engine = km_test::FindEngine(GetParam());
    if (!engine.available) GTEST_SKIP() << engine.skip_reason;
    syms_ = km_test::TargetSymbols();
    ASSERT_TRUE(syms_.count("main"));
    tmp_ = getenv("TEST_TMPDIR");
    StartKm("km_hooks/bin/target", {});
  }

  // Replaces the held target with another payload, held the same way.
  void StartKm(const std::string& payload, const std::vector<std::string>& args) {
    km_.reset();
    auto km = km_test::HeldPayload::Start(GetParam(), payload, args);
    ASSERT_TRUE(km.ok()) << km.status();
    km_ = *std::move(km);
    socket_ = km_->socket();
    payload_ = km_->payload();
    km_pid_ = km_->pid();
  }

  // km's exit status, waiting at most 20 s.
  int WaitKm() { return km_->Wait(absl::Seconds(20)); }

  km_test::RunResult Kmctl(std::vector<std::string> args) {
    args.insert(args.begin(), {km_test::Runfile("tools/kmctl/kmctl"), "--debug-socket", socket_});
    absl::StatusOr<km_test::RunResult> r = km_test::Run(args);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : km_test::RunResult{};
  }

  // `kmctl [FLAGS] --elf PAYLOAD session` with script as its stdin. A line "sleep" in the script
  // pauses the input for half a second, as a person typing would.
  km_test::RunResult Session(const std::string& script, const std::string& flags = "") {
    std::string feed;
    for (absl::string_view line : absl::StrSplit(script, '\n', absl::SkipEmpty())) {
      feed += line == "sleep" ? "sleep 0.5; "
                              : absl::StrFormat("printf '%%s\\n' '%s'; ", std::string(line));
    }
    const std::string cmd =
        absl::StrFormat("(%s) | exec '%s' --debug-socket '%s' --elf '%s' %s session", feed,
                        km_test::Runfile("tools/kmctl/kmctl"), socket_, payload_, flags);
    absl::StatusOr<km_test::RunResult> r = km_test::Run({"/bin/sh", "-c", cmd});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : km_test::RunResult{};
  }

  std::map<std::string, uint64_t> syms_;
  std::string socket_, tmp_, payload_;
  std::unique_ptr<km_test::HeldPayload> km_;
  pid_t km_pid_ = -1;
};

TEST_P(KmctlTest, StatusShowsTheTargetForPeopleAndScripts) {
  km_test::RunResult text = Kmctl({"status"});
  ASSERT_EQ(text.status, 0) << km_test::Describe(text);
  EXPECT_TRUE(absl::StrContains(text.out, "engine     " + GetParam())) << text.out;
  EXPECT_TRUE(absl::StrContains(text.out, absl::StrFormat("pid        %d", km_pid_))) << text.out;
  km_test::RunResult json = Kmctl({"--json", "status"});
  ASSERT_EQ(json.status, 0) << km_test::Describe(json);
  auto target = FromJson<v1::Target>(json.out);
  EXPECT_EQ(target.pid(), km_pid_);
  EXPECT_EQ(target.engine().name(), GetParam());
  EXPECT_EQ(target.threads_size(), 1);
}

TEST_P(KmctlTest, ThreadsListsTheHeldMainThread) {
  km_test::RunResult text = Kmctl({"threads"});
  ASSERT_EQ(text.status, 0) << km_test::Describe(text);
  std::vector<std::string> lines = absl::StrSplit(text.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << text.out;
  EXPECT_TRUE(absl::StartsWith(lines[0], "TID")) << text.out;
  EXPECT_TRUE(absl::StrContains(lines[1], "stopped  interrupted")) << text.out;
  auto threads = FromJson<v1::ListThreadsResponse>(Kmctl({"threads", "--json"}).out);
  ASSERT_EQ(threads.threads_size(), 1);
  EXPECT_EQ(threads.threads(0).tid(), km_pid_);
  EXPECT_EQ(threads.threads(0).state(), v1::THREAD_STATE_STOPPED);
}

TEST_P(KmctlTest, RegsShowsTheStoppedThreadAtTheEntry) {
  auto target = FromJson<v1::Target>(Kmctl({"--json", "status"}).out);
  const std::string tid = std::to_string(km_pid_);
  km_test::RunResult text = Kmctl({"regs", tid, "rip"});
  ASSERT_EQ(text.status, 0) << km_test::Describe(text);
  EXPECT_EQ(text.out, absl::StrFormat("rip  0x%016x  %d\n", target.entry(), target.entry()));
  km_test::RunResult all = Kmctl({"--json", "regs", tid});
  ASSERT_EQ(all.status, 0) << km_test::Describe(all);
  auto regs = FromJson<v1::Registers>(all.out);
  EXPECT_EQ(regs.rip(), target.entry());
  EXPECT_NE(regs.rsp(), 0u);
  auto picked = FromJson<v1::Registers>(Kmctl({"--json", "regs", tid, "rip", "cs"}).out);
  EXPECT_EQ(picked.rip(), target.entry());
  EXPECT_EQ(picked.rax(), 0u);
  EXPECT_EQ(Kmctl({"regs", tid, "xyz"}).status, 2);
}

TEST_P(KmctlTest, MapsListsTheRegions) {
  km_test::RunResult text = Kmctl({"maps"});
  ASSERT_EQ(text.status, 0) << km_test::Describe(text);
  EXPECT_TRUE(absl::StrContains(text.out, "r-x   text")) << text.out;
  EXPECT_TRUE(absl::StrContains(text.out, "stack  [stack]")) << text.out;
  auto maps = FromJson<v1::Target>(Kmctl({"--json", "maps"}).out);
  bool text_found = false;
  for (const auto& r : maps.regions()) text_found |= r.kind() == v1::REGION_KIND_TEXT && r.exec();
  EXPECT_TRUE(text_found);
}

TEST_P(KmctlTest, MemReadDumpsHexWritesRawAndTakesSymbols) {
  auto target = FromJson<v1::Target>(Kmctl({"--json", "status"}).out);
  const std::string entry = absl::StrFormat("0x%x", target.entry());
  // musl's _start begins with `xor %rbp,%rbp` (48 31 ed).
  km_test::RunResult text = Kmctl({"mem", "read", entry, "3"});
  ASSERT_EQ(text.status, 0) << km_test::Describe(text);
  EXPECT_TRUE(absl::StartsWith(text.out, absl::StrFormat("0x%016x  48 31 ed ", target.entry())))
      << text.out;
  auto json = FromJson<v1::ReadMemoryResponse>(Kmctl({"--json", "mem", "read", entry, "3"}).out);
  EXPECT_EQ(json.data(), std::string("\x48\x31\xed", 3));
  const std::string raw = tmp_ + "/raw.bin";
  km_test::RunResult out = Kmctl({"--elf", payload_, "mem", "read", "main", "16", "--out", raw});
  ASSERT_EQ(out.status, 0) << km_test::Describe(out);
  const std::string bytes = ReadFile(raw);
  ASSERT_EQ(bytes.size(), 16u);
  EXPECT_EQ(bytes[0], '\x55') << "main should start with push %rbp at -O0";
}

TEST_P(KmctlTest, LsListsTheServiceMethods) {
  km_test::RunResult text = Kmctl({"ls"});
  ASSERT_EQ(text.status, 0) << km_test::Describe(text);
  EXPECT_TRUE(absl::StartsWith(text.out, "km.debug.v1.Debug\n")) << text.out;
  EXPECT_TRUE(absl::StrContains(text.out, "Events(EventsRequest) returns (stream Event)"));
  EXPECT_TRUE(absl::StrContains(text.out, "SetRecording(SetRecordingRequest) returns (RecordingStatus)"));
  EXPECT_TRUE(
      absl::StrContains(text.out, "WriteCore(WriteCoreRequest) returns (WriteCoreResponse)"));
  EXPECT_TRUE(absl::StrContains(text.out,
                                "PassSignals(PassSignalsRequest) returns (PassSignalsResponse)"));
  EXPECT_TRUE(absl::StrContains(
      text.out, "FindTraceFrame(FindTraceFrameRequest) returns (TraceFrame)"));
  auto service = FromJson<google::protobuf::ServiceDescriptorProto>(Kmctl({"ls", "--json"}).out);
  EXPECT_EQ(service.name(), "Debug");
  EXPECT_EQ(service.method_size(), 23);
}

TEST_P(KmctlTest, SessionBreaksAtMainThenDetachesAndThePayloadFinishes) {
  const std::string tid = std::to_string(km_pid_);
  km_test::RunResult r = Session(
      "# stop at main, look, let go\n"
      "break main\n"
      "resume\n"
      "wait --json\n"
      "regs " + tid + " rip\n"
      "detach\n");
  ASSERT_EQ(r.status, 0) << km_test::Describe(r);
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 5u) << r.out;
  EXPECT_EQ(lines[0], absl::StrFormat("inserted breakpoint at 0x%x", syms_["main"]));
  EXPECT_EQ(lines[1], "resumed every stopped thread");
  auto event = FromJson<v1::Event>(lines[2]);
  ASSERT_TRUE(event.has_stop()) << lines[2];
  EXPECT_EQ(event.stop().reason().kind(), v1::STOP_KIND_BREAKPOINT);
  EXPECT_EQ(event.stop().rip(), syms_["main"]);
  EXPECT_EQ(event.stop().tid(), km_pid_);
  EXPECT_EQ(lines[3], absl::StrFormat("rip  0x%016x  %d", syms_["main"], syms_["main"]));
  EXPECT_EQ(lines[4], "detached");
  EXPECT_EQ(WaitKm(), 7);
  EXPECT_EQ(km_->Out(), "done 3 42\n");
}

// A core of the stopped payload, without gdb: gdb then debugs it offline, and the breakpoint
// km had planted at main is not in it.
TEST_P(KmctlTest, CoreWritesTheStoppedPayloadForGdbToOpen) {
  const std::string core = tmp_ + "/kmctl.core";
  // Outside a session: refused, saying why.
  km_test::RunResult r = Kmctl({"core", core});
  EXPECT_EQ(r.status, 2) << km_test::Describe(r);
  EXPECT_TRUE(absl::StrContains(r.err, "needs a debug session")) << r.err;
  // A relative path (km's working directory is not the script's) ends the session, which lets
  // the payload go on.
  r = Session("break main\nresume\nwait\ncore " + core + "\ncore relative.core\n");
  EXPECT_EQ(r.status, 4) << km_test::Describe(r);
  EXPECT_TRUE(absl::StrContains(r.out, "core of 1 threads written to " + core + " (")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.err, "'relative.core' must be absolute")) << r.err;
  EXPECT_EQ(WaitKm(), 7);
  auto gdb = [&](const std::vector<std::string>& commands) {
    std::vector<std::string> argv = {"/usr/bin/gdb", "-batch", "-nx", payload_};
    for (const std::string& c : commands) argv.insert(argv.end(), {"-ex", c});
    absl::StatusOr<km_test::RunResult> run = km_test::Run(argv, {.env = {"LANG=C"}});
    EXPECT_TRUE(run.ok()) << run.status();
    return run.ok() ? run->out : "";
  };
  const std::string out = gdb({"core-file " + core, "p/x $rip", "x/4xb main"});
  EXPECT_TRUE(absl::StrContains(out, absl::StrFormat("$1 = 0x%x\n", syms_["main"]))) << out;
  const std::string code = gdb({"x/4xb main"});
  ASSERT_TRUE(absl::StrContains(code, "<main>:")) << code;
  EXPECT_TRUE(absl::StrContains(out, code)) << "main's bytes in the core: " << out
                                            << "\nin the executable: " << code;

}

TEST_P(KmctlTest, SessionWaitPrintsStopsForPeople) {
  km_test::RunResult r = Session("step " + std::to_string(km_pid_) + "\nwait\nresume\nwait\n");
  ASSERT_EQ(r.status, 0) << km_test::Describe(r);
  EXPECT_TRUE(absl::StrContains(r.out, absl::StrFormat("thread %d stopped: step at rip", km_pid_)))
      << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "process exited with 7")) << r.out;
  EXPECT_EQ(WaitKm(), 7);
}

// The target payload's own_pid() calls getpid (39) once, from the main thread.
TEST_P(KmctlTest, SessionCatchesASyscallAtEntryAndReturn) {
  km_test::RunResult r = Session(
      "catch-syscalls 39\nresume\nwait\nresume\nwait\ncatch-syscalls off\nresume\nwait\n");
  ASSERT_EQ(r.status, 0) << km_test::Describe(r);
  EXPECT_TRUE(absl::StrContains(r.out, "catching syscalls 39\n")) << r.out;
  const size_t entry =
      r.out.find(absl::StrFormat("thread %d stopped: syscall_entry 39 at rip", km_pid_));
  const size_t ret = r.out.find(absl::StrFormat("thread %d stopped: syscall_return 39 at rip", km_pid_));
  EXPECT_NE(entry, std::string::npos) << r.out;
  EXPECT_NE(ret, std::string::npos) << r.out;
  EXPECT_LT(entry, ret) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "catching no syscall\n")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "process exited with 7")) << r.out;
  EXPECT_EQ(WaitKm(), 7);
}

// Conditions and dprintfs are compiled by kmctl and evaluated by km at each hit: touch(42) never
// stops under a condition asking for 41, worker(0) stops under one asking for 0 with counter
// still 0, and own_pid's dprintf prints on km's standard output while its thread runs on.
TEST_P(KmctlTest, ConditionsAndDprintfsAreDecidedByKmAtTheHit) {
  km_test::RunResult r = Session(
      "break touch if $rdi == 41\n"
      "dprintf own_pid \"own_pid:  counter=%ld at %#lx\\n\", *(long *)counter, $pc\n"
      "break worker if $rdi == 0 && *(long *)counter == 0\n"
      "resume\nwait\nresume\nwait\n");
  ASSERT_EQ(r.status, 0) << km_test::Describe(r);
  EXPECT_TRUE(absl::StrContains(
      r.out, absl::StrFormat("inserted breakpoint at 0x%x if $rdi == 41\n", syms_["touch"])))
      << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, absl::StrFormat("inserted dprintf at 0x%x\n", syms_["own_pid"])))
      << r.out;
  const std::string worker_stop = absl::StrFormat("stopped: breakpoint at rip 0x%x", syms_["worker"]);
  EXPECT_TRUE(absl::StrContains(r.out, worker_stop)) << r.out;
  EXPECT_FALSE(absl::StrContains(r.out, absl::StrFormat("rip 0x%x", syms_["touch"]))) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "process exited with 7")) << r.out;
  EXPECT_EQ(WaitKm(), 7);
  // The format's two spaces are kept; counter is 3 once the worker is done.
  EXPECT_EQ(km_->Out(), absl::StrFormat("own_pid:  counter=3 at %#x\ndone 3 42\n", syms_["own_pid"]));
}

// spawn forks a child first, which runs without the debugger: `wait` names it as it is made, then
// stops at the SIGCHLD of its end (a debugger sees every signal). After the detach spawn runs
// its other children and execs hello, which runs to its end.
TEST_P(KmctlTest, WaitNamesAForkedChild) {
  if (GetParam() == "kvm") GTEST_SKIP() << "kvm: skipped: the kvm engine cannot fork yet";
  const std::string hello = km_test::Runfile("tests/payloads/bin/hello");
  StartKm("tests/payloads/bin/spawn", {hello});
  km_test::RunResult r = Session("resume\nwait\ndetach\n");
  ASSERT_EQ(r.status, 0) << km_test::Describe(r);
  const size_t forked = r.out.find(absl::StrFormat("thread %d forked child process ", km_pid_));
  const size_t sigchld = r.out.find(absl::StrFormat("thread %d stopped: signal 17 ", km_pid_));
  EXPECT_NE(forked, std::string::npos) << r.out;
  EXPECT_NE(sigchld, std::string::npos) << r.out;
  EXPECT_LT(forked, sigchld) << r.out;
  EXPECT_EQ(WaitKm(), 9);
  EXPECT_TRUE(absl::StrContains(km_->Out(), "argv[2]=replaced\n")) << km_->Out();
}

// A condition kmctl cannot compile is a usage error naming the problem; nothing is inserted.
TEST_P(KmctlTest, AConditionWithAMistakeIsRefusedBeforeKmSeesIt) {
  km_test::RunResult r =
      Session("break touch if $rdi ==\ndprintf touch $rdi\nresume\nwait\n", "--keep-going");
  EXPECT_EQ(r.status, 2) << km_test::Describe(r);
  EXPECT_TRUE(absl::StrContains(
      r.err, "line 1: expression '$rdi ==': the expression ends too soon at column 8"))
      << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "line 2: expression '$rdi': a dprintf starts with its"))
      << r.err;
  // Neither was inserted: the payload ran to its end without a stop.
  EXPECT_FALSE(absl::StrContains(r.out, "stopped:")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "process exited with 7")) << r.out;
  EXPECT_EQ(WaitKm(), 7);
}

TEST_P(KmctlTest, ErrorsExitWithTheirClassAndNameTheCause) {
  std::vector<std::string> missing = {km_test::Runfile("tools/kmctl/kmctl"), "--debug-socket",
                                      socket_ + ".missing", "status"};
  absl::StatusOr<km_test::RunResult> gone = km_test::Run(missing);
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->status, 3) << km_test::Describe(*gone);
  EXPECT_TRUE(absl::StrContains(gone->err, socket_ + ".missing")) << gone->err;

  km_test::RunResult bad_addr = Kmctl({"mem", "read", "0x1000", "16"});
  EXPECT_EQ(bad_addr.status, 4) << km_test::Describe(bad_addr);
  EXPECT_TRUE(absl::StrContains(bad_addr.err, "0x1000")) << bad_addr.err;

  km_test::RunResult bad_thread = Kmctl({"regs", "999999"});
  EXPECT_EQ(bad_thread.status, 4) << km_test::Describe(bad_thread);
  EXPECT_TRUE(absl::StrContains(bad_thread.err, "999999")) << bad_thread.err;

  km_test::RunResult unknown = Kmctl({"frobnicate"});
  EXPECT_EQ(unknown.status, 2) << km_test::Describe(unknown);
  EXPECT_TRUE(absl::StrContains(unknown.err, "frobnicate")) << unknown.err;

  km_test::RunResult control = Kmctl({"resume"});
  EXPECT_EQ(control.status, 2) << km_test::Describe(control);
  EXPECT_TRUE(absl::StrContains(control.err, "session")) << control.err;

  km_test::RunResult no_elf = Kmctl({"mem", "read", "main", "4"});
  EXPECT_EQ(no_elf.status, 2) << km_test::Describe(no_elf);
  EXPECT_TRUE(absl::StrContains(no_elf.err, "--elf")) << no_elf.err;

  for (const auto* r : {&gone.value(), &bad_addr, &bad_thread, &unknown, &control, &no_elf}) {
    EXPECT_EQ(std::count(r->err.begin(), r->err.end(), '\n'), 1) << r->err;
  }
}

// Each line of `kmctl --json session` output as the message it should parse back into.
std::vector<std::string> Lines(const std::string& out) {
  return absl::StrSplit(out, '\n', absl::SkipEmpty());
}

// The events `wait --json` printed from lines[*i] on, up to and including the stop or exit.
std::vector<v1::Event> WaitedEvents(const std::vector<std::string>& lines, size_t* i) {
  std::vector<v1::Event> events;
  while (*i < lines.size()) {
    events.push_back(FromJson<v1::Event>(lines[(*i)++]));
    if (events.back().has_stop() || events.back().has_process_exited()) break;
  }
  return events;
}

TEST_P(KmctlTest, SessionSetRegAndMemWriteChangeThePayloadAndEachJsonAnswerParsesBack) {
  const std::string tid = std::to_string(km_pid_);
  km_test::RunResult r = Session(
      "break touch\n"
      "resume\n"
      "wait\n"
      "set-reg " + tid + " rdi 43\n"
      "regs " + tid + " rdi rip\n"
      "mem write watched 0700000000000000\n"
      "mem read watched 8\n"
      "delete break touch\n"
      "detach\n",
      "--json");
  ASSERT_EQ(r.status, 0) << km_test::Describe(r);
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_GE(lines.size(), 9u) << r.out;
  auto inserted = FromJson<v1::BreakpointRequest>(lines[0]);
  EXPECT_EQ(inserted.kind(), v1::BREAKPOINT_KIND_SOFTWARE);
  EXPECT_EQ(inserted.addr(), syms_["touch"]);
  EXPECT_FALSE(FromJson<v1::ResumeResponse>(lines[1]).has_stop())
      << "Resume without a wait answers no stop: " << lines[1];
  size_t i = 2;
  std::vector<v1::Event> events = WaitedEvents(lines, &i);
  ASSERT_FALSE(events.empty());
  const v1::StopEvent& hit = events.back().stop();
  EXPECT_EQ(hit.reason().kind(), v1::STOP_KIND_BREAKPOINT);
  EXPECT_EQ(hit.rip(), syms_["touch"]);
  EXPECT_EQ(hit.registers().rdi(), 42u);
  ASSERT_EQ(lines.size(), i + 6) << r.out;
  auto set = FromJson<v1::Registers>(lines[i]);
  EXPECT_EQ(set.rdi(), 43u);
  auto read = FromJson<v1::Registers>(lines[i + 1]);
  EXPECT_EQ(read.rdi(), 43u) << "the write reached the thread";
  EXPECT_EQ(read.rip(), syms_["touch"]);
  EXPECT_EQ(FromJson<v1::WriteMemoryResponse>(lines[i + 2]).written(), 8u);
  EXPECT_EQ(FromJson<v1::ReadMemoryResponse>(lines[i + 3]).data(),
            std::string("\x07\0\0\0\0\0\0\0", 8));
  auto removed = FromJson<v1::BreakpointRequest>(lines[i + 4]);
  EXPECT_EQ(removed.addr(), syms_["touch"]);
  EXPECT_EQ(lines[i + 5], "{}");
  // touch(43) stores over the 7 and returns what it stored.
  EXPECT_EQ(WaitKm(), 7);
  EXPECT_EQ(km_->Out(), "done 3 43\n");
}

TEST_P(KmctlTest, HardwareBreakpointAndWatchpointStopWhereTheySay) {
  auto target = FromJson<v1::Target>(Kmctl({"--json", "status"}).out);
  if (!target.engine().data_watchpoints()) {
    km_test::RunResult r = Session("watch watched 8 write\n");
    EXPECT_EQ(r.status, 4) << km_test::Describe(r);
    EXPECT_TRUE(absl::StrContains(r.err, "UNIMPLEMENTED")) << r.err;
    return;
  }
  km_test::RunResult r = Session(
      "hbreak touch\n"
      "watch watched 8 write\n"
      "resume\n"
      "wait\n"
      "resume\n"
      "wait\n"
      "delete write watched 8\n"
      "delete hbreak touch\n"
      "mem read watched 8\n"
      "detach\n",
      "--json");
  ASSERT_EQ(r.status, 0) << km_test::Describe(r);
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_GE(lines.size(), 3u) << r.out;
  EXPECT_EQ(FromJson<v1::BreakpointRequest>(lines[0]).kind(), v1::BREAKPOINT_KIND_HARDWARE);
  auto watch = FromJson<v1::BreakpointRequest>(lines[1]);
  EXPECT_EQ(watch.kind(), v1::BREAKPOINT_KIND_WATCH_WRITE);
  EXPECT_EQ(watch.addr(), syms_["watched"]);
  EXPECT_EQ(watch.len(), 8u);
  size_t i = 3;
  std::vector<v1::Event> first = WaitedEvents(lines, &i);
  ASSERT_FALSE(first.empty()) << r.out;
  EXPECT_EQ(first.back().stop().reason().kind(), v1::STOP_KIND_HW_BREAKPOINT);
  EXPECT_EQ(first.back().stop().rip(), syms_["touch"]);
  ASSERT_LT(i, lines.size()) << r.out;
  EXPECT_FALSE(FromJson<v1::ResumeResponse>(lines[i++]).has_stop()) << lines[i - 1];
  std::vector<v1::Event> second = WaitedEvents(lines, &i);
  ASSERT_EQ(second.size(), 1u) << r.out;
  const v1::StopEvent& stored = second[0].stop();
  EXPECT_EQ(stored.reason().kind(), v1::STOP_KIND_WATCHPOINT);
  EXPECT_EQ(stored.reason().watch_addr(), syms_["watched"]);
  EXPECT_EQ(stored.reason().watch_kind(), v1::WATCH_KIND_WRITE);
  EXPECT_GT(stored.rip(), syms_["touch"]) << "past the store, inside touch";
  EXPECT_LT(stored.rip(), syms_["main"]);
  ASSERT_EQ(lines.size(), i + 4) << r.out;
  EXPECT_EQ(FromJson<v1::BreakpointRequest>(lines[i]).kind(), v1::BREAKPOINT_KIND_WATCH_WRITE);
  EXPECT_EQ(FromJson<v1::BreakpointRequest>(lines[i + 1]).kind(), v1::BREAKPOINT_KIND_HARDWARE);
  EXPECT_EQ(FromJson<v1::ReadMemoryResponse>(lines[i + 2]).data(),
            std::string("\x2a\0\0\0\0\0\0\0", 8));
  EXPECT_EQ(WaitKm(), 7);
  EXPECT_EQ(km_->Out(), "done 3 42\n");
}

TEST_P(KmctlTest, StopInterruptsARunningPayloadAndMemWriteLetsItFinish) {
  // gdb_demo spins until its global keep_going is cleared.
  StartKm("tests/payloads/bin/gdb_demo", {"spin"});
  const std::string tid = std::to_string(km_pid_);
  km_test::RunResult r = Session(
      "resume\n"
      "sleep\n"
      "threads\n"
      "stop\n"
      "mem write keep_going 00000000\n"
      "resume\n"
      "wait\n",
      "--json");
  ASSERT_EQ(r.status, 0) << km_test::Describe(r);
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 6u) << r.out;
  auto running = FromJson<v1::ListThreadsResponse>(lines[1]);
  ASSERT_EQ(running.threads_size(), 1) << lines[1];
  EXPECT_EQ(running.threads(0).state(), v1::THREAD_STATE_RUNNING) << "still spinning";
  auto stopped = FromJson<v1::StopResponse>(lines[2]);
  ASSERT_EQ(stopped.stopped_size(), 1) << lines[2];
  EXPECT_EQ(stopped.stopped(0).tid(), km_pid_);
  EXPECT_EQ(stopped.stopped(0).reason().kind(), v1::STOP_KIND_INTERRUPTED);
  EXPECT_EQ(FromJson<v1::WriteMemoryResponse>(lines[3]).written(), 4u);
  auto exited = FromJson<v1::Event>(lines[5]);
  ASSERT_TRUE(exited.has_process_exited()) << lines[5];
  EXPECT_EQ(exited.process_exited().status(), 3);
  EXPECT_EQ(WaitKm(), 3);
  EXPECT_TRUE(absl::StrContains(km_->Out(), "label=origin")) << km_->Out();

  // The same command for people: where the thread stopped.
  StartKm("tests/payloads/bin/gdb_demo", {"spin"});
  r = Session("resume\nsleep\nstop " + std::to_string(km_pid_) + "\n");
  ASSERT_EQ(r.status, 0) << km_test::Describe(r);
  EXPECT_TRUE(absl::StrContains(
      r.out, absl::StrFormat("thread %d stopped: interrupted at rip 0x", km_pid_)))
      << r.out;
}

TEST_P(KmctlTest, SessionErrorsNameTheLineAndNothingIsLost) {
  km_test::RunResult r = Session(
      "stop 999999\n"
      "break 0x1000\n"
      "mem write 0x1000 00\n"
      "set-reg 999999 rax 1\n"
      "watch watched 3 write\n"
      "delete break main\n"
      "mem write watched zz\n"
      "break no_such_symbol\n"
      "detach\n",
      "--keep-going");
  EXPECT_EQ(r.status, 2) << "the last failure was a usage error: " << km_test::Describe(r);
  EXPECT_EQ(r.out, "detached\n");
  std::vector<std::string> err = Lines(r.err);
  ASSERT_EQ(err.size(), 8u) << r.err;
  const std::vector<std::string> expected = {
      "kmctl: line 1: Stop: NOT_FOUND: no thread 999999",
      "kmctl: line 2: InsertBreakpoint: INVALID_ARGUMENT:",
      "kmctl: line 3: WriteMemory: INVALID_ARGUMENT:",
      "kmctl: line 4: ReadRegisters: NOT_FOUND: no thread 999999",
      "kmctl: line 5: InsertBreakpoint: ",  // kvm has no watchpoints; tcg wants 1, 2, 4 or 8
      "kmctl: line 6: RemoveBreakpoint: NOT_FOUND:",
      "kmctl: line 7: bytes 'zz'",
      "kmctl: line 8: address 'no_such_symbol': no symbol"};
  for (size_t i = 0; i < expected.size(); i++) {
    EXPECT_TRUE(absl::StartsWith(err[i], expected[i])) << err[i];
  }
  EXPECT_TRUE(absl::StrContains(err[1], "0x1000")) << err[1];
  EXPECT_TRUE(absl::StrContains(err[2], "0x1000")) << err[2];
  // None of it touched the payload.
  EXPECT_EQ(WaitKm(), 7);
  EXPECT_EQ(km_->Out(), "done 3 42\n");
}

TEST_P(KmctlTest, TheFirstFailingLineEndsTheSessionWithItsStatus) {
  km_test::RunResult r = Session("stop 999999\nbreak touch\n");
  EXPECT_EQ(r.status, 4) << km_test::Describe(r);
  EXPECT_EQ(r.out, "") << "line 2 never ran";
  EXPECT_EQ(r.err, "kmctl: line 1: Stop: NOT_FOUND: no thread 999999\n");
  EXPECT_EQ(WaitKm(), 7) << "the session let the payload go";
}

TEST_P(KmctlTest, ConnectionErrorsExit3AndSayWhy) {
  for (const std::string& not_socket : {payload_, std::string(tmp_)}) {
    std::vector<std::string> argv = {km_test::Runfile("tools/kmctl/kmctl"), "--debug-socket",
                                     not_socket, "status"};
    absl::StatusOr<km_test::RunResult> r = km_test::Run(argv);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 3) << km_test::Describe(*r);
    EXPECT_EQ(r->err, "kmctl: " + not_socket + ": not a socket\n");
  }
  // A socket file nobody listens on, as a killed km leaves behind.
  const std::string dead = socket_ + ".dead";
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", dead.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << strerror(errno);
  close(fd);
  absl::StatusOr<km_test::RunResult> r =
      km_test::Run({km_test::Runfile("tools/kmctl/kmctl"), "--debug-socket", dead, "threads"});
  unlink(dead.c_str());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 3) << km_test::Describe(*r);
  EXPECT_TRUE(absl::StrContains(r->err, "Connection refused")) << r->err;
  EXPECT_TRUE(absl::StrContains(r->err, dead)) << r->err;
}

std::unique_ptr<grpc::ClientContext> CallContext() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  return ctx;
}

// kmctl starts no trace run, so the test starts one as gdb's agent would: a tracepoint at
// gdb_demo's add(3, 4) collecting the registers and the global `origin`, ending the run at its
// first hit. gdb_demo then spins, so km outlives the session that traced, and the frame stays
// in km for kmctl to read, one-shot and inside a session of its own.
TEST_P(KmctlTest, TraceStatusAndFrameReadWhatATraceRunLeft) {
  StartKm("tests/payloads/bin/gdb_demo", {"spin"});
  absl::StatusOr<kmctl::ElfSymbols> syms = kmctl::ReadElfSymbols(payload_);
  ASSERT_TRUE(syms.ok()) << syms.status();
  ASSERT_FALSE(syms->pie);
  const uint64_t add = syms->addrs.at("add"), origin = syms->addrs.at("origin");
  km_test::RunResult r = Kmctl({"trace", "status"});
  ASSERT_EQ(r.status, 0) << km_test::Describe(r);
  EXPECT_EQ(r.out, "trace: never run\n");

  std::unique_ptr<v1::Debug::Stub> stub = v1::Debug::NewStub(
      grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials()));
  v1::AttachRequest attach;
  attach.set_client_name("kmctl_test");
  v1::AttachResponse attached;
  grpc::Status s = stub->Attach(CallContext().get(), attach, &attached);
  ASSERT_TRUE(s.ok()) << s.error_message();
  std::unique_ptr<grpc::ClientContext> events_ctx = CallContext();
  v1::EventsRequest events_req;
  events_req.set_session(attached.session());
  std::unique_ptr<grpc::ClientReader<v1::Event>> events =
      stub->Events(events_ctx.get(), events_req);
  events->WaitForInitialMetadata();
  v1::StartTraceRequest start;
  start.set_session(attached.session());
  v1::Tracepoint* tp = start.add_tracepoints();
  tp->set_number(2);
  tp->set_address(add);
  tp->set_enabled(true);
  tp->set_pass_count(1);
  tp->set_collect_registers(true);
  v1::MemoryCollection* m = tp->add_memory();
  m->set_base_register(-1);
  m->set_offset(static_cast<int64_t>(origin));
  m->set_length(8);
  v1::TraceStatus status;
  s = stub->StartTrace(CallContext().get(), start, &status);
  ASSERT_TRUE(s.ok()) << s.error_message();
  v1::ResumeRequest resume;
  resume.set_session(attached.session());
  resume.add_actions()->set_mode(v1::RESUME_MODE_CONTINUE);
  v1::ResumeResponse resumed;
  s = stub->Resume(CallContext().get(), resume, &resumed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  // The hit stops nothing and tells the session nothing: only the run's end shows it.
  for (const absl::Time deadline = absl::Now() + absl::Seconds(20);
       status.running() && absl::Now() < deadline; absl::SleepFor(absl::Milliseconds(20))) {
    ASSERT_TRUE(stub->GetTraceStatus(CallContext().get(), {}, &status).ok());
  }
  ASSERT_FALSE(status.running()) << status.DebugString();
  v1::DetachRequest detach;
  detach.set_session(attached.session());
  v1::DetachResponse detached;
  ASSERT_TRUE(stub->Detach(CallContext().get(), detach, &detached).ok());
  events_ctx->TryCancel();
  (void)events->Finish();

  r = Kmctl({"trace", "status"});
  ASSERT_EQ(r.status, 0) << km_test::Describe(r);
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 5u) << r.out;
  EXPECT_EQ(lines[0], "trace: stopped, tracepoint 2 reached its pass count");
  EXPECT_EQ(lines[1], "frames: 1 in the buffer, 1 created");
  const uint64_t used = status.buffer_size() - status.buffer_free();
  EXPECT_GT(used, 8u);
  EXPECT_EQ(lines[2], absl::StrFormat("buffer: %d of 5242880 bytes used, not circular", used));
  EXPECT_EQ(lines[3], "TRACEPOINT  ADDRESS   HITS  BYTES");
  EXPECT_EQ(lines[4], absl::StrFormat("2           0x%-6x  1     %d", add, used));
  auto json_status = FromJson<v1::TraceStatus>(Kmctl({"trace", "status", "--json"}).out);
  EXPECT_FALSE(json_status.running());
  EXPECT_EQ(json_status.stop_reason(), v1::TRACE_STOP_REASON_PASS_COUNT);
  EXPECT_EQ(json_status.stopping_tracepoint(), 2u);
  EXPECT_EQ(json_status.frames(), 1u);
  ASSERT_EQ(json_status.tracepoints_size(), 1);
  EXPECT_EQ(json_status.tracepoints(0).address(), add);
  EXPECT_EQ(json_status.tracepoints(0).hits(), 1u);

  r = Kmctl({"trace", "frame", "0"});
  ASSERT_EQ(r.status, 0) << km_test::Describe(r);
  lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 31u) << r.out;
  EXPECT_EQ(lines[0], absl::StrFormat("frame 0: tracepoint 2, thread %d, pc 0x%x", km_pid_, add));
  EXPECT_EQ(lines[1], "registers:");
  EXPECT_EQ(lines[7], "rdi       0x0000000000000003  3") << "add(3, 4)";
  EXPECT_EQ(lines[6], "rsi       0x0000000000000004  4");
  EXPECT_EQ(lines[18], absl::StrFormat("rip       0x%016x  %d", add, add));
  EXPECT_EQ(lines[29], "memory:");
  EXPECT_TRUE(absl::StartsWith(
      lines[30], absl::StrFormat("0x%016x  01 00 00 00 02 00 00 00  ", origin)))
      << "origin = {1, 2, ...}: " << lines[30];
  auto frame = FromJson<v1::TraceFrame>(Kmctl({"--json", "trace", "frame", "0"}).out);
  EXPECT_TRUE(frame.found());
  EXPECT_EQ(frame.tracepoint(), 2u);
  EXPECT_EQ(frame.pc(), add);
  EXPECT_EQ(frame.tid(), km_pid_);
  EXPECT_EQ(frame.registers().rdi(), 3u);
  ASSERT_EQ(frame.memory_size(), 1);
  EXPECT_EQ(frame.memory(0).address(), origin);
  EXPECT_EQ(frame.memory(0).data(), std::string("\x01\0\0\0\x02\0\0\0", 8));
  for (const std::vector<std::string>& missing :
       {std::vector<std::string>{"trace", "frame", "1"}, {"--json", "trace", "frame", "1"}}) {
    r = Kmctl(missing);
    EXPECT_EQ(r.status, 4) << km_test::Describe(r);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, "kmctl: FindTraceFrame: NOT_FOUND: no trace frame 1\n");
  }

  // The same commands in a session, where clearing keep_going then lets gdb_demo finish.
  r = Session("trace status\ntrace frame 0 --json\nmem write keep_going 00000000\n");
  ASSERT_EQ(r.status, 0) << km_test::Describe(r);
  lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 7u) << r.out;
  EXPECT_EQ(lines[0], "trace: stopped, tracepoint 2 reached its pass count");
  EXPECT_EQ(FromJson<v1::TraceFrame>(lines[5]).registers().rsi(), 4u);
  EXPECT_EQ(lines[6], absl::StrFormat("wrote 4 bytes at 0x%x", syms->addrs.at("keep_going")));
  EXPECT_EQ(WaitKm(), 3);
}

INSTANTIATE_TEST_SUITE_P(Engines, KmctlTest, ::testing::Values("kvm", "tcg"),
                         [](const auto& info) { return info.param; });

}  // namespace
