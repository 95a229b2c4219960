#include "agent/launcher/km_launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace agent {
namespace {

// Every km this agent has launched and not reaped, readable from a signal handler: a slot is
// live while its pid is nonzero, and its paths are written before the pid.
struct Slot {
  std::atomic<pid_t> pid{0};
  char socket[128];
  char dir[128];
};
constexpr int kSlots = 64;
Slot g_launched[kSlots];

Slot* Claim(pid_t pid, const std::string& dir, const std::string& socket) {
  for (Slot& slot : g_launched) {
    if (slot.pid.load() != 0) continue;
    snprintf(slot.socket, sizeof slot.socket, "%s", socket.c_str());
    snprintf(slot.dir, sizeof slot.dir, "%s", dir.c_str());
    slot.pid.store(pid);
    return &slot;
  }
  return nullptr;
}

void Release(pid_t pid) {
  for (Slot& slot : g_launched) {
    pid_t expected = pid;
    slot.pid.compare_exchange_strong(expected, 0);
  }
}

void KillAllAndDie(int sig) {
  for (Slot& slot : g_launched) {
    const pid_t pid = slot.pid.exchange(0);
    if (pid <= 0) continue;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    unlink(slot.socket);
    rmdir(slot.dir);
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

int ExitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

bool IsExecutable(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// A unix socket path must fit in 108 bytes: the directory stays short, under /tmp.
constexpr char kDirTemplate[] = "/tmp/km-gdb-agent-XXXXXX";
constexpr absl::Duration kSocketTimeout = absl::Seconds(30);

}  // namespace

absl::StatusOr<std::unique_ptr<LaunchedKm>> LaunchedKm::Start(const KmCommand& command) {
  if (command.argv.empty()) return absl::InvalidArgumentError("no program to run");
  char dir[sizeof kDirTemplate];
  memcpy(dir, kDirTemplate, sizeof dir);
  if (mkdtemp(dir) == nullptr) return absl::InternalError(absl::StrCat("mkdtemp: ", strerror(errno)));
  const std::string socket = absl::StrCat(dir, "/km.sock");

  std::vector<std::string> argv = {command.km};
  if (!command.accel.empty()) argv.push_back(absl::StrCat("--accel=", command.accel));
  argv.insert(argv.end(), {"--debug-socket", socket, "--debug-wait", "--"});
  argv.insert(argv.end(), command.argv.begin(), command.argv.end());
  std::vector<std::string> env = command.env;
  std::vector<char*> c_argv = CStrings(argv);
  std::vector<char*> c_env = CStrings(env);

  // The child reports a failed exec through this pipe; a successful exec closes it.
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    rmdir(dir);
    return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  }
  const pid_t parent = getpid();
  // Only async-signal-safe calls in the child: gRPC's threads run in the agent.
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the agent died before the line above
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);  // the agent ignores it; an ignored signal stays ignored across exec
    if (command.keep_off_stdio) {
      const int null = open("/dev/null", O_RDONLY);
      if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
        _exit(127);
      }
    }
    execve(c_argv[0], c_argv.data(), c_env.data());
    const int err = errno;
    (void)!write(report[1], &err, sizeof err);
    _exit(127);
  }
  close(report[1]);
  if (pid < 0) {
    close(report[0]);
    rmdir(dir);
    return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  }
  std::unique_ptr<LaunchedKm> km(new LaunchedKm(pid, dir));
  Claim(pid, km->dir_, km->socket_);
  int exec_errno = 0;
  ssize_t n;
  while ((n = read(report[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {
  }
  close(report[0]);
  if (n == sizeof exec_errno) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot run km (", command.km, "): ", strerror(exec_errno)));
  }
  const absl::Time deadline = absl::Now() + kSocketTimeout;
  struct stat st;
  while (stat(km->socket_.c_str(), &st) != 0) {
    if (std::optional<int> status = km->Poll()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "km exited with status ", *status, " before opening its debug socket (running ",
          absl::StrJoin(command.argv, " "), ")"));
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("km (pid ", pid, ") did not open ", km->socket_));
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  return km;
}

LaunchedKm::~LaunchedKm() {
  if (status_) return;
  kill(pid_, SIGKILL);
  int wait_status = 0;
  while (waitpid(pid_, &wait_status, 0) < 0 && errno == EINTR) {
  }
  Reaped(wait_status);
}

void LaunchedKm::Reaped(int wait_status) {
  status_ = ExitStatus(wait_status);
  Release(pid_);
  unlink(socket_.c_str());
  rmdir(dir_.c_str());
}

std::optional<int> LaunchedKm::Poll() {
  if (status_) return status_;
  int wait_status = 0;
  const pid_t r = waitpid(pid_, &wait_status, WNOHANG);
  if (r == pid_) Reaped(wait_status);
  return status_;
}

int LaunchedKm::WaitOrKill(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!Poll() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  if (!status_) {
    kill(pid_, SIGKILL);
    int wait_status = 0;
    while (waitpid(pid_, &wait_status, 0) < 0 && errno == EINTR) {
    }
    Reaped(wait_status);
  }
  return *status_;
}

absl::StatusOr<std::string> FindKm(const std::string& given) {
  if (!given.empty()) {
    if (IsExecutable(given)) return given;
    return absl::NotFoundError(absl::StrCat("--km ", given, ": not an executable file"));
  }
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    const std::string dir = std::string(self).substr(0, std::string(self).rfind('/'));
    for (const std::string& candidate : {dir + "/km", dir + "/../km/km"}) {
      if (IsExecutable(candidate)) return candidate;
    }
  }
  const char* path = getenv("PATH");
  for (absl::string_view entry : absl::StrSplit(path != nullptr ? path : "", ':', absl::SkipEmpty())) {
    const std::string candidate = absl::StrCat(entry, "/km");
    if (IsExecutable(candidate)) return candidate;
  }
  return absl::NotFoundError("cannot find km next to km-gdb-agent or on PATH; pass --km PATH");
}

void KillLaunchedKmOnTermination() {
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) {
    struct sigaction action = {};
    action.sa_handler = KillAllAndDie;
    sigemptyset(&action.sa_mask);
    sigaction(sig, &action, nullptr);
  }
}

}  // namespace agent
