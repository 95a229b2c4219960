#include "tests/engines.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace km_test {
namespace {

EngineInfo ProbeKvm() {
  EngineInfo info{.name = "kvm"};
  int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    info.skip_reason = absl::StrCat("kvm: skipped: /dev/kvm: ", strerror(errno));
    return info;
  }
  close(fd);
  info.available = true;
  return info;
}

// Owns a file descriptor so that every early return closes it.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  void Reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

struct Pipe {
  Fd read_end;
  Fd write_end;
};

absl::Status OpenPipe(Pipe& pipe) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", strerror(errno)));
  }
  pipe.read_end.Reset(fds[0]);
  pipe.write_end.Reset(fds[1]);
  return absl::OkStatus();
}

std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// Reads whatever is ready on fd into sink; returns false at end of file.
bool Drain(int fd, std::string& sink) {
  char buf[4096];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n > 0) {
    sink.append(buf, static_cast<size_t>(n));
    return true;
  }
  return n < 0 && errno == EINTR;
}

int StatusOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

}  // namespace

std::vector<EngineInfo> AllEngines() {
  return {ProbeKvm(), EngineInfo{.name = "tcg", .available = true}};
}

EngineInfo FindEngine(absl::string_view name) {
  for (EngineInfo& engine : AllEngines()) {
    if (engine.name == name) return engine;
  }
  return EngineInfo{.name = std::string(name),
                    .skip_reason = absl::StrCat(name, ": skipped: km has no such engine")};
}

std::string HostThreadsOf(pid_t pid) {
  RunOptions options{
      .env = {"PATH=/usr/bin:/bin"}, .timeout = absl::Seconds(60), .dump_on_timeout = false};
  absl::StatusOr<RunResult> gdb = Run({"/usr/bin/gdb", "-nx", "-batch", "-p", absl::StrCat(pid),
                                       "-ex", "info threads", "-ex", "thread apply all bt"},
                                      options);
  if (!gdb.ok()) return absl::StrCat("gdb could not be run: ", gdb.status().message());
  return absl::StrCat(gdb->out, gdb->err);
}

absl::StatusOr<RunResult> Run(const std::vector<std::string>& argv, const RunOptions& options) {
  if (argv.empty()) return absl::InvalidArgumentError("Run: empty argv");
  Pipe out, err;
  if (absl::Status s = OpenPipe(out); !s.ok()) return s;
  if (absl::Status s = OpenPipe(err); !s.ok()) return s;
  // Built before fork: the child of a threaded process may only make async-signal-safe calls.
  std::vector<char*> child_argv = CStrings(argv);
  std::vector<char*> child_env = CStrings(options.env);

  pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  if (pid == 0) {
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(out.write_end.get(), 1) < 0 ||
        dup2(err.write_end.get(), 2) < 0) {
      _exit(126);
    }
    execve(child_argv[0], child_argv.data(), child_env.data());
    static const char kExecFailed[] = "engines.cc: execve failed\n";
    (void)!write(2, kExecFailed, sizeof kExecFailed - 1);
    _exit(127);
  }
  out.write_end.Reset();
  err.write_end.Reset();

  RunResult result;
  const absl::Time deadline = absl::Now() + options.timeout;
  auto expire = [&] {
    result.timed_out = true;
    if (options.dump_on_timeout) result.hang_dump = HostThreadsOf(pid);
    kill(pid, SIGKILL);
  };
  bool out_open = true, err_open = true;
  while (out_open || err_open) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      expire();
      break;
    }
    pollfd fds[2] = {{out_open ? out.read_end.get() : -1, POLLIN, 0},
                     {err_open ? err.read_end.get() : -1, POLLIN, 0}};
    int ready = poll(fds, 2, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready < 0 && errno != EINTR) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      return absl::InternalError(absl::StrCat("poll: ", strerror(errno)));
    }
    if (ready <= 0) continue;
    if (out_open && fds[0].revents != 0) out_open = Drain(out.read_end.get(), result.out);
    if (err_open && fds[1].revents != 0) err_open = Drain(err.read_end.get(), result.err);
  }

  // Both pipes are closed once the child exits, unless something it started still holds them;
  // the deadline covers waiting for the exit itself as well.
  int wait_status = 0;
  while (true) {
    pid_t done = waitpid(pid, &wait_status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) {
      return absl::InternalError(absl::StrCat("waitpid: ", strerror(errno)));
    }
    if (!result.timed_out && absl::Now() >= deadline) expire();
    absl::SleepFor(absl::Milliseconds(2));
  }
  result.status = StatusOf(wait_status);
  return result;
}

std::string Describe(const RunResult& result) {
  std::string text =
      absl::StrFormat("status %d%s\n--- stdout ---\n%s--- stderr ---\n%s", result.status,
                      result.timed_out ? " (TIMED OUT, killed)" : "", result.out, result.err);
  if (result.timed_out) {
    absl::StrAppend(&text, "--- host threads at the deadline ---\n", result.hang_dump);
  }
  return text;
}

std::string Runfile(absl::string_view path) {
  const char* srcdir = getenv("TEST_SRCDIR");
  return absl::StrCat(srcdir != nullptr ? srcdir : ".", "/km_debug/", path);
}

}  // namespace km_test
