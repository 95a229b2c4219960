// Load through km's debug service, on every engine this machine has: a sixteen-thread payload
// stopped and resumed over and over while another client reads its memory, and thousands of
// breakpoint hits across its threads. Every call must return within its deadline (no deadlock),
// every hit must be reported once (no lost event), and km's resident memory must not grow
// without bound.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "proto/km_debug.grpc.pb.h"
#include "tests/child_process.h"
#include "tests/engines.h"
#include "tests/rss_bound.h"

namespace {

namespace v1 = ::km::debug::v1;

constexpr int kWorkers = 16;
constexpr absl::Duration kCall = absl::Seconds(30);
// Growth of km's RSS a load test may cause: the gRPC threads and buffers it needs once, not a
// cost per cycle or per hit.
constexpr long kRssGrowthKb = 64 * 1024;

std::unique_ptr<grpc::ClientContext> Deadline(absl::Duration d = kCall) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + d));
  return ctx;
}

uint64_t Symbol(const std::string& name) {
  std::ifstream syms(km_test::Runfile("tests/load/sixteen.syms"));
  for (std::string line; std::getline(syms, line);) {
    std::istringstream in(line);
    std::string addr, type, sym;
    if (in >> addr >> type >> sym && sym == name) return std::stoull(addr, nullptr, 16);
  }
  return 0;
}

class LoadTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    km_test::EngineInfo engine = km_test::FindEngine(GetParam());
    if (!engine.available) GTEST_SKIP() << engine.skip_reason;
    ASSERT_NE(mkdtemp(dir_), nullptr);
    socket_ = absl::StrCat(dir_, "/km.sock");
  }
  void TearDown() override {
    km_.reset();
    unlink(socket_.c_str());
    rmdir(dir_);
  }

  void StartKm(const std::vector<std::string>& payload_args, bool wait) {
    std::vector<std::string> argv = {km_test::Runfile("km/km"), "--accel=" + GetParam(),
                                     "--debug-socket", socket_};
    if (wait) argv.push_back("--debug-wait");
    argv.push_back(km_test::Runfile("tests/load/bin/sixteen"));
    argv.insert(argv.end(), payload_args.begin(), payload_args.end());
    const std::string out = absl::StrCat(getenv("TEST_TMPDIR"), "/km");
    std::vector<std::string> env = {"PATH=/usr/bin:/bin"};
    auto km = km_test::Child::Start(argv, env, out + ".out", out + ".err");
    ASSERT_TRUE(km.ok()) << km.status();
    km_.emplace(*std::move(km));
    for (int i = 0; i < 2000 && access(socket_.c_str(), F_OK) != 0; i++) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    ASSERT_EQ(access(socket_.c_str(), F_OK), 0) << km_->Err();
    stub_ = Connect();
  }

  std::unique_ptr<v1::Debug::Stub> Connect() {
    return v1::Debug::NewStub(
        grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials()));
  }

  long RssKb() {
    std::ifstream status(absl::StrCat("/proc/", km_->pid(), "/status"));
    for (std::string line; std::getline(status, line);) {
      if (absl::StartsWith(line, "VmRSS:")) return std::stol(line.substr(6));
    }
    return -1;
  }

  std::string Attach() {
    v1::AttachRequest req;
    req.set_client_name("load");
    v1::AttachResponse resp;
    grpc::Status s = stub_->Attach(Deadline().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.session();
  }

  grpc::Status Resume(const std::string& session, int tid) {
    v1::ResumeRequest req;
    req.set_session(session);
    req.add_actions()->set_tid(tid);
    v1::ResumeResponse resp;
    return stub_->Resume(Deadline().get(), req, &resp);
  }

  char dir_[32] = "/tmp/kmload-XXXXXX";
  std::string socket_;
  std::optional<km_test::Child> km_;
  std::unique_ptr<v1::Debug::Stub> stub_;
};

TEST_P(LoadTest, StopResumeCyclesWithRacingReadsForTenSeconds) {
  ASSERT_NO_FATAL_FAILURE(StartKm({"spin"}, /*wait=*/false));
  const uint64_t counters = Symbol("counters");
  const uint64_t done = Symbol("done");
  ASSERT_NE(counters, 0u);
  v1::ListThreadsResponse threads;
  for (int i = 0; i < 2000 && threads.threads_size() < kWorkers + 1; i++) {
    threads.Clear();
    ASSERT_TRUE(stub_->ListThreads(Deadline().get(), {}, &threads).ok());
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(threads.threads_size(), kWorkers + 1);
  const std::string session = Attach();
  // The session's event stream, drained as a debugger would.
  auto events_ctx = Deadline(absl::Minutes(5));
  v1::EventsRequest events_req;
  events_req.set_session(session);
  auto events = stub_->Events(events_ctx.get(), events_req);
  std::thread drain([&] {
    v1::Event ev;
    while (events->Read(&ev)) {
    }
  });
  const long rss_before = RssKb();

  // Another client reads the counters all the while, stopped or running.
  std::atomic<bool> stop_reading{false};
  std::atomic<int> reads{0}, bad_reads{0};
  std::thread reader([&] {
    auto stub = Connect();
    while (!stop_reading) {
      v1::ReadMemoryRequest req;
      req.set_addr(counters);
      req.set_len(kWorkers * sizeof(long));
      v1::ReadMemoryResponse resp;
      grpc::Status s = stub->ReadMemory(Deadline().get(), req, &resp);
      if (!s.ok() || resp.data().size() != kWorkers * sizeof(long)) bad_reads++;
      reads++;
    }
  });

  int cycles = 0;
  const absl::Time end = absl::Now() + absl::Seconds(10);
  while (absl::Now() < end) {
    v1::StopRequest stop;
    stop.set_session(session);
    v1::StopResponse stopped;
    grpc::Status s = stub_->Stop(Deadline().get(), stop, &stopped);
    ASSERT_TRUE(s.ok()) << "cycle " << cycles << ": " << s.error_message();
    ASSERT_EQ(stopped.stopped_size(), kWorkers + 1) << "cycle " << cycles;
    s = Resume(session, 0);
    ASSERT_TRUE(s.ok()) << "cycle " << cycles << ": " << s.error_message();
    cycles++;
  }
  stop_reading = true;
  reader.join();
  const long rss_after = RssKb();
  RecordProperty("cycles", cycles);
  RecordProperty("reads", reads.load());
  RecordProperty("km_rss_kb_before", std::to_string(rss_before));
  RecordProperty("km_rss_kb_after", std::to_string(rss_after));
  EXPECT_GT(cycles, 10);
  EXPECT_GT(reads.load(), 10);
  EXPECT_EQ(bad_reads.load(), 0) << "of " << reads.load() << " reads";
  km_test::ExpectRssGrowthBelow(rss_before, rss_after, kRssGrowthKb,
                                absl::StrCat(cycles, " stop/resume cycles"));

  // The payload still ends normally.
  v1::WriteMemoryRequest write;
  write.set_session(session);
  write.set_addr(done);
  write.set_data(std::string("\x01\0\0\0", 4));
  v1::WriteMemoryResponse written;
  ASSERT_TRUE(stub_->WriteMemory(Deadline().get(), write, &written).ok());
  EXPECT_EQ(km_->Wait(absl::Seconds(60)), 0) << km_->Err();
  EXPECT_EQ(km_->Out(), "spin done\n");
  events_ctx->TryCancel();
  drain.join();
}

// All sixteen threads run through the breakpoint at once: every hit is reported, also those
// that come while another thread steps past it (before km's step-over happened inside the
// engine, about 300 of 2048 were).
TEST_P(LoadTest, ThousandsOfBreakpointHitsAcrossThreadsAreEachReportedOnce) {
  constexpr int kHitsPerThread = 128;
  ASSERT_NO_FATAL_FAILURE(StartKm({"hits", std::to_string(kHitsPerThread)}, /*wait=*/true));
  const uint64_t hit = Symbol("hit");
  ASSERT_NE(hit, 0u);
  const std::string session = Attach();
  auto events_ctx = Deadline(absl::Minutes(5));
  v1::EventsRequest events_req;
  events_req.set_session(session);
  auto events = stub_->Events(events_ctx.get(), events_req);
  v1::Event ev;
  ASSERT_TRUE(events->Read(&ev) && ev.has_stop()) << "no stop at entry";
  const int main_tid = ev.stop().tid();

  v1::BreakpointRequest bp;
  bp.set_session(session);
  bp.set_kind(v1::BREAKPOINT_KIND_SOFTWARE);
  bp.set_addr(hit);
  v1::BreakpointResponse bp_resp;
  ASSERT_TRUE(stub_->InsertBreakpoint(Deadline().get(), bp, &bp_resp).ok());
  const long rss_before = RssKb();
  ASSERT_TRUE(Resume(session, 0).ok());

  // Each stop at hit is one call: count it and let that thread go on.
  std::map<int, int> hits;
  int total = 0;
  std::optional<v1::ProcessExit> exit;
  while (!exit && events->Read(&ev)) {
    if (ev.has_process_exited()) {
      exit = ev.process_exited();
    } else if (ev.has_stop()) {
      ASSERT_EQ(ev.stop().reason().kind(), v1::STOP_KIND_BREAKPOINT)
          << "thread " << ev.stop().tid() << " at 0x" << std::hex << ev.stop().rip();
      ASSERT_EQ(ev.stop().rip(), hit);
      hits[ev.stop().tid()]++;
      total++;
      grpc::Status s = Resume(session, ev.stop().tid());
      ASSERT_TRUE(s.ok()) << "after hit " << total << ": " << s.error_message();
      if (total == kWorkers * kHitsPerThread / 2) {
        const long rss_mid = RssKb();
        RecordProperty("km_rss_kb_mid", std::to_string(rss_mid));
        km_test::ExpectRssGrowthBelow(rss_before, rss_mid, kRssGrowthKb,
                                      absl::StrCat(total, " breakpoint hits"));
      }
    }
  }
  ASSERT_TRUE(exit.has_value()) << "the event stream ended before the process did";
  EXPECT_EQ(exit->status(), 0);
  EXPECT_EQ(total, kWorkers * kHitsPerThread);
  EXPECT_EQ(hits.size(), static_cast<size_t>(kWorkers));
  EXPECT_FALSE(hits.contains(main_tid));
  for (const auto& [tid, n] : hits) EXPECT_EQ(n, kHitsPerThread) << "thread " << tid;
  EXPECT_EQ(km_->Wait(absl::Seconds(60)), 0) << km_->Err();
  EXPECT_EQ(km_->Out(), absl::StrCat("hits done ", kWorkers * kHitsPerThread, "\n"));
}

INSTANTIATE_TEST_SUITE_P(Engines, LoadTest, ::testing::Values("kvm", "tcg"),
                         [](const auto& info) { return info.param; });

}  // namespace
