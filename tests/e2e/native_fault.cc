#include "tests/e2e/native_fault.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace km_test {
namespace {

// Waits for pid to change state, giving up at the deadline.
absl::StatusOr<int> WaitUntil(pid_t pid, absl::Time deadline) {
  while (true) {
    int status = 0;
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) return status;
    if (done < 0 && errno != EINTR) {
      return absl::InternalError(absl::StrCat("waitpid ", pid, ": ", strerror(errno)));
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("pid ", pid, " got no signal in time"));
    }
    absl::SleepFor(absl::Milliseconds(1));
  }
}

absl::StatusOr<NativeFault> Trace(pid_t pid, const std::string& path, absl::Time deadline) {
  absl::StatusOr<int> status = WaitUntil(pid, deadline);
  if (!status.ok()) return status.status();
  if (!WIFSTOPPED(*status)) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": did not stop at exec (status ",
                                                      *status, "; execve failed?)"));
  }
  ptrace(PTRACE_SETOPTIONS, pid, nullptr, PTRACE_O_EXITKILL);
  int deliver = 0;
  while (true) {
    if (ptrace(PTRACE_CONT, pid, nullptr, deliver) != 0) {
      return absl::InternalError(absl::StrCat("PTRACE_CONT ", path, ": ", strerror(errno)));
    }
    status = WaitUntil(pid, deadline);
    if (!status.ok()) return status.status();
    if (WIFEXITED(*status) || WIFSIGNALED(*status)) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, ": ended without a signal stop (wait status ", *status, ")"));
    }
    int signo = WSTOPSIG(*status);
    if (signo == SIGTRAP) {
      deliver = 0;
      continue;
    }
    user_regs_struct regs;
    siginfo_t info;
    if (ptrace(PTRACE_GETREGS, pid, nullptr, &regs) != 0 ||
        ptrace(PTRACE_GETSIGINFO, pid, nullptr, &info) != 0) {
      return absl::InternalError(absl::StrCat("ptrace GETREGS/GETSIGINFO ", path, ": ",
                                              strerror(errno)));
    }
    return NativeFault{.signo = signo,
                       .rip = regs.rip,
                       .address = reinterpret_cast<uint64_t>(info.si_addr)};
  }
}

}  // namespace

absl::StatusOr<NativeFault> TraceFirstSignal(const std::vector<std::string>& argv,
                                             absl::Duration timeout) {
  if (argv.empty()) return absl::InvalidArgumentError("TraceFirstSignal: empty argv");
  std::vector<char*> child_argv;
  for (const std::string& arg : argv) child_argv.push_back(const_cast<char*>(arg.c_str()));
  child_argv.push_back(nullptr);
  char* empty_env[] = {nullptr};

  pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  if (pid == 0) {
    int null_fd = open("/dev/null", O_RDWR);
    if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(null_fd, 1) < 0 || dup2(null_fd, 2) < 0 ||
        ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) != 0) {
      _exit(126);
    }
    execve(child_argv[0], child_argv.data(), empty_env);
    _exit(127);
  }
  absl::StatusOr<NativeFault> fault = Trace(pid, argv[0], absl::Now() + timeout);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return fault;
}

}  // namespace km_test
