#include "tests/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace km_test {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

absl::StatusOr<Child> Child::Start(const std::vector<std::string>& argv,
                                   const std::vector<std::string>& env,
                                   const std::string& out_path, const std::string& err_path) {
  std::vector<char*> child_argv = CStrings(argv);
  std::vector<char*> child_env = CStrings(env);
  const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0 || err < 0) return absl::InternalError(absl::StrCat("open ", out_path, ": ", strerror(errno)));
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  if (pid == 0) {
    const int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(126);
    execve(child_argv[0], child_argv.data(), child_env.data());
    _exit(127);
  }
  close(out);
  close(err);
  return Child(pid, out_path, err_path);
}

Child::~Child() {
  if (pid_ > 0 && status_ < 0) {
    Kill();
    Wait(absl::Seconds(5));
  }
}

int Child::Wait(absl::Duration timeout) {
  if (status_ >= 0) return status_;
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int ws = 0;
    const pid_t done = waitpid(pid_, &ws, WNOHANG);
    if (done == pid_) {
      status_ = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
      return status_;
    }
    if (absl::Now() >= deadline) return -1;
    absl::SleepFor(absl::Milliseconds(5));
  }
}

void Child::Kill() {
  if (pid_ > 0 && status_ < 0) kill(pid_, SIGKILL);
}

std::string Child::Out() const { return ReadFile(out_path_); }
std::string Child::Err() const { return ReadFile(err_path_); }

}  // namespace km_test
