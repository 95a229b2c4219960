// km: runs a static x86-64 Linux ELF payload in its own VM and exits with its status.
//   km [--accel=auto|kvm|tcg] [--memory=SIZE] [--core-pattern=PATTERN] PAYLOAD [ARGS...]
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "km/layout.h"
#include "km/runtime/command_line.h"
#include "km/runtime/exec_inheritance.h"
#include "km/runtime/flag_types.h"
#include "km/runtime/host_exit.h"
#include "km/runtime/host_signals.h"
#include "km/runtime/process.h"
#include "km_hooks/debug_server.h"
#include "km_hooks/debugger_output.h"
#include "km_hooks/late_attach.h"

ABSL_FLAG(km::Accel, accel, km::Accel::kAuto,
          "how to run guest code: kvm (/dev/kvm), tcg (software CPU), or auto (kvm if /dev/kvm "
          "opens, else tcg)");
ABSL_FLAG(km::MemorySize, memory, km::MemorySize{km::kDefaultMemorySize},
          "guest memory size, e.g. 512M or 2G");
ABSL_FLAG(std::string, core_pattern, "core",
          "where a payload killed by a signal that dumps core (SIGSEGV, SIGABRT...) gets its core "
          "file, if its RLIMIT_CORE (ulimit -c) allows one: %p pid, %e payload name, %t time, %% "
          "a percent sign; empty: never");
ABSL_FLAG(std::string, debug_socket, "",
          "serve the km.debug.v1 debug service on this unix socket (mode 0600)");
ABSL_FLAG(absl::Duration, debug_session_grace, km_hooks::kDefaultSessionGrace,
          "a debug session that has not opened its Events stream this long after Attach may be "
          "taken over by the next client's Attach");
ABSL_FLAG(bool, debug_wait, false,
          "with --debug-socket: hold the payload before its first instruction until a debug "
          "client resumes it");

ABSL_FLAG(std::string, argv0, "", "the payload's argv[0], if not PAYLOAD (as `exec -a`)");
ABSL_FLAG(bool, die_by_signal, false,
          "a payload killed by a signal ends km by that signal instead of exit status 128+signo "
          "(km sets it for the km a payload's child execs, whose parent waits for it)");
// Set by km's execve for the km that runs the next program (km/syscalls/sys_exec.cc).
ABSL_FLAG(std::string, inherited_fds, "",
          "descriptors the payload had open across its execve, comma-separated");
ABSL_FLAG(uint64_t, inherited_sigmask, 0, "the signal mask the payload had at its execve");
ABSL_FLAG(uint64_t, inherited_sigign, 0, "the signals the payload ignored at its execve");

extern char** environ;

namespace {

constexpr char kUsage[] = "km [flags] PAYLOAD [ARGS...]: runs a static x86-64 Linux ELF";

void PrintLine(const std::string& line) {
  std::fprintf(stderr, "%s%s\n", absl::StartsWith(line, "km:") ? "" : "km: ", line.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  // A payload's fork copies km with only the forking thread: absl's deadlock graph, behind a
  // lock any thread may hold at that moment, must stay out of every Mutex operation.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  km_hooks::BlockLateAttachSignal();
  km_hooks::KeepDebuggerOutput();
  km::BlockForwardedSignals();
  absl::SetProgramUsageMessage(kUsage);
  km::SplitArgs split = km::SplitCommandLine(argc, argv);
  absl::ParseCommandLine(static_cast<int>(split.km_args.size()), split.km_args.data());
  if (split.payload_argv.empty()) {
    std::fprintf(stderr, "usage: %s\n", kUsage);
    return 2;
  }

  km::ProcessOptions options;
  options.payload = split.payload_argv[0];
  options.argv = split.payload_argv;
  if (!absl::GetFlag(FLAGS_argv0).empty()) options.argv[0] = absl::GetFlag(FLAGS_argv0);
  for (char** env = environ; *env != nullptr; env++) options.envp.emplace_back(*env);
  options.accel = absl::GetFlag(FLAGS_accel);
  options.memory_size = absl::GetFlag(FLAGS_memory).bytes;

  std::string notice;
  absl::StatusOr<std::unique_ptr<km::Process>> process = km::Process::Create(options, &notice);
  if (!notice.empty()) PrintLine(notice);
  if (!process.ok()) {
    PrintLine(std::string(process.status().message()));
    return 1;
  }
  // Threads may be blocked in host syscalls when the payload ends: km leaves without joining
  // them or destroying the Process they use.
  km::Process* running = process->release();
  running->set_die_by_signal(absl::GetFlag(FLAGS_die_by_signal));
  running->set_exit_handler([running](const km::ExitInfo& info) {
    std::fflush(nullptr);
    km_hooks::ShutDownAtExit();
    km::LeaveHost(info, running->die_by_signal());
  });
  running->set_core_pattern(absl::GetFlag(FLAGS_core_pattern));
  km::InheritAcrossExec(*running, absl::GetFlag(FLAGS_inherited_fds),
                        absl::GetFlag(FLAGS_inherited_sigmask),
                        absl::GetFlag(FLAGS_inherited_sigign));
  km::ForwardHostSignals(*running);

  const std::string socket = absl::GetFlag(FLAGS_debug_socket);
  if (socket.empty()) {
    if (absl::GetFlag(FLAGS_debug_wait)) {
      PrintLine("--debug-wait needs --debug-socket");
      return 2;
    }
    // SIGUSR1 opens the debug socket later (a debugger attaching to a running km).
    km_hooks::EnableLateAttach(*running);
  } else {
    auto server = km_hooks::DebugServer::Start(*running, socket, absl::GetFlag(FLAGS_debug_wait),
                                               absl::GetFlag(FLAGS_debug_session_grace));
    if (!server.ok()) {
      PrintLine(std::string(server.status().message()));
      return 1;
    }
    // Lives as long as km: the exit handler _exits without tearing anything down.
    server->release();
  }
  // Linux names a process after its program; the payload's threads inherit the name from the
  // host thread that runs its main thread (km's own threads, made above, keep "km").
  prctl(PR_SET_NAME, running->name().c_str());
  return running->Run();
}
