// Core dumps as a user meets them: `ulimit -c unlimited`, the payload dies under km, and
// `gdb PAYLOAD CORE` shows what gdb shows of the same crash happening natively under it: the
// threads, their backtraces, globals and heap, $_siginfo, an SSE register.
#include <signal.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include <regex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/child_process.h"
#include "tests/engines.h"
#include "km/engine.h"
#include "km/guest_memory.h"
#include "km/runtime/core_dump.h"
#include "km/runtime/core_file.h"
#include "tests/gdb/harness.h"

namespace km_gdb_test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Payload() { return km_test::Runfile("tests/payloads/bin/coredump"); }

std::string Line(absl::string_view tag) {
  return absl::StrCat("coredump.c:", SourceLine("coredump", tag));
}


bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// gdb -batch on the payload, with these commands.
std::string Gdb(const std::vector<std::string>& commands) {
  std::vector<std::string> argv = {"/usr/bin/gdb", "-batch", "-nx",       "-iex",
                                   "set pagination off", "-iex", "set width 0", Payload()};
  for (const std::string& c : commands) argv.insert(argv.end(), {"-ex", c});
  absl::StatusOr<km_test::RunResult> gdb =
      km_test::Run(argv, {.env = ChildEnv(), .timeout = absl::Seconds(120)});
  if (!gdb.ok()) return gdb.status().ToString();
  return gdb->out + gdb->err;
}

// What the crash looks like from `info threads` on, with what differs between a live process
// and a core, or between km and Linux, blanked: thread ids, names (a core has none), stack
// addresses, and the line a core adds about its current thread.
std::string View(const std::string& out) {
  const size_t begin = out.find("  Id   Target Id");
  if (begin == std::string::npos) return "no `info threads` in:\n" + out;
  std::string view;
  for (absl::string_view line : absl::StrSplit(out.substr(begin), '\n')) {
    if (absl::StartsWith(line, "[") || absl::StartsWith(line, "warning:") || line.empty()) continue;
    absl::StrAppend(&view, line, "\n");
  }
  view = std::regex_replace(view, std::regex("LWP [0-9]+( \"[^\"]*\")? *"), "LWP N ");
  view = std::regex_replace(view, std::regex("0x7ff[0-9a-f]+"), "STACK");
  return std::regex_replace(view, std::regex(" +Frame *\n"), " Frame\n");
}

const std::vector<std::string>& Inspections() {
  static const auto* commands = new std::vector<std::string>{
      "info threads",
      "thread apply all bt",
      "p table",
      "p *heap_copy@3",
      "p $_siginfo.si_signo",
      "p $_siginfo.si_code",
      "p $_siginfo._sifields._sigfault.si_addr",
      "p $xmm1.v2_double[0]",
      "p/x $rip",
  };
  return *commands;
}

class CoreDumpTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    km_test::EngineInfo engine = km_test::FindEngine(GetParam());
    if (!engine.available) GTEST_SKIP() << engine.skip_reason;
    // As after `ulimit -c unlimited`; km's child inherits it.
    struct rlimit core;
    ASSERT_EQ(getrlimit(RLIMIT_CORE, &core), 0);
    ASSERT_EQ(core.rlim_max, RLIM_INFINITY) << "this test needs to raise RLIMIT_CORE";
    core.rlim_cur = RLIM_INFINITY;
    ASSERT_EQ(setrlimit(RLIMIT_CORE, &core), 0);
    dir_ = absl::StrFormat("%s/cores-%s", getenv("TEST_TMPDIR"), GetParam());
    mkdir(dir_.c_str(), 0755);
  }

  // km with --core-pattern in dir_; core_limit: the RLIMIT_CORE it starts with, as a shell's
  // `ulimit -c` would set it.
  km_test::RunResult RunKm(const std::string& variant, rlim_t core_limit = RLIM_INFINITY) {
    struct rlimit limit = {core_limit, RLIM_INFINITY};
    EXPECT_EQ(setrlimit(RLIMIT_CORE, &limit), 0);
    absl::StatusOr<km_test::RunResult> km =
        km_test::Run({km_test::Runfile("km/km"), "--accel=" + GetParam(),
                      "--core-pattern=" + dir_ + "/core.%e.%p", Payload(), variant},
                     {.env = ChildEnv()});
    limit.rlim_cur = RLIM_INFINITY;
    EXPECT_EQ(setrlimit(RLIMIT_CORE, &limit), 0);
    EXPECT_TRUE(km.ok()) << km.status();
    return km.ok() ? *km : km_test::RunResult{};
  }

  // The core km says it wrote, after checking it says so in its one line.
  std::string CoreOf(const km_test::RunResult& km) {
    std::smatch m;
    if (!std::regex_search(km.err, m, std::regex("\\(core dumped to ([^)]+)\\)"))) {
      ADD_FAILURE() << "km did not say it dumped core: " << km_test::Describe(km);
      return "";
    }
    EXPECT_TRUE(Exists(m[1].str())) << m[1].str();
    EXPECT_TRUE(absl::StartsWith(m[1].str(), dir_ + "/core.coredump.")) << m[1].str();
    return m[1].str();
  }

  std::string dir_;
};

TEST_P(CoreDumpTest, ASegfaultsCoreShowsInGdbWhatGdbShowsOfTheNativeCrash) {
  km_test::RunResult km = RunKm("segv");
  EXPECT_EQ(km.status, 128 + SIGSEGV) << km_test::Describe(km);
  EXPECT_THAT(km.err, HasSubstr("km: payload terminated by SIGSEGV (Segmentation fault) at rip"));
  const std::string core = CoreOf(km);
  ASSERT_FALSE(core.empty());

  std::vector<std::string> on_core = {"core-file " + core};
  std::vector<std::string> live = {"run segv"};
  on_core.insert(on_core.end(), Inspections().begin(), Inspections().end());
  live.insert(live.end(), Inspections().begin(), Inspections().end());
  const std::string ours = Gdb(on_core);
  const std::string native = Gdb(live);

  EXPECT_THAT(ours, HasSubstr("Program terminated with signal SIGSEGV, Segmentation fault."));
  EXPECT_THAT(ours, HasSubstr("in crash (how="));
  EXPECT_THAT(ours, HasSubstr(Line("crash-segv")));
  EXPECT_THAT(ours, HasSubstr("name = \"worker-2"));
  EXPECT_THAT(ours, HasSubstr("= 2.5\n"));
  EXPECT_EQ(View(ours), View(native)) << "gdb on km's core:\n" << ours << "\nnative gdb:\n"
                                      << native;
}

TEST_P(CoreDumpTest, AbortDumpsCoreWithEveryThread) {
  km_test::RunResult km = RunKm("abort");
  EXPECT_EQ(km.status, 128 + SIGABRT) << km_test::Describe(km);
  EXPECT_THAT(km.err, HasSubstr("km: payload terminated by SIGABRT (Aborted) (core dumped to "));
  const std::string core = CoreOf(km);
  ASSERT_FALSE(core.empty());
  const std::string out = Gdb({"core-file " + core, "info threads", "p $_siginfo.si_signo",
                               "p $_siginfo.si_code", "p heap_copy[1].name"});
  EXPECT_THAT(out, HasSubstr("Program terminated with signal SIGABRT, Aborted."));
  EXPECT_THAT(out, HasSubstr("\n  4    LWP ")) << "four threads";
  // abort() raises SIGABRT with tkill: SI_TKILL.
  EXPECT_THAT(out, HasSubstr("$1 = 6\n$2 = -6\n$3 = \"worker-1"));
}

TEST_P(CoreDumpTest, ASignalFromOutsideThatDumpsCoreDumpsIt) {
  absl::StatusOr<Child> km = Child::Start(
      {km_test::Runfile("km/km"), "--accel=" + GetParam(),
       "--core-pattern=" + dir_ + "/core.%e.%p", Payload(), "quit"},
      ChildEnv(), dir_ + "/km-quit.out", dir_ + "/km-quit.err");
  ASSERT_TRUE(km.ok()) << km.status();
  ASSERT_TRUE(WaitForText([&] { return km->Out(); }, "waiting for SIGQUIT", absl::Seconds(60)))
      << km->Out();
  ASSERT_EQ(kill(km->pid(), SIGQUIT), 0);
  EXPECT_EQ(km->Wait(absl::Seconds(60)), 128 + SIGQUIT) << km->Err();
  km_test::RunResult result{.out = km->Out(), .err = km->Err()};
  const std::string core = CoreOf(result);
  ASSERT_FALSE(core.empty());
  const std::string out =
      Gdb({"core-file " + core, "p $_siginfo.si_signo", "p $_siginfo.si_code",
           "p $_siginfo._sifields._kill.si_pid == " + std::to_string(getpid())});
  EXPECT_THAT(out, HasSubstr("Program terminated with signal SIGQUIT, Quit."));
  EXPECT_THAT(out, HasSubstr("$1 = 3\n$2 = 0\n$3 = 1")) << "sent by this test (SI_USER)";
}

// Under gdb, the fatal signal stops the payload first, as with ptrace; once gdb lets it through,
// the payload dies of it and km writes the core.
TEST_P(CoreDumpTest, ASignalGdbLetsThroughDumpsCore) {
  const std::string core = dir_ + "/through-gdb.core";
  SessionOptions options;
  options.engine = GetParam();
  options.payload = "coredump";
  options.payload_args = {"segv"};
  options.km_args = {"--core-pattern=" + core};
  options.gdb_commands = {"continue", "continue"};
  absl::StatusOr<SessionResult> r = RunSession(options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->gdb_out, HasSubstr("received signal SIGSEGV, Segmentation fault."))
      << r->Describe();
  EXPECT_THAT(r->gdb_out, HasSubstr("Program terminated with signal SIGSEGV")) << r->Describe();
  EXPECT_EQ(r->km_status, 128 + SIGSEGV) << r->Describe();
  EXPECT_THAT(r->km_err, HasSubstr("(core dumped to " + core + ")")) << r->Describe();
  const std::string out = Gdb({"core-file " + core, "bt"});
  EXPECT_THAT(out, HasSubstr("in crash (how=")) << out;
  EXPECT_THAT(out, HasSubstr(Line("crash-segv"))) << out;
}

TEST_P(CoreDumpTest, NoCoreWhereRlimitCoreSaysNone) {
  km_test::RunResult km = RunKm("segv", 0);
  EXPECT_EQ(km.status, 128 + SIGSEGV) << km_test::Describe(km);
  EXPECT_THAT(km.err, Not(HasSubstr("core"))) << km_test::Describe(km);
  // The limit the payload set itself (setrlimit(RLIMIT_CORE) reaches km).
  km = RunKm("nolimit");
  EXPECT_EQ(km.status, 128 + SIGSEGV) << km_test::Describe(km);
  EXPECT_THAT(km.err, Not(HasSubstr("core"))) << km_test::Describe(km);
  EXPECT_THAT(km.err, Not(HasSubstr("setrlimit"))) << km_test::Describe(km);
  // A limit of a few pages: the core stops there, as Linux's does, and gdb still reads what
  // it has.
  km = RunKm("segv", 16384);
  const std::string core = CoreOf(km);
  struct stat st;
  ASSERT_EQ(stat(core.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 16384);
  EXPECT_THAT(Gdb({"core-file " + core}),
              HasSubstr("Program terminated with signal SIGSEGV, Segmentation fault."));
}

TEST_P(CoreDumpTest, ACoreThatCannotBeWrittenIsNamedAndThePayloadStillEndsAsItWould) {
  // A missing directory; a symlink (km does not follow it, as Linux does not); a fifo (opening
  // it must not wait for a reader).
  const std::string target = dir_ + "/target";
  const std::string link = dir_ + "/link";
  const std::string fifo = dir_ + "/fifo";
  unlink(link.c_str());
  unlink(fifo.c_str());
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::pair<std::string, std::string> cases[] = {
      {dir_ + "/no/such/dir/core", "No such file or directory"},
      {link, "Too many levels of symbolic links"},
      {fifo, "No such device or address"},
  };
  for (const auto& [pattern, why] : cases) {
    absl::StatusOr<km_test::RunResult> km = km_test::Run(
        {km_test::Runfile("km/km"), "--accel=" + GetParam(), "--core-pattern=" + pattern,
         Payload(), "segv"},
        {.env = ChildEnv()});
    ASSERT_TRUE(km.ok()) << km.status();
    EXPECT_EQ(km->status, 128 + SIGSEGV) << km_test::Describe(*km);
    EXPECT_THAT(km->err, HasSubstr(absl::StrCat("(core not dumped: ", pattern, ": ", why, ")")));
  }
  EXPECT_FALSE(Exists(target)) << "the symlink was followed";
}

// The kvm engine has AVX, and its cores carry the ymm registers in an NT_X86_XSTATE note. No
// engine runs here: a core is written from made-up state and gdb reads it back, so the layout is
// checked on machines without /dev/kvm too.
TEST(CoreFileTest, GdbReadsTheYmmRegistersOfAnAvxCore) {
  km::CoreProcess core;
  core.pid = 4242;
  core.name = "avx";
  core.argv = {"/payloads/avx", "arg"};
  core.signal.signo = SIGSEGV;
  core.signal.code = 1;
  core.signal.addr = 0x10;
  core.signal.fault = true;
  core.avx = true;
  km::CoreThread thread;
  thread.tid = 4242;
  thread.regs.rip = 0x401000;
  thread.regs.rsp = 0x7fff0000;
  thread.regs.rax = 0x1122334455667788;
  thread.fpu.fcw = 0x37f;
  thread.fpu.mxcsr = 0x1f80;
  thread.fpu.ftw = 0xffff;
  for (int b = 0; b < 16; b++) {
    thread.fpu.xmm[3][b] = static_cast<uint8_t>(0x10 + b);
    thread.fpu.ymmh[3][b] = static_cast<uint8_t>(0xa0 + b);
  }
  core.threads = {thread};
  // A data page and, far above, a page of stack: the gap between them costs nothing.
  std::vector<uint8_t> data(km::kPageSize * 3, 0);
  std::memcpy(data.data() + 8, "in the core", 12);
  core.mappings = {{0x600000, data.size(), km::kProtRead | km::kProtWrite, data.data()},
                   {0x7fff0000, data.size(), km::kProtRead | km::kProtWrite, data.data()}};
  const std::string path = absl::StrCat(getenv("TEST_TMPDIR"), "/avx.core");
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(km::WriteCoreFile(fd, core, UINT64_MAX).ok());
  close(fd);

  absl::StatusOr<km_test::RunResult> gdb = km_test::Run(
      {"/usr/bin/gdb", "-batch", "-nx", "-ex", "core-file " + path, "-ex", "p/x $ymm3.v4_int64",
       "-ex", "p/x $rax", "-ex", "p (char*)0x600008", "-ex",
       "p $_siginfo._sifields._sigfault.si_addr"},
      {.env = ChildEnv()});
  ASSERT_TRUE(gdb.ok()) << gdb.status();
  EXPECT_THAT(gdb->out, HasSubstr("$1 = {0x1716151413121110, 0x1f1e1d1c1b1a1918, "
                                  "0xa7a6a5a4a3a2a1a0, 0xafaeadacabaaa9a8}"))
      << gdb->out << gdb->err;
  EXPECT_THAT(gdb->out, HasSubstr("$2 = 0x1122334455667788"));
  EXPECT_THAT(gdb->out, HasSubstr("$3 = 0x600008 \"in the core\""));
  EXPECT_THAT(gdb->out, HasSubstr("$4 = (void *) 0x10"));
  EXPECT_THAT(gdb->out + gdb->err, HasSubstr("Core was generated by `/payloads/avx arg'."));
  // Zero pages are holes: only the notes, the headers and two pages of data take room.
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_LT(st.st_blocks * 512, st.st_size);
}

TEST(CoreFileTest, CorePatternsNameTheFileAsLinuxWould) {
  EXPECT_EQ(km::CorePath("core", 7, "prog", 99), "core");
  EXPECT_EQ(km::CorePath("/tmp/%e-%p-%t.core", 7, "prog", 99), "/tmp/prog-7-99.core");
  EXPECT_EQ(km::CorePath("c%%%x%", 7, "prog", 99), "c%");
}

INSTANTIATE_TEST_SUITE_P(Engines, CoreDumpTest, ::testing::Values("kvm", "tcg"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace km_gdb_test
