// Drives the built kmctl binary against a real km, on every engine this machine has.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "proto/km_debug.pb.h"
#include "tests/child_process.h"
#include "tests/engines.h"

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
    std::ifstream syms(km_test::Runfile("km_hooks/target.syms"));
    std::string line;
    while (std::getline(syms, line)) {
      std::istringstream fields(line);
      std::string addr, type, name;
      if (fields >> addr >> type >> name) syms_[name] = std::stoull(addr, nullptr, 16);
    }
    ASSERT_TRUE(syms_.count("main"));
    // Tests run in a pid namespace: pid and counter alone may match a file an earlier run left.
    socket_ = absl::StrFormat("/tmp/kmctl-test-%d-%d-%d.sock", getpid(), counter_++,
                              absl::ToUnixMicros(absl::Now()) % 1000000);
    unlink(socket_.c_str());
    tmp_ = getenv("TEST_TMPDIR");
    payload_ = km_test::Runfile("km_hooks/bin/target");
    std::vector<std::string> args = {km_test::Runfile("km/km"), "--accel=" + GetParam(),
                                     "--debug-socket", socket_, "--debug-wait", payload_};
    const std::string out = absl::StrFormat("%s/km-%d", tmp_, counter_);
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; e++) env.emplace_back(*e);
    auto km_child = km_test::Child::Start(args, env, out + ".out", out + ".err");
    ASSERT_TRUE(km_child.ok()) << km_child.status();
    km_.emplace(*std::move(km_child));
    km_pid_ = km_->pid();
    struct stat st;
    for (int i = 0; i < 500 && stat(socket_.c_str(), &st) != 0; i++) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    ASSERT_EQ(stat(socket_.c_str(), &st), 0) << "km made no socket at " << socket_;
  }

  void TearDown() override {
    km_.reset();  // kills km if it still runs
    if (!socket_.empty()) unlink(socket_.c_str());
  }

  // km's exit status, waiting at most 20 s.
  int WaitKm() { return km_->Wait(absl::Seconds(20)); }

  km_test::RunResult Kmctl(std::vector<std::string> args) {
    args.insert(args.begin(), {km_test::Runfile("tools/kmctl/kmctl"), "--debug-socket", socket_});
    absl::StatusOr<km_test::RunResult> r = km_test::Run(args);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : km_test::RunResult{};
  }

  // `kmctl --elf PAYLOAD session` with script as its stdin.
  km_test::RunResult Session(const std::string& script) {
    const std::string path = absl::StrFormat("%s/script-%d", tmp_, counter_);
    std::ofstream(path) << script;
    const std::string cmd =
        absl::StrFormat("exec '%s' --debug-socket '%s' --elf '%s' session < '%s'",
                        km_test::Runfile("tools/kmctl/kmctl"), socket_, payload_, path);
    absl::StatusOr<km_test::RunResult> r = km_test::Run({"/bin/sh", "-c", cmd});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : km_test::RunResult{};
  }

  static int counter_;
  std::map<std::string, uint64_t> syms_;
  std::string socket_, tmp_, payload_;
  std::optional<km_test::Child> km_;
  pid_t km_pid_ = -1;
};

int KmctlTest::counter_ = 0;

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
  auto service = FromJson<google::protobuf::ServiceDescriptorProto>(Kmctl({"ls", "--json"}).out);
  EXPECT_EQ(service.name(), "Debug");
  EXPECT_EQ(service.method_size(), 13);
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

TEST_P(KmctlTest, SessionWaitPrintsStopsForPeople) {
  km_test::RunResult r = Session("step " + std::to_string(km_pid_) + "\nwait\nresume\nwait\n");
  ASSERT_EQ(r.status, 0) << km_test::Describe(r);
  EXPECT_TRUE(absl::StrContains(r.out, absl::StrFormat("thread %d stopped: step at rip", km_pid_)))
      << r.out;
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

INSTANTIATE_TEST_SUITE_P(Engines, KmctlTest, ::testing::Values("kvm", "tcg"),
                         [](const auto& info) { return info.param; });

}  // namespace
