// End-to-end: each payload runs natively and under `km --accel=ENGINE`; stdout and the exit
// status must match exactly. Faults must be reported with the native signal and rip. Engines
// this machine lacks show as skipped, with the reason.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/elf_text.h"
#include "tests/e2e/native_fault.h"
#include "tests/child_process.h"
#include "tests/engines.h"

namespace km_test {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string KmPath() { return Runfile("km/km"); }

std::string PayloadPath(absl::string_view name) {
  return Runfile(absl::StrCat("tests/payloads/bin/", name));
}

std::string TmpDir() {
  const char* dir = getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

// A fresh directory under TEST_TMPDIR.
std::string MakeDir(absl::string_view name) {
  std::string dir = absl::StrCat(TmpDir(), "/", name);
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    ADD_FAILURE() << "mkdir " << dir << ": " << strerror(errno);
  }
  return dir;
}

// Run() that turns a failure to start into a test failure and an impossible status.
RunResult MustRun(const std::vector<std::string>& argv, const RunOptions& options = {}) {
  absl::StatusOr<RunResult> result = Run(argv, options);
  if (!result.ok()) {
    ADD_FAILURE() << "cannot run " << argv[0] << ": " << result.status();
    return RunResult{.err = std::string(result.status().message())};
  }
  return *std::move(result);
}

int LineCount(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

class KmE2eTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    EngineInfo engine = FindEngine(GetParam());
    if (!engine.available) GTEST_SKIP() << engine.skip_reason;
  }

  std::vector<std::string> NativeArgv(absl::string_view payload,
                                      const std::vector<std::string>& args) {
    std::vector<std::string> argv = {PayloadPath(payload)};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  std::vector<std::string> KmArgv(absl::string_view payload, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {KmPath(), absl::StrCat("--accel=", GetParam()),
                                     PayloadPath(payload)};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  RunResult RunNative(absl::string_view payload, const std::vector<std::string>& args,
                      const std::vector<std::string>& env = {}) {
    return MustRun(NativeArgv(payload, args), {.env = env});
  }

  RunResult RunKm(absl::string_view payload, const std::vector<std::string>& args,
                  const std::vector<std::string>& env = {}) {
    return MustRun(KmArgv(payload, args), {.env = env});
  }

  // Runs the payload both ways; expects identical stdout and exit status. Returns the km run.
  RunResult ExpectSameAsNative(absl::string_view payload, const std::vector<std::string>& args,
                               const std::vector<std::string>& env = {}) {
    RunResult native = RunNative(payload, args, env);
    RunResult km = RunKm(payload, args, env);
    EXPECT_FALSE(native.timed_out) << "native " << payload << ": " << Describe(native);
    EXPECT_FALSE(km.timed_out) << "km " << payload << ": " << Describe(km);
    EXPECT_EQ(km.out, native.out) << "stdout of " << payload << " differs; km run: "
                                  << Describe(km);
    EXPECT_EQ(km.status, native.status) << "exit status of " << payload << " differs; km run: "
                                        << Describe(km);
    return km;
  }

  // A payload that dies by signal: km must exit 128 + signo like the native run and print one
  // stderr line naming the signal; for CPU faults also the native rip (which lies in the
  // payload's text) and the native si_addr as the fault address.
  void ExpectFaultLikeNative(const std::string& variant, int signo, const std::string& signame,
                             bool cpu_fault) {
    RunResult native = RunNative("fault", {variant});
    ASSERT_EQ(native.status, 128 + signo) << "native fault " << variant << ": "
                                          << Describe(native);
    RunResult km = RunKm("fault", {variant});
    EXPECT_EQ(km.status, native.status) << Describe(km);
    EXPECT_EQ(km.out, native.out) << Describe(km);
    EXPECT_EQ(LineCount(km.err), 1) << "want one stderr line: " << Describe(km);
    EXPECT_THAT(km.err, HasSubstr(absl::StrCat("km: payload terminated by ", signame)));
    if (!cpu_fault) return;

    absl::StatusOr<NativeFault> where = TraceFirstSignal(NativeArgv("fault", {variant}));
    ASSERT_TRUE(where.ok()) << where.status();
    ASSERT_EQ(where->signo, signo);
    std::smatch match;
    ASSERT_TRUE(std::regex_search(km.err, match, std::regex("at rip (0x[0-9a-fA-F]+)")))
        << "no rip in km's report: " << km.err;
    uint64_t rip = strtoull(match[1].str().c_str(), nullptr, 16);
    EXPECT_EQ(rip, where->rip) << std::hex << "km says rip 0x" << rip
                               << ", natively the fault is at 0x" << where->rip;
    absl::StatusOr<std::vector<AddressRange>> text = ExecutableSegments(PayloadPath("fault"));
    ASSERT_TRUE(text.ok()) << text.status();
    bool in_text = false;
    for (const AddressRange& range : *text) in_text |= range.Contains(rip);
    EXPECT_TRUE(in_text) << std::hex << "rip 0x" << rip << " is outside the payload's text";
    // si_addr: the data address for SIGSEGV (0 here), the instruction for SIGFPE and SIGILL.
    ASSERT_TRUE(std::regex_search(km.err, match, std::regex("fault address (0x[0-9a-fA-F]+)")))
        << "no fault address in km's report: " << km.err;
    EXPECT_EQ(strtoull(match[1].str().c_str(), nullptr, 16), where->address) << km.err;
  }
};

TEST_P(KmE2eTest, HelloNoArguments) { ExpectSameAsNative("hello", {}); }

TEST_P(KmE2eTest, HelloArgumentsAndExitStatus) {
  RunResult km = ExpectSameAsNative("hello", {"7", "two words", "", "three"});
  EXPECT_EQ(km.status, 7);
}

TEST_P(KmE2eTest, HelloExitStatusWrapsLikeLinux) {
  ExpectSameAsNative("hello", {"255"});
  ExpectSameAsNative("hello", {"300"});  // 300 & 0xff
}

TEST_P(KmE2eTest, HelloManyArguments) {
  std::vector<std::string> args = {"0"};
  for (int i = 0; i < 200; i++) args.push_back(absl::StrCat("arg-", i, std::string(i, 'x')));
  ExpectSameAsNative("hello", args);
}

TEST_P(KmE2eTest, HelloSeesEnvironment) {
  RunResult km = ExpectSameAsNative("hello", {"3"}, {"KM_TEST_VAR=hello world", "OTHER=1"});
  EXPECT_THAT(km.out, HasSubstr("KM_TEST_VAR=hello world\n"));
}

TEST_P(KmE2eTest, StaticPieHello) {
  ExpectSameAsNative("hello_pie", {"5", "pie"}, {"KM_TEST_VAR=pie"});
}

TEST_P(KmE2eTest, ThreadsFiveTimes) {
  for (int i = 0; i < 5; i++) {
    SCOPED_TRACE(absl::StrCat("run ", i + 1, " of 5"));
    RunResult km = ExpectSameAsNative("threads", {});
    EXPECT_EQ(km.status, 0);
  }
}

TEST_P(KmE2eTest, Compute) {
  // Small: tcg runs -O0 loops about 85 times slower than native.
  RunResult km = ExpectSameAsNative("compute", {"200000"});
  EXPECT_THAT(km.out, HasSubstr("checksum="));
}

TEST_P(KmE2eTest, ComputeOptimized) { ExpectSameAsNative("compute_o2", {"2000000"}); }

TEST_P(KmE2eTest, FileIo) {
  RunResult native = RunNative("fileio", {MakeDir("fileio_native")});
  ASSERT_EQ(native.status, 0) << Describe(native);
  RunResult km = RunKm("fileio", {MakeDir(absl::StrCat("fileio_", GetParam()))});
  EXPECT_EQ(km.out, native.out) << Describe(km);
  EXPECT_EQ(km.status, 0) << Describe(km);
}

TEST_P(KmE2eTest, SocketsAndWaitingLikeNative) {
  RunResult km = ExpectSameAsNative("net", {MakeDir(absl::StrCat("net_", GetParam()))});
  EXPECT_EQ(km.status, 0) << Describe(km);
  // The comparison with the native run checks each line; these make sure the payload got that
  // far and say what each behaviour is.
  EXPECT_THAT(km.out, HasSubstr("rights=1 cloexec=1 read=16 \"through the pipe\""));
  EXPECT_THAT(km.out, HasSubstr("client got 5 \"world\" unnamed=1 peer=km_net.sock"));
  EXPECT_THAT(km.out, HasSubstr("readable=1 client got 4 \"pong\"; eof=0"));
  EXPECT_THAT(km.out, HasSubstr("select: 0, timed out with the set cleared: 1"));
  EXPECT_THAT(km.out, HasSubstr("timerfd: armed=1 read 8 expirations=1 disarmed=1"));
  EXPECT_THAT(km.out, HasSubstr("ppoll, let through: -1 EINTR hits=1 blocked_in_handler=1"));
  EXPECT_THAT(km.out, HasSubstr("send on a closed socket: -1 EPIPE sigpipe=1"));
  EXPECT_THAT(km.out, HasSubstr("poll, handler without SA_RESTART: -1 EINTR handler_ran=1"));
  EXPECT_THAT(km.out, HasSubstr("then 5 \"after\" handler_ran=1"));
  EXPECT_THAT(km.out, HasSubstr("\n0 failures\n"));
}

// File metadata, copies and locks in a directory of its own, then the process's own state. The
// payload checks each result against Linux's answer and prints relations, never host values.
TEST_P(KmE2eTest, FileMetadataAndProcessState) {
  RunResult native = RunNative("fsmeta", {MakeDir("fsmeta_native")});
  ASSERT_EQ(native.status, 0) << Describe(native);
  EXPECT_THAT(native.out, HasSubstr("\n0 unexpected results\n"));
  RunResult km = RunKm("fsmeta", {MakeDir(absl::StrCat("fsmeta_", GetParam()))});
  EXPECT_EQ(km.out, native.out) << Describe(km);
  EXPECT_EQ(km.status, native.status) << Describe(km);
  EXPECT_THAT(km.err, IsEmpty());
}

TEST_P(KmE2eTest, BadPointersGetEfault) {
  RunResult km = ExpectSameAsNative("badptr", {});
  EXPECT_EQ(km.status, 0) << Describe(km);
  EXPECT_THAT(km.out, HasSubstr("\n0 unexpected results\n"));
}

TEST_P(KmE2eTest, FaultSegv) { ExpectFaultLikeNative("segv", SIGSEGV, "SIGSEGV", true); }
TEST_P(KmE2eTest, FaultFpe) { ExpectFaultLikeNative("fpe", SIGFPE, "SIGFPE", true); }
TEST_P(KmE2eTest, FaultIll) { ExpectFaultLikeNative("ill", SIGILL, "SIGILL", true); }
TEST_P(KmE2eTest, FaultAbort) { ExpectFaultLikeNative("abort", SIGABRT, "SIGABRT", false); }

TEST_P(KmE2eTest, SignalHandlersRunAsOnLinux) {
  RunResult km = ExpectSameAsNative("signals", {});
  EXPECT_EQ(km.status, 0) << Describe(km);
  // Each line is one behaviour; the comparison with the native run is what checks them, these
  // make sure the payload got that far.
  EXPECT_THAT(km.out, HasSubstr("raise: hits=1 code=SI_TKILL pid_is_self=1"));
  EXPECT_THAT(km.out, HasSubstr("segv again: escaped with 11 hits=2"));
  EXPECT_THAT(km.out, HasSubstr("sigsuspend: rc=-1 eintr=1 handler_ran=1 mask_back=1"));
  EXPECT_THAT(km.out, HasSubstr("other thread: hits=4 in_worker=1"));
}

TEST_P(KmE2eTest, SigreturnWithoutAFrameIsASegfault) {
  RunResult km = ExpectSameAsNative("signals", {"bad-sigreturn"});
  EXPECT_EQ(km.status, 128 + SIGSEGV) << Describe(km);
  EXPECT_THAT(km.err, HasSubstr("km: payload terminated by SIGSEGV"));
}

TEST_P(KmE2eTest, AbortAfterHandledSignalsEndsLikeNative) {
  RunResult km = ExpectSameAsNative("signals", {"abort"});
  EXPECT_EQ(km.status, 128 + SIGABRT) << Describe(km);
  EXPECT_THAT(km.err, HasSubstr("km: payload terminated by SIGABRT"));
}

TEST_P(KmE2eTest, SignalsCutBlockedSyscallsShortAndTimersFire) {
  RunResult km = ExpectSameAsNative("interrupts", {});
  EXPECT_EQ(km.status, 0) << Describe(km);
  EXPECT_THAT(km.out, HasSubstr("read without SA_RESTART: failed with EINTR"));
  EXPECT_THAT(km.out, HasSubstr("read with SA_RESTART: returned 5 \"hello\""));
  EXPECT_THAT(km.out, HasSubstr("nanosleep: failed with EINTR, time left at most 30 s"));
  EXPECT_THAT(km.out, HasSubstr("sem_wait without SA_RESTART: failed with EINTR"));
  EXPECT_THAT(km.out, HasSubstr("handled by the other thread"));
  EXPECT_THAT(km.out, HasSubstr("sigqueue: si_code SI_QUEUE, si_value 99"));
  EXPECT_THAT(km.out, HasSubstr("the signal thread's sigwait got SIGHUP"));
  EXPECT_THAT(km.out, HasSubstr("ppoll unblocking a pending signal: failed with EINTR, handled 1"));
  EXPECT_THAT(km.out, HasSubstr("epoll_wait after sigqueue: 1, data 7"));
  EXPECT_THAT(km.out, HasSubstr("a blocking signalfd read: returned 128, signal SIGUSR1"));
  EXPECT_THAT(km.out, HasSubstr("read until the alarm: failed with EINTR, SIGALRM handled 1"));
  EXPECT_THAT(km.out, HasSubstr("between 8 and 10 s left; si_value 42, si_code SI_TIMER"));
  EXPECT_THAT(km.out, HasSubstr("SIGEV_THREAD timer ran its function with 7"));
}

TEST_P(KmE2eTest, BrokenPipeRaisesSigpipe) {
  RunResult km = ExpectSameAsNative("interrupts", {"sigpipe"});
  EXPECT_EQ(km.status, 128 + SIGPIPE) << Describe(km);
  EXPECT_THAT(km.out,
              HasSubstr("write with a SIGPIPE handler: failed with Broken pipe, handled 1"));
}

// The debug socket is a door into the VM from outside: the payload, whose connections are
// km's own, must not come in through it and debug itself.
TEST_P(KmE2eTest, ThePayloadCannotUseItsOwnDebugSocket) {
  char dir[] = "/tmp/km-e2e-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string socket = absl::StrCat(dir, "/km.sock");
  RunResult km = MustRun({KmPath(), absl::StrCat("--accel=", GetParam()),
                          absl::StrCat("--debug-socket=", socket), PayloadPath("dial"), socket});
  unlink(socket.c_str());
  rmdir(dir);
  EXPECT_EQ(km.status, 0) << Describe(km);
  EXPECT_EQ(km.out, "the other end closed after 0 bytes\n") << Describe(km);
  EXPECT_THAT(km.err, HasSubstr("refused a connection from the payload itself")) << Describe(km);
}

// Starts the payload, waits for its "ready", then sends each signal to it again and again
// until its output shows `seen` (or, for the last, until it exits). What it printed and how it
// ended, for comparing a native run with a km run.
RunResult SignalFromOutside(const std::vector<std::string>& argv, const std::string& dir,
                            const std::vector<std::pair<int, std::string>>& steps) {
  absl::StatusOr<Child> child = Child::Start(argv, {}, dir + "/out", dir + "/err");
  if (!child.ok()) {
    ADD_FAILURE() << child.status();
    return {};
  }
  auto wait_for = [&](const std::string& text, int signo) {
    for (int i = 0; i < 400 && !absl::StrContains(child->Out(), text); i++) {
      if (signo != 0) kill(child->pid(), signo);
      if (child->Wait(absl::Milliseconds(50)) >= 0) return;
    }
  };
  wait_for("ready\n", 0);
  for (const auto& [signo, seen] : steps) wait_for(seen, signo);
  RunResult result;
  result.status = child->Wait(absl::Seconds(30));
  result.timed_out = result.status < 0;
  result.out = child->Out();
  result.err = child->Err();
  return result;
}

TEST_P(KmE2eTest, SignalsSentToKmReachThePayload) {
  const std::vector<std::pair<int, std::string>> steps = {
      {SIGTERM, "SIGTERM cut a read short\n"}, {SIGINT, "SIGINT handled\n"}};
  RunResult native = SignalFromOutside(NativeArgv("interrupts", {"wait"}),
                                       MakeDir("host_signals_native"), steps);
  RunResult km = SignalFromOutside(KmArgv("interrupts", {"wait"}),
                                   MakeDir(absl::StrCat("host_signals_", GetParam())), steps);
  EXPECT_EQ(native.status, 0) << Describe(native);
  EXPECT_EQ(km.status, 0) << Describe(km);
  EXPECT_EQ(km.out, native.out) << Describe(km);
  EXPECT_THAT(km.out, HasSubstr("SIGINT handled"));
}

TEST_P(KmE2eTest, SignalSentToKmWithNoHandlerEndsThePayloadAsNatively) {
  // SIGQUIT has no handler in the payload: its default action ends it, natively and in km.
  const std::vector<std::pair<int, std::string>> steps = {{SIGQUIT, "never printed"}};
  RunResult native = SignalFromOutside(NativeArgv("interrupts", {"wait"}),
                                       MakeDir("host_quit_native"), steps);
  RunResult km = SignalFromOutside(KmArgv("interrupts", {"wait"}),
                                   MakeDir(absl::StrCat("host_quit_", GetParam())), steps);
  EXPECT_EQ(native.status, 128 + SIGQUIT) << Describe(native);
  EXPECT_EQ(km.status, 128 + SIGQUIT) << Describe(km);
  EXPECT_EQ(km.out, native.out) << Describe(km);
  EXPECT_THAT(km.err, HasSubstr("km: payload terminated by SIGQUIT"));
}

// fork, wait, posix_spawn, vfork and execve; the kvm engine cannot fork yet (EngineCaps::fork).
class KmProcessesTest : public KmE2eTest {
 protected:
  void SetUp() override {
    KmE2eTest::SetUp();
    if (GetParam() == "kvm") GTEST_SKIP() << "kvm: skipped: the kvm engine cannot fork yet";
  }
};

TEST_P(KmProcessesTest, ForkWaitSpawnAndExecveLikeNative) {
  RunResult km = ExpectSameAsNative("spawn", {PayloadPath("hello")});
  EXPECT_THAT(km.out, HasSubstr("fork: read 22 \"child sees 2, is not 0\"; reaped the child: 1; "
                                "exited 1 with 7; parent still sees 1\n"));
  EXPECT_THAT(km.out, HasSubstr("wait: reaped 5 children, statuses summing to 60, then ECHILD"));
  EXPECT_THAT(km.out, HasSubstr("kill: the child ended by signal 15\n"));
  EXPECT_THAT(km.out, HasSubstr("fault: the child ended by signal 11\n"));
  EXPECT_THAT(km.out, HasSubstr("exec of a faulting program: the child ended by signal 11\n"));
  EXPECT_THAT(km.out, HasSubstr("argv[2]=spawned\nKM_TEST_VAR=from spawn\nand exited 1 with 4"));
  EXPECT_THAT(km.out, HasSubstr("vfork: exec of a missing program: child exited 1 with 127"));
  // Each child's km said why its payload died.
  EXPECT_THAT(km.err, HasSubstr("km: payload terminated by SIGSEGV"));
  // The program execve replaced it with: its argv[0] as given, its own environment, its status.
  EXPECT_THAT(km.out, EndsWith("argv[2]=replaced\nKM_TEST_VAR=through execve\n"));
  EXPECT_EQ(km.status, 9);
}

TEST_P(KmProcessesTest, ScriptsRunThroughTheirInterpreterLikeNative) {
  const std::string script = absl::StrCat(MakeDir("scripts"), "/hello-script");
  {
    std::ofstream out(script);
    out << "#!" << PayloadPath("hello") << "  5 \nnot read\n";
  }
  ASSERT_EQ(chmod(script.c_str(), 0755), 0);
  RunResult km = ExpectSameAsNative("spawn", {script});
  // Linux's binfmt_script: interpreter, its one argument, the script, then the arguments.
  EXPECT_THAT(km.out, HasSubstr(absl::StrCat("argc=5\nargv[1]=5\nargv[2]=", script,
                                             "\nargv[3]=4\nargv[4]=spawned\n")));
  EXPECT_EQ(km.status, 5);
}

TEST_P(KmProcessesTest, AProgramKmCannotRunFailsInThePayloadWithEnoexec) {
  // Dynamically linked on any Debian machine: km must never run it outside the VM.
  RunResult km = RunKm("spawn", {"/bin/true"});
  EXPECT_FALSE(km.timed_out) << Describe(km);
  EXPECT_THAT(km.out, HasSubstr("posix_spawn: Exec format error\n"));
  EXPECT_THAT(km.out, EndsWith("execve: Exec format error\n"));
  EXPECT_EQ(km.status, 1) << Describe(km);
  EXPECT_THAT(km.err, HasSubstr("km: execve: /bin/true: dynamically linked payloads are not "
                                "supported"));
}

INSTANTIATE_TEST_SUITE_P(Engines, KmProcessesTest, ::testing::Values("kvm", "tcg"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

INSTANTIATE_TEST_SUITE_P(Engines, KmE2eTest, ::testing::Values("kvm", "tcg"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

// Command-line and payload errors: km must refuse cleanly, whatever the engine.

void ExpectRefused(const RunResult& km, const std::string& names) {
  EXPECT_FALSE(km.timed_out) << Describe(km);
  EXPECT_EQ(km.status, 1) << Describe(km);
  EXPECT_THAT(km.out, IsEmpty());
  EXPECT_THAT(km.err, HasSubstr(names)) << "the message should name " << names;
  EXPECT_LE(LineCount(km.err), 2) << "want a short message: " << km.err;
}

TEST(KmCliTest, KvmMissingExitsOneNamingDevKvm) {
  struct stat st;
  RunResult km;
  if (stat("/dev/kvm", &st) != 0) {
    km = MustRun({KmPath(), "--accel=kvm", PayloadPath("hello")});
  } else {
    if (geteuid() != 0) GTEST_SKIP() << "/dev/kvm exists and hiding it needs root";
    // A private mount namespace where /dev/kvm is /dev/null: km's KVM set-up must fail.
    km = MustRun({"/usr/bin/unshare", "-m", "/bin/sh", "-c",
                  "mount --bind /dev/null /dev/kvm && exec \"$0\" \"$@\"", KmPath(),
                  "--accel=kvm", PayloadPath("hello")});
    if (absl::StrContains(km.err, "unshare:") || absl::StrContains(km.err, "mount:")) {
      GTEST_SKIP() << "cannot hide /dev/kvm: " << km.err;
    }
  }
  EXPECT_EQ(km.status, 1) << Describe(km);
  EXPECT_THAT(km.out, IsEmpty());
  EXPECT_EQ(LineCount(km.err), 1) << Describe(km);
  EXPECT_THAT(km.err, HasSubstr("/dev/kvm"));
}

TEST(KmCliTest, MissingPayload) {
  std::string path = absl::StrCat(TmpDir(), "/no_such_payload");
  ExpectRefused(MustRun({KmPath(), "--accel=tcg", path}), path);
}

TEST(KmCliTest, DirectoryAsPayload) {
  std::string path = MakeDir("a_directory");
  ExpectRefused(MustRun({KmPath(), "--accel=tcg", path}), path);
}

TEST(KmCliTest, EmptyFile) {
  std::string path = absl::StrCat(TmpDir(), "/empty");
  std::ofstream(path).close();
  ExpectRefused(MustRun({KmPath(), "--accel=tcg", path}), path);
}

TEST(KmCliTest, NotElf) {
  std::string path = absl::StrCat(TmpDir(), "/not_elf.sh");
  std::ofstream(path) << "#!/bin/sh\necho this is a shell script, not an ELF file\n";
  chmod(path.c_str(), 0755);
  ExpectRefused(MustRun({KmPath(), "--accel=tcg", path}), path);
}

TEST(KmCliTest, TruncatedElf) {
  // The ELF header survives, the program headers it points at do not.
  std::ifstream in(PayloadPath("hello"), std::ios::binary);
  std::string head(100, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  std::string path = absl::StrCat(TmpDir(), "/truncated_elf");
  std::ofstream(path, std::ios::binary) << head;
  ExpectRefused(MustRun({KmPath(), "--accel=tcg", path}), path);
}

TEST(KmCliTest, DynamicBinary) {
  const std::string path = "/bin/true";
  RunResult km = MustRun({KmPath(), "--accel=tcg", path});
  ExpectRefused(km, path);
  std::string err = absl::AsciiStrToLower(km.err);
  EXPECT_TRUE(absl::StrContains(err, "interp") || absl::StrContains(err, "dynamic"))
      << "the message should say the binary is dynamically linked: " << km.err;
}

}  // namespace
}  // namespace km_test
