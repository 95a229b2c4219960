// A whole scripted debug session through tools/kmcurl (buf curl and km's server reflection),
// against a real km on every engine this machine has: what docs/scripting.md shows.
#include <unistd.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "proto/km_debug.pb.h"
#include "tests/child_process.h"
#include "tests/engines.h"
#include "tools/testing/held_payload.h"

extern char** environ;

namespace {

namespace v1 = ::km::debug::v1;

// buf curl prints a stream as JSON documents one after another; this splits them.
std::vector<std::string> JsonDocuments(const std::string& text) {
  std::vector<std::string> docs;
  int depth = 0;
  bool in_string = false, escaped = false;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); i++) {
    const char c = text[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{') {
      if (depth++ == 0) start = i;
    } else if (c == '}' && --depth == 0) {
      docs.push_back(text.substr(start, i + 1 - start));
    }
  }
  return docs;
}

template <typename M>
M FromJson(const std::string& json) {
  M message;
  auto s = google::protobuf::util::JsonStringToMessage(json, &message);
  EXPECT_TRUE(s.ok()) << s.ToString() << " in: " << json;
  return message;
}

class KmcurlTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    km_test::EngineInfo engine = km_test::FindEngine(GetParam());
    if (!engine.available) GTEST_SKIP() << engine.skip_reason;
    auto km = km_test::HeldPayload::Start(GetParam());
    ASSERT_TRUE(km.ok()) << km.status();
    km_ = *std::move(km);
    for (char** e = environ; *e != nullptr; e++) env_.emplace_back(*e);
  }

  std::vector<std::string> Argv(const std::string& method, const std::string& request) {
    std::vector<std::string> argv = {km_test::Runfile("tools/kmcurl"), km_->socket(), method};
    if (!request.empty()) argv.push_back(request);
    return argv;
  }

  // `kmcurl SOCKET METHOD REQUEST`, which must succeed.
  std::string Call(const std::string& method, const std::string& request = "") {
    km_test::RunResult r = Run(Argv(method, request));
    EXPECT_EQ(r.status, 0) << method << " " << request << ": " << km_test::Describe(r);
    return r.out;
  }

  km_test::RunResult Run(const std::vector<std::string>& argv) {
    absl::StatusOr<km_test::RunResult> r = km_test::Run(argv, {.env = env_});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : km_test::RunResult{};
  }

  // The stream's events from index `from` on, once one of them is a stop (up to 20 s).
  std::vector<v1::Event> AwaitStop(const km_test::Child& stream, size_t from) {
    for (int i = 0; i < 2000; i++) {
      std::vector<std::string> docs = JsonDocuments(stream.Out());
      std::vector<v1::Event> events;
      for (size_t d = from; d < docs.size(); d++) events.push_back(FromJson<v1::Event>(docs[d]));
      if (!events.empty() && events.back().has_stop()) return events;
      absl::SleepFor(absl::Milliseconds(10));
    }
    ADD_FAILURE() << "no stop event; the stream printed:\n" << stream.Out() << stream.Err();
    return {};
  }

  std::unique_ptr<km_test::HeldPayload> km_;
  std::vector<std::string> env_;
};

TEST_P(KmcurlTest, ListsEveryMethodThroughReflection) {
  km_test::RunResult r = Run({km_test::Runfile("tools/kmcurl"), km_->socket(), "list"});
  ASSERT_EQ(r.status, 0) << km_test::Describe(r);
  for (const char* method :
       {"GetTarget", "ListThreads", "Attach", "Detach", "Events", "Stop", "Resume",
        "ReadRegisters", "WriteRegisters", "ReadMemory", "WriteMemory", "InsertBreakpoint",
        "RemoveBreakpoint", "CatchSyscalls"}) {
    EXPECT_TRUE(absl::StrContains(r.out, absl::StrCat("km.debug.v1.Debug/", method, "\n")))
        << method << " missing from:\n" << r.out;
  }
}

TEST_P(KmcurlTest, ScriptedSessionBreaksInTouchReadsStateAndDetaches) {
  std::map<std::string, uint64_t> syms = km_test::TargetSymbols();
  const uint64_t touch = syms["touch"], watched = syms["watched"];
  ASSERT_NE(touch, 0u);
  ASSERT_NE(watched, 0u);

  auto target = FromJson<v1::Target>(Call("GetTarget"));
  EXPECT_EQ(target.pid(), km_->pid());
  EXPECT_EQ(target.engine().name(), GetParam());

  auto attach = FromJson<v1::AttachResponse>(Call("Attach", R"({"clientName": "kmcurl test"})"));
  ASSERT_FALSE(attach.session().empty());
  const std::string session = absl::StrFormat(R"("session": "%s")", attach.session());

  const std::string log = absl::StrFormat("%s/events-%s", getenv("TEST_TMPDIR"), GetParam());
  auto stream = km_test::Child::Start(Argv("Events", "{" + session + "}"), env_, log + ".out",
                                      log + ".err");
  ASSERT_TRUE(stream.ok()) << stream.status();
  std::vector<v1::Event> events = AwaitStop(*stream, 0);
  ASSERT_EQ(events.size(), 1u) << "first, the main thread as --debug-wait holds it";
  EXPECT_EQ(events[0].stop().reason().kind(), v1::STOP_KIND_INTERRUPTED);
  EXPECT_EQ(events[0].stop().rip(), target.entry());

  Call("InsertBreakpoint",
       absl::StrFormat(R"({%s, "kind": "BREAKPOINT_KIND_SOFTWARE", "addr": "%d"})", session,
                       touch));
  Call("Resume", absl::StrFormat(R"({%s, "actions": [{"tid": 0}]})", session));
  events = AwaitStop(*stream, 1);
  ASSERT_EQ(events.size(), 3u) << "the worker thread came and went, then main hit touch";
  EXPECT_TRUE(events[0].has_thread_created());
  EXPECT_TRUE(events[1].has_thread_exited());
  const v1::Event& hit = events[2];
  EXPECT_EQ(hit.stop().tid(), km_->pid());
  EXPECT_EQ(hit.stop().reason().kind(), v1::STOP_KIND_BREAKPOINT);
  EXPECT_EQ(hit.stop().rip(), touch);
  EXPECT_EQ(hit.stop().registers().rdi(), 42u) << "touch(42)'s argument";

  auto regs = FromJson<v1::Registers>(
      Call("ReadRegisters", absl::StrFormat(R"({"tid": %d})", km_->pid())));
  EXPECT_EQ(regs.rip(), touch);
  EXPECT_EQ(regs.rdi(), 42u);
  EXPECT_EQ(regs.rsp(), hit.stop().rsp());
  auto before = FromJson<v1::ReadMemoryResponse>(
      Call("ReadMemory", absl::StrFormat(R"({"addr": "%d", "len": "8"})", watched)));
  EXPECT_EQ(before.data(), std::string(8, '\0')) << "touch has not stored yet";

  // 43 instead of 42 from here on: the payload prints what it reads back.
  v1::Registers changed = regs;
  changed.set_rdi(43);
  std::string changed_json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(changed, &changed_json).ok());
  Call("WriteRegisters", absl::StrFormat(R"({%s, "tid": %d, "registers": %s})", session,
                                         km_->pid(), changed_json));
  Call("Detach", "{" + session + "}");
  EXPECT_EQ(stream->Wait(absl::Seconds(20)), 0) << "the stream ends with the session";
  EXPECT_EQ(km_->Wait(), 7);
  EXPECT_EQ(km_->Out(), "done 3 43\n");
}

TEST_P(KmcurlTest, FailedCallsExitWithBufsCodeAndKmsMessage) {
  // buf curl exits with 8 times the gRPC status code.
  km_test::RunResult unmapped = Run(Argv("ReadMemory", R"({"addr": "4096", "len": "4"})"));
  EXPECT_EQ(unmapped.status, 8 * 3) << km_test::Describe(unmapped);
  EXPECT_TRUE(absl::StrContains(unmapped.err, "guest address 0x1000 is not mapped"))
      << unmapped.err;
  km_test::RunResult no_session = Run(Argv("Resume", R"({"session": "s9-nope"})"));
  EXPECT_EQ(no_session.status, 8 * 9) << km_test::Describe(no_session);
  km_test::RunResult gone = Run({km_test::Runfile("tools/kmcurl"), km_->socket() + ".missing",
                                 "GetTarget"});
  EXPECT_EQ(gone.status, 3) << km_test::Describe(gone);
  EXPECT_TRUE(absl::StrContains(gone.err, km_->socket() + ".missing")) << gone.err;
}

INSTANTIATE_TEST_SUITE_P(Engines, KmcurlTest, ::testing::Values("kvm", "tcg"),
                         [](const auto& info) { return info.param; });

}  // namespace
